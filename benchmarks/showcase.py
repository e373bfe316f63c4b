"""A picture of a colorizer on photos from outside every training set: the colour photos
bundled with scikit-image, made grey, coloured, and shown beside the original.

    python -m benchmarks.showcase --output=docs/outside_photos.png [--model=runs/cpu]

Rows: grey | coloured | original, each photo scaled to --height pixels. The top-3 classes of
the class branch are printed per photo.
"""

import numpy as np
from absl import flags

from colorization.core import cli

FLAGS = flags.FLAGS


def define_flags():
    cli.define_model_flag()
    flags.DEFINE_string("output", None, "PNG to write.")
    flags.DEFINE_integer("height", 200, "Height of each picture in the sheet.")
    cli.define_temperature_flag(None, "Annealed-mean temperature; default: the model's.")
    flags.mark_flags_as_required(["output"])


def main(argv):
    del argv
    if FLAGS.height < 16:
        raise cli.CommandError(f"--height must be >= 16. Received: {FLAGS.height}")
    import tensorflow as tf

    from colorization.core.config import VOC_CLASSES
    from colorization.evaluation import crops as evaluation
    from colorization.inference import colorizer as inference
    from data_prep.file_sources import skimage_photos

    kwargs = {} if FLAGS.temperature is None else {"temperature": FLAGS.temperature}
    colorizer = inference.Colorizer(FLAGS.model, **kwargs)
    rows = []
    for photo in skimage_photos():
        grey = np.asarray(tf.image.rgb_to_grayscale(photo))
        out = colorizer.colorize_batch(grey[None])
        probs = out.get("class_probs")
        if probs is not None:
            top = np.argsort(-probs[0])[:3]
            names = ", ".join(f"{VOC_CLASSES[i]} {100 * probs[0][i]:.0f}%" for i in top)
            print(f"{photo.shape[1]}x{photo.shape[0]}: {names}")
        rows.append([np.repeat(grey, 3, -1), out["rgb"][0], photo])
    sheet = evaluation.photo_sheet(rows, FLAGS.height, gap=4)
    tf.io.write_file(FLAGS.output, tf.io.encode_png(sheet))
    print(f"Wrote {FLAGS.output} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags)
