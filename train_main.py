"""Trains the instance-aware colorizer.

    python train_main.py --config=smoke                       # minutes, no network
    python train_main.py --config=cpu --model_dir=runs/cpu    # ~1 hour on 2 CPU cores
    python train_main.py --config=paper --dataset=voc/2012 --data_dir=~/tfds --strategy=mirrored

A preset (--config) sets defaults; any flag given on the command line overrides it. Every
flag is validated before data is read or a model is built. Re-running the same command
resumes from the last checkpoint in --model_dir.
"""

import dataclasses

from absl import app, flags

from colorization.core import cli, config_flags

FLAGS = flags.FLAGS


def define_flags():
    # One flag per ModelConfig/TrainConfig field, generated from the dataclasses (type,
    # default, help from their docstrings, choices), plus --config and --epochs.
    config_flags.define_config_flags()
    flags.DEFINE_integer(
        "epochs", 0, "If > 0, train this many passes over the training set instead of --steps."
    )


def config_from_flags():
    """One validated TrainConfig from the flags, its files checked; ValueError otherwise."""
    train_config = config_flags.config_from_flags()
    train_config.check_files()
    return train_config


def _with_epochs(train_config, epochs):
    """Turns --epochs into steps once the training set's size is known."""
    from data_prep import sources

    if epochs <= 0:
        return train_config
    size = sources.load_train_source(train_config).num_examples
    if not size:
        raise cli.CommandError(
            f"--epochs needs a data set of known size; {train_config.dataset!r} has none."
        )
    steps = max(1, epochs * size // train_config.batch_size)
    steps = -(-steps // train_config.checkpoint_every) * train_config.checkpoint_every
    return dataclasses.replace(train_config, steps=steps)


def main(argv):
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    if FLAGS.epochs < 0:
        raise app.UsageError(f"--epochs must be >= 0. Received: --epochs={FLAGS.epochs}")
    if FLAGS.epochs and FLAGS["steps"].present:
        raise app.UsageError(
            f"--epochs={FLAGS.epochs} and --steps={FLAGS.steps} both set the run's length. "
            "Expected one of them."
        )
    # Every flag is validated (and the files it names checked) before any work starts.
    try:
        train_config = config_from_flags()
    except ValueError as e:
        raise cli.CommandError(str(e)) from None
    # A run is always a preset plus changes: without one, the dataclass defaults would train
    # the full 224-px network on scikit-image's six photos.
    if FLAGS.config is None:
        raise app.UsageError(
            "--config is required. Expected one of "
            f"{', '.join(config_flags.PRESETS)} (python train_main.py --config=smoke)."
        )
    # TensorFlow is imported only now, so a bad flag fails in a fraction of a second.
    from colorization.core.config import ResumeError
    from colorization.model.imagenet_weights import PretrainedError
    from colorization.training import trainer as training
    from data_prep.source_types import SourceError

    try:
        train_config = _with_epochs(train_config, FLAGS.epochs)
    except ValueError as e:  # a data set that cannot be read, or steps the config refuses
        raise cli.CommandError(str(e)) from None
    try:
        training.train(train_config)
    except (SourceError, PretrainedError, ResumeError) as e:
        raise cli.CommandError(str(e)) from None
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags)
