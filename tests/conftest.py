"""Shared test setup: quiet TensorFlow logs and fixed seeds."""

import os
import tempfile

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("KERAS_BACKEND", "tensorflow")
# Under pytest-xdist, each worker is one of several processes sharing the machine's cores:
# TensorFlow's operation pools in each (and in the commands a test starts, which inherit the
# environment) take the worker's share of the cores rather than all of them, so that the
# workers do not preempt one another's threads.
if os.environ.get("PYTEST_XDIST_WORKER_COUNT"):
    _share = (os.cpu_count() or 1) // int(os.environ["PYTEST_XDIST_WORKER_COUNT"])
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", str(max(_share, 1)))

import pytest  # noqa: E402

from tests import helpers  # noqa: E402


@pytest.fixture(scope="session", autouse=True)
def temporary_files_in_the_test_folder(tmp_path_factory):
    """Everything the code under test writes through `tempfile` (TensorFlow's SavedModel
    artifacts, AutoGraph's generated modules, the demo's uploads), in this process and in the
    commands it starts, lands in pytest's own temporary folder and goes with it: a passing run
    leaves nothing behind (`tmp_path_retention_policy` in pyproject.toml)."""
    folder = str(tmp_path_factory.mktemp("tempfile"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TMPDIR", folder)
        patch.setattr(tempfile, "tempdir", folder)
        yield folder


TINY_MODEL_FLAGS = dict(image_size=32, width_multiplier=0.125, fc_units=(16, 16, 8))


def tiny_train_config(dataset, model_dir, **overrides):
    """A TrainConfig for a tiny model that trains in seconds."""
    from colorization.core.config import ModelConfig, TrainConfig

    values = dict(
        model=ModelConfig(**TINY_MODEL_FLAGS),
        dataset=dataset,
        model_dir=str(model_dir),
        batch_size=4,
        steps=6,
        learning_rate=1e-3,
        checkpoint_every=3,
        eval_every=3,
        eval_examples=4,
        # Not the default 0.38, so that a path that forgets the model's own temperature
        # shows up in the comparisons between formats.
        temperature=0.15,
    )
    values.update(overrides)
    return TrainConfig(**values)


@pytest.fixture(scope="session")
def generated_voc(tmp_path_factory):
    """A generated VOCdevkit with 12 labelled photos (9 train, 3 val)."""
    return helpers.small_vocdevkit(tmp_path_factory.mktemp("voc") / "VOC2012")


@pytest.fixture(scope="session")
def tiny_model_dir(generated_voc, tmp_path_factory):
    """A model directory trained for 6 steps on the generated VOCdevkit."""
    from colorization.training import trainer as training

    return helpers.built_once(
        tmp_path_factory,
        "tiny_run",
        lambda folder: training.train(tiny_train_config(f"voc_dir:{generated_voc}", folder)),
    )


@pytest.fixture(scope="session")
def model_dir(tmp_path_factory):
    """A model directory as training writes it (config.json, model.keras, priors.npz) for
    the tiny network, built but not trained: for tests of loading, colouring and
    evaluating that need no training (the quick loop, `-m "not slow"`, trains nothing)."""
    import keras

    from colorization.model import model_files
    from colorization.model.network import build_model
    from data_prep import priors

    folder = tmp_path_factory.mktemp("untrained")
    config = tiny_train_config("voc_dir:unused", folder)
    keras.utils.set_random_seed(0)
    build_model(config.model).save(folder / model_files.MODEL_FILE)
    model_files.write_config(str(folder), config)
    priors.uniform_priors().save(str(folder / "priors.npz"))
    return folder


@pytest.fixture(scope="session")
def hint_model_dir(tmp_path_factory):
    """An untrained tiny model directory with hints whose hint layers are set at random
    (zero-initialised hint layers would ignore every hint)."""
    import dataclasses

    import keras
    import numpy as np

    from colorization.model import model_files
    from colorization.model.network import build_model
    from data_prep import priors

    folder = tmp_path_factory.mktemp("hinted")
    config = tiny_train_config("voc_dir:unused", folder)
    config = dataclasses.replace(config, model=dataclasses.replace(config.model, hints=True))
    keras.utils.set_random_seed(0)
    model = build_model(config.model)
    for layer in model.layers:
        if layer.name.endswith("_hints"):
            layer.set_weights(
                [np.random.default_rng(5).normal(0, 3, w.shape) for w in layer.get_weights()]
            )
    model.save(folder / model_files.MODEL_FILE)
    model_files.write_config(str(folder), config)
    priors.uniform_priors().save(str(folder / "priors.npz"))
    return folder


@pytest.fixture(scope="session")
def mobilenet_tflite(tmp_path_factory):
    """(path, float Keras model) of a width-1.0 MobileNetV2 classifier at 64 x 64 with random
    (recalibrated) weights, as a dynamic-range quantized TFLite file: the colorizer's trunk
    shape, made by the TFLite converter as the ImageNet files were."""
    return helpers.shared_mobilenet_v2_tflite(
        tmp_path_factory, "mobilenet_v2_test", alpha=1.0, size=64, full_integer=False
    )
