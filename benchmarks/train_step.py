"""Training examples/s of model configurations on synthetic batches (no input pipeline).

    python -m benchmarks.train_step --sizes=96,128 --widths=0.25,0.375 --batch_size=16

Prints a Markdown table and writes JSON (--output). Used to choose the `cpu` preset.
"""

import json

import keras
import numpy as np
from absl import flags

from benchmarks.timing import timed
from colorization.core import cli
from colorization.core.config import ModelConfig
from colorization.core.config_flags import parse_fc_units
from colorization.model import losses
from colorization.model.network import build_model, count_flops

FLAGS = flags.FLAGS


def define_flags():
    # Defined only when run as a script: other benchmarks import measure() with flags of
    # their own.
    flags.DEFINE_string("sizes", "96,128", "Image sizes.")
    flags.DEFINE_string("widths", "0.25,0.375", "Width multipliers.")
    flags.DEFINE_list("fc_units", ["256", "128", "64"], "fc1,fc2,fc3 widths.")
    flags.DEFINE_integer("batch_size", 16, "Batch size.")
    flags.DEFINE_integer("steps", 8, "Timed steps per configuration (after 2 warm-up steps).")
    flags.DEFINE_enum(
        "jit_compile",
        "auto",
        ["auto", "true", "false"],
        "XLA for the train step (Keras default: auto).",
    )
    flags.DEFINE_string("output", "", "JSON output path.")
    flags.DEFINE_enum("backbone", "vgg16", ["vgg16", "mobilenet_v2"], "Shared trunk.")
    flags.DEFINE_string(
        "freeze_backbone", "false", "Comma-separated true/false values to measure (mobilenet_v2)."
    )
    flags.DEFINE_string(
        "dtype_policies", "float32", "Comma-separated precision policies to measure."
    )


def measure(
    size,
    width,
    fc_units,
    batch_size,
    steps,
    repeats=3,
    jit_compile="auto",
    backbone="vgg16",
    freeze_backbone=False,
    dtype_policy="float32",
):
    """Median and spread of training examples/s over `repeats` timed runs.

    jit_compile: passed to model.compile; Keras's "auto" compiles with XLA whenever every
    layer supports it, as ours do, on CPU too.
    """
    config = ModelConfig(
        image_size=size,
        width_multiplier=width,
        fc_units=fc_units,
        backbone=backbone,
        freeze_backbone=freeze_backbone,
        dtype_policy=dtype_policy,
    )
    model = build_model(config)
    loss, weights, _ = losses.build_losses(config, 5, 0.01)
    model.compile(
        keras.optimizers.Adam(1e-3), loss=loss, loss_weights=weights, jit_compile=jit_compile
    )
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 100, (batch_size, size, size, 1)).astype(np.float32)
    h = size // 4
    y = {
        "color_logits": np.concatenate(
            [
                rng.integers(0, 313, (batch_size, h, h, 5)).astype(np.float32),
                np.full((batch_size, h, h, 5), 0.2, np.float32),
                np.ones((batch_size, h, h, 1), np.float32),
            ],
            -1,
        ),
        "class_logits": rng.integers(0, 20, batch_size),
    }

    def run_steps():
        for _ in range(steps):
            model.train_on_batch(x, y)

    # Two warm-up steps: the first builds and traces the step, the second settles it.
    model.train_on_batch(x, y)
    model.train_on_batch(x, y)
    seconds, (low, high) = timed(run_steps, repeats, warmup=0)
    return {
        "image_size": size,
        "width_multiplier": width,
        "parameters": int(model.count_params()),
        "gflops_per_image": count_flops(model) / 1e9,
        "jit_compile": bool(model.jit_compile),
        "backbone": backbone,
        "freeze_backbone": freeze_backbone,
        "dtype_policy": dtype_policy,
        "train_examples_per_s": steps * batch_size / seconds,
        "spread": [steps * batch_size / high, steps * batch_size / low],
    }


def main(argv):
    del argv
    try:
        fc_units = parse_fc_units(FLAGS.fc_units)
    except ValueError as e:
        raise cli.CommandError(str(e)) from None
    rows = []
    print(
        "| backbone | frozen | dtype | size | width | params | GFLOPs/img | train img/s "
        "(median) | min-max |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    jit = {"auto": "auto", "true": True, "false": False}[FLAGS.jit_compile]
    for size in (int(s) for s in FLAGS.sizes.split(",")):
        for width in (float(w) for w in FLAGS.widths.split(",")):
            for frozen in FLAGS.freeze_backbone.split(","):
                for policy in FLAGS.dtype_policies.split(","):
                    row = measure(
                        size,
                        width,
                        fc_units,
                        FLAGS.batch_size,
                        FLAGS.steps,
                        jit_compile=jit,
                        backbone=FLAGS.backbone,
                        freeze_backbone=frozen.strip() == "true",
                        dtype_policy=policy.strip(),
                    )
                    rows.append(row)
                    print(
                        f"| {FLAGS.backbone} | {row['freeze_backbone']} | {policy} | {size} | "
                        f"{width} | {row['parameters']:,} | {row['gflops_per_image']:.3f} | "
                        f"{row['train_examples_per_s']:.1f} | {row['spread'][0]:.1f}-"
                        f"{row['spread'][1]:.1f} |",
                        flush=True,
                    )
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            json.dump({"batch_size": FLAGS.batch_size, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    cli.run(main, define_flags)
