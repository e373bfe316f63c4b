"""Latency of an exported colorizer in each runtime, image in, image out, at batch 1.

    python -m export --output_dir=runs/shipped_export      # the shipped model, all variants
    python -m benchmarks.export_latency --export_dir=runs/shipped_export

Times `Colorizer(path).colorize(photo)` — decoding to ab, upsampling and joining with the
photo's own L included — for the Keras model, the SavedModel and every TFLite variant found,
on one photo (scikit-image's 451 x 300 cat unless --photo), after 3 warm-up calls. Prints a
Markdown table (median and min-max of --repeats calls, ms) and writes JSON (--output).
"""

import glob
import json
import os
import time

import numpy as np
from absl import flags

from colorization.core import cli

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("export_dir", None, "Output of `python -m export`.")
    flags.DEFINE_string("model", None, "Keras model to time beside it; default: the shipped one.")
    flags.DEFINE_string("photo", "", "Photo to colour; default: skimage's chelsea.")
    flags.DEFINE_integer("repeats", 20, "Timed calls per runtime.")
    flags.DEFINE_integer("num_threads", 2, "Threads for TFLite.")
    flags.DEFINE_string("output", "", "JSON output path.")
    flags.mark_flags_as_required(["export_dir"])


def main(argv):
    del argv
    if not os.path.isdir(FLAGS.export_dir):
        raise cli.CommandError(f"--export_dir={FLAGS.export_dir!r} is not a directory.")
    if FLAGS.repeats < 1:
        raise cli.CommandError(f"--repeats must be >= 1. Received: {FLAGS.repeats}")
    import tensorflow as tf

    from colorization.inference.colorizer import Colorizer

    if FLAGS.photo:
        photo = tf.io.decode_image(tf.io.read_file(FLAGS.photo), channels=3).numpy()
    else:
        import skimage.data

        photo = np.asarray(skimage.data.chelsea())
    candidates = [("Keras", FLAGS.model, "float32"), ("Keras bfloat16", FLAGS.model, "bfloat16")]
    candidates += [
        (f"SavedModel {os.path.basename(os.path.dirname(path))}", path, "float32")
        for path in sorted(glob.glob(os.path.join(FLAGS.export_dir, "saved_model", "*", "*")))
    ]
    candidates += [
        (f"TFLite {os.path.basename(p)[len('colorizer_') : -len('.tflite')]}", p, "float32")
        for p in sorted(glob.glob(os.path.join(FLAGS.export_dir, "tflite", "*.tflite")))
    ]
    # Agreement with the float32 Keras model on real photos: the timed one and three of
    # scikit-image's, each at its own size.
    import skimage.data

    others = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.rocket()]
    reference = Colorizer(FLAGS.model)
    expected = [reference.colorize_batch(p[None]) for p in [photo, *others]]
    rows = []
    print(f"Photo {photo.shape[1]}x{photo.shape[0]}, batch 1, {FLAGS.repeats} calls each")
    print("| runtime | size (MB) | median ms | min-max ms | agreement dB (min of 4) | same class |")
    print("|---|---|---|---|---|---|")
    for name, path, precision in candidates:
        # Exported files do not carry the model's temperature: all runtimes use the reference's.
        colorizer = Colorizer(
            path,
            temperature=reference.temperature,
            num_threads=FLAGS.num_threads,
            precision=precision,
        )
        agreement, same = [], 0
        for image, want in zip([photo, *others], expected, strict=True):
            got = colorizer.colorize_batch(image[None])
            error = np.mean((got["rgb"].astype(np.float64) - want["rgb"]) ** 2)
            agreement.append(10 * np.log10(255.0**2 / max(error, 1e-12)))
            same += int(np.argmax(got["class_probs"]) == np.argmax(want["class_probs"]))
        for _ in range(3):
            colorizer.colorize(photo)
        times = []
        for _ in range(FLAGS.repeats):
            start = time.perf_counter()
            colorizer.colorize(photo)
            times.append(1000 * (time.perf_counter() - start))
        size = None
        if path and os.path.isfile(path):
            size = os.path.getsize(path) / 1e6
        row = {
            "runtime": name,
            "path": path or "shipped model.keras",
            "size_mb": size,
            "precision": precision,
            "agreement_db_min": float(min(agreement)),
            "class_agreement": same / len(agreement),
            "median_ms": float(np.median(times)),
            "min_ms": float(np.min(times)),
            "max_ms": float(np.max(times)),
        }
        rows.append(row)
        print(
            f"| {name} | {'' if size is None else f'{size:.2f}'} | {row['median_ms']:.1f} | "
            f"{row['min_ms']:.1f}-{row['max_ms']:.1f} | {row['agreement_db_min']:.1f} | "
            f"{same}/{len(agreement)} |",
            flush=True,
        )
    if FLAGS.output:
        with open(FLAGS.output, "w") as f:
            json.dump({"photo_shape": list(photo.shape), "rows": rows}, f, indent=2)
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags)
