"""The benchmark suite behind the README's performance section.

    python -m benchmarks.run [--presets=smoke,cpu,paper] [--output=benchmarks/results.json]

Measures on whatever machine runs it:
  1. the machine's float32 peak: GFLOP/s of a large tf.matmul and of a large 3x3 conv;
  2. per preset: parameters, FLOPs/image, training examples/s, fraction of the conv peak;
  3. inference at batch 1 (latency) and batch 8 (throughput) for Keras, the SavedModel and
     each TFLite variant with 1 and 2 threads (XNNPACK), with the fraction of peak.
Every timing is repeated; the median and the min-max spread are reported. Models have
random weights: speed does not depend on them. Library versions, CPU and thread settings go
into the JSON.
"""

import json
import os
import platform
import statistics
import tempfile
import time

import keras
import numpy as np
import tensorflow as tf
from absl import app, flags

from benchmarks import train_step
from colorization.config import PRESETS, ModelConfig
from colorization.model import build_model, count_flops

FLAGS = flags.FLAGS
flags.DEFINE_list("presets", ["smoke", "cpu", "paper"], "Presets to measure.")
flags.DEFINE_list("inference_presets", ["cpu", "paper"], "Presets whose inference is measured.")
flags.DEFINE_integer("repeats", 5, "Timed repeats per measurement.")
flags.DEFINE_string("output", "benchmarks/results.json", "JSON output.")


def preset_model(name):
    """(image size, width, fc units, batch) of a train_main preset. The paper preset is timed
    at batch 4: its batch of 32 does not fit a CPU benchmark."""
    preset = PRESETS[name]
    fc_units = tuple(int(u) for u in preset["fc_units"].split(","))
    batch = 4 if name == "paper" else preset["batch_size"]
    return preset["image_size"], preset["width_multiplier"], fc_units, batch


def timed(fn, repeats, warmup=1):
    """Median and (min, max) of `repeats` timings of fn() in seconds."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), (min(times), max(times))


def machine_peak(repeats):
    """GFLOP/s of a 2048^3 matmul and of a 3x3 conv (1x56x56x256 -> 256) in float32."""
    a = tf.random.normal([2048, 2048])
    matmul = tf.function(lambda: tf.matmul(a, a))
    seconds, _ = timed(lambda: matmul().numpy(), repeats)
    matmul_gflops = 2 * 2048**3 / seconds / 1e9
    x = tf.random.normal([8, 56, 56, 256])
    kernel = tf.random.normal([3, 3, 256, 256])
    conv = tf.function(lambda: tf.nn.conv2d(x, kernel, 1, "SAME"))
    seconds, _ = timed(lambda: conv().numpy(), repeats)
    conv_gflops = 2 * 8 * 56 * 56 * 9 * 256 * 256 / seconds / 1e9
    return {"matmul_gflops": matmul_gflops, "conv3x3_gflops": conv_gflops}


def keras_inference(model, batch, repeats):
    size = model.input_shape[1]
    x = tf.random.uniform([batch, size, size, 1], 0, 100)
    run = tf.function(lambda: model(x, training=False))
    return timed(lambda: run()["color_logits"].numpy(), repeats)


def saved_model_inference(model, batch, repeats, directory):
    from export import saved_model

    path = saved_model.export_saved_model(model, directory)
    signature = tf.saved_model.load(path).signatures["serving_default"]
    size = model.input_shape[1]
    image = tf.cast(tf.random.uniform([batch, size, size, 3], 0, 255), tf.uint8)
    return timed(lambda: signature(image=image)["rgb"].numpy(), repeats)


def tflite_inference(path, threads, repeats):
    from ai_edge_litert.interpreter import Interpreter

    runner = Interpreter(model_path=path, num_threads=threads).get_signature_runner()
    size = runner.get_input_details()["grey"]["shape"][1]
    grey = np.random.default_rng(0).integers(0, 256, (1, size, size, 1), dtype=np.uint8)
    temperature = np.array([0.38], np.float32)
    return timed(lambda: runner(grey=grey, temperature=temperature), repeats)


def _fmt(seconds_and_spread, per=1):
    seconds, (low, high) = seconds_and_spread
    return f"{1000 * seconds / per:.1f} ({1000 * low / per:.1f}-{1000 * high / per:.1f})"


def main(argv):
    del argv
    result = {
        "machine": {
            "cpu": platform.processor() or platform.machine(),
            "logical_cpus": os.cpu_count(),
            "tf_intra_op_threads": tf.config.threading.get_intra_op_parallelism_threads(),
            "tf_inter_op_threads": tf.config.threading.get_inter_op_parallelism_threads(),
        },
        "versions": {
            "tensorflow": tf.__version__,
            "keras": keras.__version__,
            "numpy": np.__version__,
        },
    }
    try:
        with open("/proc/cpuinfo") as f:
            result["machine"]["cpu"] = next(
                line.split(":", 1)[1].strip() for line in f if line.startswith("model name")
            )
    except (OSError, StopIteration):
        pass
    peak = machine_peak(FLAGS.repeats)
    result["peak"] = peak
    print(f"Machine: {result['machine']['cpu']}, {result['machine']['logical_cpus']} logical CPUs")
    print(
        f"Peak float32: matmul {peak['matmul_gflops']:.1f} GFLOP/s, 3x3 conv {peak['conv3x3_gflops']:.1f} GFLOP/s\n"
    )

    print(
        "| preset | S | width | params | GFLOPs/img (fwd) | train img/s | train GFLOP/s (3x fwd) | % of conv peak |"
    )
    print("|---|---|---|---|---|---|---|---|")
    result["training"] = []
    for preset in FLAGS.presets:
        size, width, fc_units, batch = preset_model(preset)
        row = train_step.measure(
            size, width, fc_units, batch, steps=2 if preset == "paper" else 5, repeats=3
        )
        # A training step costs about 3x the forward pass (forward, input and weight gradients).
        achieved = 3 * row["gflops_per_image"] * row["train_examples_per_s"]
        row.update(
            preset=preset, train_gflops=achieved, fraction_of_peak=achieved / peak["conv3x3_gflops"]
        )
        result["training"].append(row)
        print(
            f"| {preset} | {size} | {width} | {row['parameters']:,} | {row['gflops_per_image']:.2f} | "
            f"{row['train_examples_per_s']:.1f} | {achieved:.1f} | {100 * row['fraction_of_peak']:.0f}% |",
            flush=True,
        )

    print(
        "\n| preset | runtime | threads | batch-1 latency ms (min-max) | batch-8 ms/img | % of conv peak (batch 1) |"
    )
    print("|---|---|---|---|---|---|")
    result["inference"] = []
    from export import tflite

    for preset in FLAGS.inference_presets:
        size, width, fc_units, _ = preset_model(preset)
        keras.utils.set_random_seed(0)
        model = build_model(ModelConfig(image_size=size, width_multiplier=width, fc_units=fc_units))
        gflops = count_flops(model) / 1e9
        repeats = 3 if preset == "paper" else FLAGS.repeats

        def record(runtime, threads, latency, throughput, preset=preset, gflops=gflops):
            entry = {
                "preset": preset,
                "runtime": runtime,
                "threads": threads,
                "batch1_latency_s": latency[0],
                "batch1_spread_s": latency[1],
                "batch8_s_per_image": throughput[0] / 8 if throughput else None,
                "fraction_of_peak": gflops / latency[0] / peak["conv3x3_gflops"],
            }
            result["inference"].append(entry)
            print(
                f"| {preset} | {runtime} | {threads} | {_fmt(latency)} | "
                f"{_fmt(throughput, 8) if throughput else '-'} | {100 * entry['fraction_of_peak']:.0f}% |",
                flush=True,
            )

        record(
            "keras", "all", keras_inference(model, 1, repeats), keras_inference(model, 8, repeats)
        )
        with tempfile.TemporaryDirectory() as directory:
            record(
                "saved_model",
                "all",
                saved_model_inference(model, 1, repeats, os.path.join(directory, "a")),
                saved_model_inference(model, 8, repeats, os.path.join(directory, "b")),
            )
            calibration = [
                np.random.default_rng(i).integers(0, 256, (size, size, 3), dtype=np.uint8)
                for i in range(8)
            ]
            for variant, path in tflite.export_tflite(
                model, directory, tflite.VARIANTS, calibration
            ).items():
                size_mb = os.path.getsize(path) / 1e6
                for threads in (1, 2):
                    record(
                        f"tflite {variant} ({size_mb:.1f} MB)",
                        threads,
                        tflite_inference(path, threads, repeats),
                        None,
                    )
    with open(FLAGS.output, "w") as f:
        json.dump(result, f, indent=2)
    print(f"\nWrote {FLAGS.output}")


if __name__ == "__main__":
    app.run(main)
