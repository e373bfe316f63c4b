"""A picture of colour hints: photos from outside every training set, made grey, coloured
automatically and with three hints, beside the original.

    python -m benchmarks.hint_showcase --output=docs/hints.png [--model=runs/hints]
        [--edge_radius=2]

Rows: grey | automatic | 3 hints | original, each photo scaled to --height pixels. The
hints are what a user would give: the photo's true colour (the mean of a 5 x 5 patch) at
the points where the automatic colour is furthest from the truth, one in each of the
photo's three worst cells of a 3 x 3 grid; they are marked with rings on the hinted photo.
The ab error of each column is printed per photo.
"""

import os

import numpy as np
from absl import flags

from colorization.core import cli

FLAGS = flags.FLAGS
GRID = 3
COUNT = 3


def define_flags():
    flags.DEFINE_string(
        "model", None, "A model trained with hints (any format); default: the shipped one."
    )
    flags.DEFINE_string("output", None, "PNG to write.")
    flags.DEFINE_integer("height", 200, "Height of each picture in the sheet.")
    flags.DEFINE_integer(
        "edge_radius",
        None,
        "Decode ab edge-aware with this radius (colorization.core.guided; 0 = bilinear); "
        "default: the model's own setting.",
        lower_bound=0,
    )
    flags.mark_flags_as_required(["output"])


def _ab(rgb_u8):
    import tensorflow as tf

    from colorization.core import color

    return color.rgb_to_lab(tf.cast(rgb_u8, tf.float32) / 255.0).numpy()[..., 1:]


def _box_mean(values, radius):
    """The mean of `values` (H, W) over a (2r+1)² window around each pixel (clipped)."""
    padded = np.pad(values, radius, mode="edge")
    total = padded.cumsum(0).cumsum(1)
    total = np.pad(total, ((1, 0), (1, 0)))
    side = 2 * radius + 1
    height, width = values.shape
    return (
        total[side : side + height, side : side + width]
        - total[:height, side : side + width]
        - total[side : side + height, :width]
        + total[:height, :width]
    ) / side**2


def worst_points(automatic, truth, grid=GRID, count=COUNT):
    """(x, y, (r, g, b)) hints where `automatic` is furthest from `truth` in ab (averaged
    over a window of about a 30th of the photo, so a hint lands inside a wrongly coloured
    region, not on an edge), one in each of the `count` worst cells of a grid x grid split
    of the photo; each holds the truth's colour at its pixel."""
    error = np.linalg.norm(_ab(automatic) - _ab(truth), axis=-1)
    height, width = error.shape
    error = _box_mean(error, max(1, min(height, width) // 60))
    cells = []
    for i in range(grid):
        for j in range(grid):
            rows = slice(i * height // grid, (i + 1) * height // grid)
            cols = slice(j * width // grid, (j + 1) * width // grid)
            cell = error[rows, cols]
            r, c = np.unravel_index(np.argmax(cell), cell.shape)
            cells.append((cell.mean(), rows.start + r, cols.start + c))
    return [
        (int(x), int(y), tuple(int(v) for v in truth[y, x]))
        for _, y, x in sorted(cells, reverse=True)[:count]
    ]


def ring(image, hints, radius=6):
    """A copy of `image` with a black-and-white ring around each hint."""
    marked = image.copy()
    height, width = image.shape[:2]
    yy, xx = np.mgrid[0:height, 0:width]
    for x, y, _ in hints:
        distance = np.hypot(xx - x, yy - y)
        marked[(distance >= radius - 1) & (distance < radius)] = 255
        marked[(distance >= radius) & (distance < radius + 1)] = 0
    return marked


def main(argv):
    del argv
    if FLAGS.height < 16:
        raise cli.CommandError(f"--height must be >= 16. Received: {FLAGS.height}")
    import tensorflow as tf

    from colorization.evaluation import crops as evaluation
    from colorization.inference import colorizer as inference
    from data_prep.file_sources import skimage_photos

    try:
        colorizer = inference.Colorizer(FLAGS.model, edge_radius=FLAGS.edge_radius)
    except ValueError as e:
        raise cli.CommandError(str(e)) from None
    if not colorizer.takes_hints:
        raise cli.CommandError(
            f"model {colorizer.path!r} takes no colour hints; expected a model trained with "
            "--hints."
        )
    rows = []
    for photo in skimage_photos():
        grey = np.asarray(tf.image.rgb_to_grayscale(photo))
        automatic = colorizer.colorize(grey)
        hints = worst_points(automatic, photo)
        hinted = colorizer.colorize(grey, hints=hints)
        errors = [np.linalg.norm(_ab(x) - _ab(photo), axis=-1).mean() for x in (automatic, hinted)]
        print(
            f"{photo.shape[1]}x{photo.shape[0]}: mean ab error automatic {errors[0]:.1f}, "
            f"with {len(hints)} hints {errors[1]:.1f}"
        )
        rows.append([np.repeat(grey, 3, -1), automatic, ring(hinted, hints), photo])
    sheet = evaluation.photo_sheet(rows, FLAGS.height, gap=4)
    os.makedirs(os.path.dirname(FLAGS.output) or ".", exist_ok=True)
    tf.io.write_file(FLAGS.output, tf.io.encode_png(sheet))
    print(f"Wrote {FLAGS.output} ({sheet.shape[1]}x{sheet.shape[0]})")
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags)
