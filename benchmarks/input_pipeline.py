"""Examples/s of the training input pipeline, next to the training rate that consumes it.

    python -m benchmarks.input_pipeline --data_root=data --dataset=voc_dir:voc2012_animals

For each (image size, preset): the pipeline's examples/s (decode, random crop, Lab, soft
targets, batching; first epoch from JPEG, then from the in-memory cache) and the training
examples/s of the model preset at that size, measured on synthetic batches. The pipeline
must deliver at least 3x what training consumes. Prints a Markdown table; writes JSON.
"""

import json
import platform
import time

import numpy as np
import tensorflow as tf
from absl import flags

from benchmarks import run, train_step
from colorization.core import cli
from data_prep import pipeline, sources

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("dataset", "voc_dir:voc2012_animals", "Source spec.")
    cli.define_data_root_flag()
    flags.DEFINE_integer("batches", 30, "Timed batches per measurement (after 3 warm-up batches).")
    flags.DEFINE_string("output", "benchmarks/input_pipeline.json", "JSON output.")


def pipeline_rate(source, image_size, batch_size, batches, cache):
    config = pipeline.PipelineConfig(image_size=image_size, batch_size=batch_size, cache=cache)
    iterator = iter(pipeline.build_dataset(source, config))
    for _ in range(3):
        next(iterator)
    start = time.perf_counter()
    for _ in range(batches):
        next(iterator)
    return batches * batch_size / (time.perf_counter() - start)


def main(argv):
    del argv
    source = sources.load_source(FLAGS.dataset, "train", data_root=FLAGS.data_root)
    rows = []
    print(f"{source.summary()}\n")
    print(
        "| S | preset | pipeline img/s (from JPEG) | pipeline img/s (cached) | training img/s | ratio (JPEG / training) |"
    )
    print("|---|---|---|---|---|---|")
    for preset in ("cpu_scratch", "paper"):
        size, width, fc_units, batch = run.preset_model(preset)
        from_jpeg = pipeline_rate(source, size, 32, FLAGS.batches, cache=False)
        cached = pipeline_rate(source, size, 32, FLAGS.batches, cache=True)
        steps = 5 if preset == "cpu_scratch" else 2
        trained = train_step.measure(size, width, fc_units, batch, steps, repeats=2)
        row = {
            "image_size": size,
            "preset": preset,
            "pipeline_examples_per_s": from_jpeg,
            "cached_pipeline_examples_per_s": cached,
            "train_examples_per_s": trained["train_examples_per_s"],
            "ratio": from_jpeg / trained["train_examples_per_s"],
        }
        rows.append(row)
        print(
            f"| {size} | {preset} | {from_jpeg:.0f} | {cached:.0f} | {row['train_examples_per_s']:.1f} | "
            f"{row['ratio']:.1f}x |",
            flush=True,
        )
    result = {
        "dataset": FLAGS.dataset,
        "cpu": platform.processor() or platform.machine(),
        "cpu_count": len(tf.config.list_physical_devices("CPU")),
        "tensorflow": tf.__version__,
        "numpy": np.__version__,
        "rows": rows,
    }
    with open(FLAGS.output, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\nWrote {FLAGS.output}")


if __name__ == "__main__":
    cli.run(main, define_flags)
