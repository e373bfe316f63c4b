"""Rebuilds a model trained by benchmarks.gpu_train from its float16 weight shards.

    python -m benchmarks.gpu_weights --run_dir=DIR_WITH_METRICS_AND_SHARDS --output=runs/gpu/model.keras

The model's layout comes from the run's metrics.json (built here in float32); the result is a
`.keras` file that colorization.evaluate, colorization.colorize, export and
`train_main.py --init_from` take like any other.
"""

import json
import os

from absl import flags

from colorization import cli

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("run_dir", None, "Folder with metrics.json and weights-K-of-N.npz.")
    flags.DEFINE_string("output", None, "Output .keras file.")
    flags.mark_flags_as_required(["run_dir", "output"])
    flags.register_validator("output", lambda v: v.endswith(".keras"), "must end with .keras")


def rebuild(run_dir):
    """The float32 Keras model of a gpu_train run, with its weights."""
    from benchmarks import gpu_train
    from colorization.config import ModelConfig
    from colorization.model import build_model

    path = os.path.join(run_dir, "metrics.json")
    try:
        with open(path) as f:
            values = json.load(f)["model"]
    except (OSError, KeyError, ValueError) as e:
        raise ValueError(f"Cannot read the model layout from {path!r}: {e}") from e
    values.update(dtype_policy="float32", sync_batch_norm=False)
    model = build_model(ModelConfig.from_dict(values))
    gpu_train.read_weight_shards(model, run_dir)
    return model


def main(argv):
    del argv
    try:
        model = rebuild(FLAGS.run_dir)
    except ValueError as e:
        raise cli.CommandError(str(e)) from None
    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
    model.save(FLAGS.output)
    print(f"Wrote {FLAGS.output} ({model.count_params():,} parameters)")


if __name__ == "__main__":
    cli.run(main, define_flags)
