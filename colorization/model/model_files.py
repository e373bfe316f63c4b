"""Model files: what a training run leaves in its model directory, and loading it back.

A model directory holds everything needed to resume, evaluate or export with no flag
repeated:
    config.json           the TrainConfig (with its ModelConfig)
    priors.npz            the bin priors the colour loss was weighted with
    checkpoints/          tf.train checkpoints (model + optimizer + step), every N steps
    model.keras           the final model
    logs/                 TensorBoard: losses, learning rate, class accuracy, colour metrics,
                          image grids (grey | prediction | truth)
    samples.png           the last evaluation's image grid
    summary.json          flags, steps, final metrics, wall time

`load_model_dir` reads any of: a model directory (model.keras, else its latest
checkpoint), a checkpoint prefix inside one, or a bare .keras file. `warm_start` copies
weights from a .keras or .weights.h5 file into a model by layer name.
"""

import json
import os
import re

import keras
import tensorflow as tf

from colorization.core.config import TrainConfig
from colorization.model.network import build_model

CONFIG_FILE = "config.json"
MODEL_FILE = "model.keras"
CHECKPOINT_DIR = "checkpoints"


def exists(path):
    """True for anything `load_model_dir` or `inference.Colorizer` may read: an existing file
    or folder, or a checkpoint prefix (MODEL_DIR/checkpoints/ckpt-N, whose PATH.index
    exists)."""
    return tf.io.gfile.exists(path) or tf.io.gfile.exists(path + ".index")


def write_config(model_dir, config):
    """Writes the TrainConfig as model_dir/config.json."""
    with tf.io.gfile.GFile(os.path.join(model_dir, CONFIG_FILE), "w") as f:
        json.dump(config.to_dict(), f, indent=2)


def nearest_config_path(path):
    """The config.json recorded with a model: its model directory's, or the nearest folder's
    above a model file (model.keras, model.tflite, or an exported SavedModel at
    EXPORT_DIR/NAME/VERSION, whose EXPORT_DIR holds one); None when there is none."""
    folder = os.path.normpath(path)
    for _ in range(4):
        candidate = os.path.join(folder, CONFIG_FILE)
        if tf.io.gfile.exists(candidate):
            return candidate
        folder = os.path.dirname(folder)
    return None


def nearest_config(path):
    """The TrainConfig of `nearest_config_path(path)`, None when there is none. Exports
    carry their model's temperature and class names this way."""
    found = nearest_config_path(path)
    return None if found is None else read_config(os.path.dirname(found))


def weights_path(path):
    """Where `load_model_dir` reads a model's weights: a .keras file as it is, a model_dir's
    model.keras (or its latest checkpoint prefix before training ends), a checkpoint prefix
    as it is. ValueError for a model_dir that holds neither."""
    if path.endswith(".keras") or not tf.io.gfile.isdir(path):
        return path
    final = os.path.join(path, MODEL_FILE)
    if tf.io.gfile.exists(final):
        return final
    latest = tf.train.latest_checkpoint(os.path.join(path, CHECKPOINT_DIR))
    if latest is None:
        raise ValueError(f"{path!r} holds neither model.keras nor a checkpoint.")
    return latest


def class_names(path):
    """The class names recorded with a model (`nearest_config`); None when there is none."""
    config = nearest_config(path)
    return None if config is None else list(config.model.class_names)


def read_config(model_dir):
    """The TrainConfig of a model directory (files it names are not checked: a trained model
    stays loadable after the data it was trained from has moved)."""
    with tf.io.gfile.GFile(os.path.join(model_dir, CONFIG_FILE)) as f:
        return TrainConfig.from_dict(json.load(f))


def _snake_case(name):
    """Keras' key for a class name in weight files: Conv2DTranspose -> conv2d_transpose."""
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def _weight_file_keys(model):
    """{layer name: key} as Keras names layers inside a .weights.h5 file (class name plus a
    per-class counter, in model.layers order)."""
    counters, keys = {}, {}
    for layer in model.layers:
        base = _snake_case(type(layer).__name__)
        count = counters.get(base, -1) + 1
        counters[base] = count
        keys[layer.name] = base if count == 0 else f"{base}_{count}"
    return keys


def _arrays_from_weights_file(path, model):
    """{layer name: [arrays]} of a .weights.h5 whose layout equals `model`'s; else ValueError.

    Such a file stores layers by class-name counters, not by name, so it can only be mapped
    onto a model of the same architecture.
    """
    import h5py

    found = {}
    keys = _weight_file_keys(model)
    with h5py.File(path, "r") as f:
        group = f.get("layers")
        for layer in model.layers:
            if not layer.weights:
                continue
            key = keys[layer.name]
            variables = group.get(f"{key}/vars") if group is not None else None
            arrays = (
                [variables[str(i)][()] for i in range(len(variables))]
                if variables is not None
                else []
            )
            if [a.shape for a in arrays] != [tuple(w.shape) for w in layer.weights]:
                raise ValueError(
                    f"{path} is a .weights.h5 file, which holds no layer names, and its layout "
                    f"differs from this model's at layer {layer.name!r}. Warm-start a model with "
                    "a different head from a .keras file, which is matched by layer name."
                )
            found[layer.name] = arrays
    return found


def warm_start(model, path):
    """Loads weights into `model` by layer name where names and shapes match.

    A .keras file is matched by layer name (any head); a .weights.h5 file only onto the same
    architecture (it holds no names).

    Returns:
      (loaded layer names, {layer name: reason it was not loaded}).
    """
    if path.endswith(".keras"):
        source = keras.saving.load_model(path, compile=False)
        arrays = {layer.name: layer.get_weights() for layer in source.layers if layer.weights}
    else:
        arrays = _arrays_from_weights_file(path, model)
    loaded, skipped = [], {}
    for layer in model.layers:
        if not layer.weights:
            continue
        values = arrays.get(layer.name)
        if values is None:
            skipped[layer.name] = "not in source"
            continue
        shapes = [tuple(w.shape) for w in layer.weights]
        if [v.shape for v in values] != shapes:
            skipped[layer.name] = f"shape {[v.shape for v in values]} != {shapes}"
            continue
        layer.set_weights(values)
        loaded.append(layer.name)
    return loaded, skipped


def load_model_dir(path):
    """(model, TrainConfig or None) from a training model_dir, a .keras file or a checkpoint."""
    if path.endswith(".keras"):
        return keras.saving.load_model(path, compile=False), None
    if tf.io.gfile.isdir(path):
        config = read_config(path)
        path = weights_path(path)
        if path.endswith(".keras"):
            return keras.saving.load_model(path, compile=False), config
    # A checkpoint prefix inside a model_dir/checkpoints folder.
    model_dir = os.path.dirname(os.path.dirname(path))
    if not tf.io.gfile.exists(os.path.join(model_dir, CONFIG_FILE)):
        raise ValueError(
            f"{path!r} is not a .keras file, a model directory or a checkpoint prefix inside "
            f"one (MODEL_DIR/{CHECKPOINT_DIR}/ckpt-N; no {CONFIG_FILE} in {model_dir!r})."
        )
    config = read_config(model_dir)
    model = build_model(config.model)
    tf.train.Checkpoint(model=model).restore(path).expect_partial()
    return model, config
