"""Trains the instance-aware colorizer.

    python train_main.py --config=smoke                       # minutes, no network
    python train_main.py --config=cpu --model_dir=runs/cpu    # ~1 hour on 2 CPU cores
    python train_main.py --config=paper --dataset=voc/2012 --data_dir=~/tfds --strategy=mirrored

A preset (--config) sets defaults; any flag given on the command line overrides it. Every
flag is validated before data is read or a model is built. Re-running the same command
resumes from the last checkpoint in --model_dir.
"""

import dataclasses
import sys

from absl import app, flags

from colorization.config import BACKBONES, PRESETS

FLAGS = flags.FLAGS
flags.DEFINE_enum("config", None, list(PRESETS), "Preset whose values become the defaults.")
flags.DEFINE_string(
    "dataset",
    "skimage",
    "Training data: a TFDS name (voc/2012), voc_dir:PATH, folder:PATH or skimage.",
)
flags.DEFINE_string("val_dataset", "", "Evaluation data; empty = the --val_split of --dataset.")
flags.DEFINE_string("train_split", "train", "Training split.")
flags.DEFINE_string("val_split", "val", "Evaluation split (TFDS VOC calls it 'validation').")
flags.DEFINE_string("data_dir", None, "TFDS data directory.")
flags.DEFINE_string("model_dir", "runs/default", "Output directory; rerun to resume.")
flags.DEFINE_integer("image_size", 224, "Input side S (multiple of 8).")
flags.DEFINE_float("width_multiplier", 1.0, "Channel width multiplier (1.0 = paper).")
flags.DEFINE_string("fc_units", "1024,512,256", "Widths of fc1,fc2,fc3.")
flags.DEFINE_integer("num_classes", 20, "Classes of the class head.")
flags.DEFINE_integer("batch_size", 32, "Global batch size.")
flags.DEFINE_integer("steps", 1000, "Total training steps.")
flags.DEFINE_integer(
    "epochs", 0, "If > 0, train this many passes over the training set instead of --steps."
)
flags.DEFINE_float("learning_rate", 3e-5, "Peak Adam learning rate.")
flags.DEFINE_enum(
    "schedule", "cosine", ["constant", "cosine"], "Learning-rate schedule after warm-up."
)
flags.DEFINE_integer("warmup_steps", 0, "Linear warm-up steps.")
flags.DEFINE_float("beta_1", 0.9, "Adam beta_1.")
flags.DEFINE_float("beta_2", 0.99, "Adam beta_2.")
flags.DEFINE_float("weight_decay", 0.0, "Decoupled weight decay.")
flags.DEFINE_float(
    "class_loss_weight", 0.003, "Weight of the class loss (colour loss weight is 1)."
)
flags.DEFINE_enum(
    "class_loss",
    "softmax",
    ["softmax", "sigmoid"],
    "Dominant-label softmax or multi-label sigmoid.",
)
flags.DEFINE_enum("encoding", "soft", ["soft", "hard"], "Colour targets.")
flags.DEFINE_integer("num_neighbors", 5, "Bins per pixel for soft targets.")
flags.DEFINE_string(
    "priors", "", "Priors .npz; empty = compute on the training set, save in model_dir."
)
flags.DEFINE_float("mix_lambda", 0.5, "Uniform mixing lambda when computing priors.")
flags.DEFINE_bool("class_branch", True, "Use the classification branch.")
flags.DEFINE_bool("fusion", True, "Fuse fc3 into the colour path.")
flags.DEFINE_enum(
    "dtype_policy", "float32", ["float32", "mixed_float16", "mixed_bfloat16"], "Precision policy."
)
flags.DEFINE_enum(
    "strategy", "default", ["default", "mirrored", "multi_worker", "tpu"], "tf.distribute strategy."
)
flags.DEFINE_string("tpu", "", "TPU address for --strategy=tpu.")
flags.DEFINE_integer("seed", 0, "Random seed.")
flags.DEFINE_integer("checkpoint_every", 100, "Steps between checkpoints.")
flags.DEFINE_integer("eval_every", 500, "Steps between evaluations (multiple of checkpoint_every).")
flags.DEFINE_integer("eval_examples", 256, "Validation images per evaluation (0 = all).")
flags.DEFINE_float("temperature", 0.38, "Annealed-mean temperature for evaluation.")
flags.DEFINE_bool("cache", False, "Cache decoded training images in memory.")
flags.DEFINE_float("min_crop_area", 0.25, "Smallest area fraction of a random crop.")
flags.DEFINE_string(
    "init_from",
    "",
    "Warm start: .keras or .weights.h5 (loaded by layer name); for --backbone=mobilenet_v2 "
    "also mobilenet_v2:PATH.tflite (an ImageNet MobileNetV2 TFLite classifier, offline) or "
    "imagenet (keras.applications, needs a network).",
)
flags.DEFINE_enum(
    "backbone",
    "vgg16",
    list(BACKBONES),
    "Shared trunk: the paper's VGG16 layout, or ImageNet MobileNetV2 (width 1.0).",
)
flags.DEFINE_bool("freeze_backbone", False, "Keep the MobileNetV2 trunk's weights fixed.")
flags.DEFINE_integer("keep_checkpoints", 3, "How many checkpoints to keep in model_dir.")
flags.DEFINE_enum(
    "jit_compile",
    "auto",
    ["auto", "true", "false"],
    "XLA for the training step. Keras's auto leaves it off for TensorFlow on CPU; true "
    "trained the cpu preset's step 27% faster on 2 cores (benchmarks.train_step).",
)


def _value(name):
    """The flag's value: the command line beats the preset, the preset beats the default."""
    if FLAGS[name].present or not FLAGS.config:
        return FLAGS[name].value
    return PRESETS[FLAGS.config].get(name, FLAGS[name].value)


def _fc_units(text):
    try:
        units = tuple(int(u) for u in text.split(","))
    except ValueError:
        units = ()
    if len(units) != 3 or min(units) < 1:
        raise ValueError(
            f"--fc_units must be three positive integers like 1024,512,256. Received: {text!r}"
        )
    return units


def config_from_flags():
    """One validated TrainConfig from the flags; raises ValueError naming the bad value."""
    from colorization.config import ModelConfig, TrainConfig

    model = ModelConfig(
        image_size=_value("image_size"),
        width_multiplier=_value("width_multiplier"),
        num_classes=_value("num_classes"),
        fc_units=_fc_units(_value("fc_units")),
        use_class_branch=_value("class_branch"),
        use_fusion=_value("fusion") and _value("class_branch"),
        class_loss=_value("class_loss"),
        dtype_policy=_value("dtype_policy"),
        backbone=_value("backbone"),
        freeze_backbone=_value("freeze_backbone"),
    )
    # Every TrainConfig field has a flag of the same name, except priors_path (--priors).
    renamed = {"priors_path": "priors"}
    values = {
        field.name: _value(renamed.get(field.name, field.name))
        for field in dataclasses.fields(TrainConfig)
        if field.name != "model"
    }
    config = TrainConfig(model=model, **values)
    config.check_files()
    return config


def _with_epochs(config):
    """Turns --epochs into steps once the training set's size is known."""
    from data_prep import sources

    epochs = _value("epochs")
    if epochs <= 0:
        return config
    size = sources.load_source(
        config.dataset, config.train_split, config.data_dir, seed=config.seed
    ).num_examples
    if not size:
        raise ValueError(f"--epochs needs a data set of known size; {config.dataset!r} has none.")
    steps = max(1, epochs * size // config.batch_size)
    steps = -(-steps // config.checkpoint_every) * config.checkpoint_every
    return dataclasses.replace(config, steps=steps)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    try:
        config = config_from_flags()
    except ValueError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    from colorization import training
    from colorization.imagenet_weights import PretrainedError
    from data_prep.sources import SourceError

    try:
        config = _with_epochs(config)
        training.train(config)
    except (SourceError, PretrainedError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    app.run(main)
