"""Writes a contact sheet for by-eye checks: for each chosen colour photo, the grey photo,
each model's colours and the truth, side by side, under a header naming the columns.

    python -m colorization.contact_sheet PHOTO... --output=sheet.png \
        [--model=NAME=PATH,...] [--height=200]

PHOTO: colour photos (files or folders). --model as evaluate takes it: PATH or NAME=PATH,
and PATH@RADIUS[/EPSILON] for another edge-aware decoding of the same model; default the
colorizer shipped with the package. Photos that cannot be read are skipped and counted.
"""

import os
import sys

from absl import flags

from colorization.core import cli

FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_list(
        "model",
        [],
        "Models, each PATH or NAME=PATH (PATH@RADIUS[/EPSILON]: that edge-aware decoding); "
        "default: the colorizer shipped with the package.",
    )
    flags.DEFINE_string("output", None, "The PNG to write.")
    flags.DEFINE_integer("height", 200, "Height of every photo on the sheet.", lower_bound=32)
    flags.DEFINE_integer("max_photos", 24, "At most this many photos (rows).", lower_bound=1)
    flags.mark_flags_as_required(["output"])


def _label_row(names, widths, height=28):
    """uint8 (height, sum(widths), 3): each name written over its column, black on white."""
    import numpy as np
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (sum(widths), height), "white")
    draw = ImageDraw.Draw(image)
    left = 0
    for name, width in zip(names, widths, strict=True):
        draw.text((left + 6, height // 4), name, fill="black")
        left += width
    return np.asarray(image)


def _cell(image, height, width, gap=4):
    """`image` scaled to fit height x width (aspect kept), centred on white, with `gap`
    white pixels right and below."""
    import numpy as np
    from PIL import Image

    scale = min(height / image.shape[0], width / image.shape[1])
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    small = np.asarray(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))
    cell = np.full((height + gap, width + gap, 3), 255, np.uint8)
    top, left = (height - small.shape[0]) // 2, (width - small.shape[1]) // 2
    cell[top : top + small.shape[0], left : left + small.shape[1]] = small
    return cell


def build_sheet(photos, colorizers, height):
    """uint8 sheet: a header row, then per photo grey | each colorizer | truth, every photo
    fitted into a cell of `height` x 4/3 `height`."""
    import numpy as np

    from colorization.evaluation.metrics import grey_baseline
    from colorization.inference.tflite_runner import lightness

    width = height * 4 // 3
    rows = []
    for rgb in photos:
        grey = grey_baseline(lightness(rgb)[None, ..., None])[0]
        images = [grey, *(c.colorize(rgb) for c in colorizers.values()), rgb]
        rows.append(np.concatenate([_cell(im, height, width) for im in images], axis=1))
    names = ["grey", *colorizers, "truth"]
    header = _label_row(names, [width + 4] * len(names))
    return np.concatenate([header, *rows])


def main(argv):
    from colorization.archive.command import collect_inputs
    from colorization.archive.photo_files import PhotoError, read_photo
    from colorization.evaluation.settings import model_specs, parse_models
    from colorization.inference.colorizer import DEFAULT_MODEL, Colorizer

    inputs = argv[1:]
    if not inputs:
        raise cli.CommandError("Give at least one colour photo (file or folder).")
    specs = model_specs(parse_models(FLAGS.model, DEFAULT_MODEL))
    files, missing = collect_inputs(inputs)
    photos, skipped = [], len(missing)
    for path in files[: FLAGS.max_photos]:
        try:
            photos.append(read_photo(path))
        except PhotoError as e:
            print(f"error: {path}: {e}", file=sys.stderr)
            skipped += 1
    if not photos:
        raise cli.CommandError(f"none of the {len(files)} photos could be read.")
    colorizers = {
        name: Colorizer(path, edge_radius=radius, edge_epsilon=epsilon)
        for name, (path, radius, epsilon) in specs.items()
    }
    sheet = build_sheet(photos, colorizers, FLAGS.height)
    from PIL import Image

    os.makedirs(os.path.dirname(os.path.abspath(FLAGS.output)), exist_ok=True)
    Image.fromarray(sheet).save(FLAGS.output)
    print(
        f"Wrote {FLAGS.output}: {len(photos)} photos x {len(colorizers)} models"
        + (f"; {skipped} skipped" if skipped else "")
    )
    return 0
