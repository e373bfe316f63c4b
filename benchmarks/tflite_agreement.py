"""Agreement of each exported TFLite variant with the float Keras model on real photos.

    python -m benchmarks.tflite_agreement --model=runs/cpu --tflite_dir=exported/cpu/tflite \
        --data_root=data --dataset=voc_dir:voc2012_animals --split=val --images=100

For each variant: file size, PSNR of its output RGB against the Keras model's (both at the
photo's full resolution), and top-1 class agreement. Prints a Markdown table; writes JSON.
"""

import json
import os

import numpy as np
from absl import flags

from colorization.core import cli

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string("model", None, "Keras model: model_dir or .keras.")
    flags.DEFINE_string("tflite_dir", None, "Folder of colorizer_<variant>.tflite files.")
    flags.DEFINE_string("dataset", "voc_dir:voc2012_animals", "Photos.")
    cli.define_data_root_flag()
    flags.DEFINE_string("split", "val", "Split.")
    flags.DEFINE_integer("images", 100, "Photos to compare on.")
    flags.DEFINE_string("output", "benchmarks/tflite_agreement.json", "JSON output.")
    flags.mark_flags_as_required(["model", "tflite_dir"])


def main(argv):
    del argv
    from colorization.inference import tflite_runner as tflite_colorize
    from colorization.inference.colorizer import Colorizer
    from data_prep import audit, sources
    from export import tflite

    source = sources.load_source(FLAGS.dataset, FLAGS.split, data_root=FLAGS.data_root)
    photos = [
        audit.decode_image(e["image_bytes"]).numpy() for e in source.dataset.take(FLAGS.images)
    ]
    reference = Colorizer(FLAGS.model)
    expected = [reference.colorize_batch(p[None]) for p in photos]
    rows = []
    print(f"{len(photos)} photos from {source.name}\n")
    print("| variant | size MB | PSNR vs float Keras (dB, mean) | min | top-1 class agreement |")
    print("|---|---|---|---|---|")
    for variant in tflite.VARIANTS:
        path = os.path.join(FLAGS.tflite_dir, f"colorizer_{variant}.tflite")
        if not os.path.exists(path):
            continue
        lite = tflite_colorize.TFLiteColorizer(path)
        psnrs, agree = [], []
        for photo, ref in zip(photos, expected, strict=True):
            # The same temperature as the reference (the model's own, from its config.json).
            rgb, probs = lite.colorize(photo, reference.temperature)
            mse = ((rgb.astype(np.float64) - ref["rgb"][0]) ** 2).mean()
            psnrs.append(10 * np.log10(255**2 / max(mse, 1e-10)))
            if "class_probs" in ref and probs.size:
                agree.append(int(np.argmax(probs) == np.argmax(ref["class_probs"][0])))
        row = {
            "variant": variant,
            "size_mb": os.path.getsize(path) / 1e6,
            "psnr_mean": float(np.mean(psnrs)),
            "psnr_min": float(np.min(psnrs)),
            "class_agreement": float(np.mean(agree)) if agree else None,
        }
        rows.append(row)
        agreement = f"{100 * row['class_agreement']:.0f}%" if agree else "-"
        print(
            f"| {variant} | {row['size_mb']:.2f} | {row['psnr_mean']:.1f} | {row['psnr_min']:.1f} | {agreement} |",
            flush=True,
        )
    with open(FLAGS.output, "w") as f:
        json.dump({"images": len(photos), "dataset": FLAGS.dataset, "rows": rows}, f, indent=2)


if __name__ == "__main__":
    cli.run(main, define_flags)
