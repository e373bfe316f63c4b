"""Colorizes photos with a trained model.

    python -m colorization.colorize photo.jpg album/ --output_dir=out
    python -m colorization.colorize photo.jpg --model=runs/cpu --output_dir=out
    python -m colorization.colorize photo.jpg --model=runs/hints --hints=hints.json --output_dir=out

--model: a .keras file, a training model_dir, an exported SavedModel directory or a .tflite
file; by default the colorizer that ships with the package (colorization/pretrained). Inputs: files and folders (recursively) of JPEG/PNG/BMP/GIF/WebP, grey or colour
(colour photos are made grey first, so results can be compared with the original). Each
output is OUTPUT_DIR/<name>.png at the input's size. Unreadable files are reported and
skipped; existing outputs are kept unless --overwrite.

--hints: a JSON file of colour hints for one photo, [{"x": 120, "y": 45, "rgb": [200, 30,
40]}, ...] (pixels of the photo from its top-left corner, sRGB 0-255), for a model trained
with hints; a bad file, a point outside the photo or a bad colour is an error that names it.
"""

import os
import sys

from absl import app, flags

from colorization.core import cli
from colorization.core.config import DEFAULT_TEMPERATURE

FLAGS = flags.FLAGS


def define_flags():
    cli.define_model_flag()
    flags.DEFINE_string("output_dir", None, "Where to write the coloured PNGs.")
    flags.DEFINE_float(
        "temperature",
        None,
        "Annealed-mean temperature (lower = more vivid); default: the model's (its config.json), "
        f"else {DEFAULT_TEMPERATURE}.",
    )
    flags.DEFINE_bool("overwrite", False, "Replace existing outputs.")
    flags.DEFINE_integer("num_threads", None, "Threads for TFLite.")
    flags.DEFINE_bool("side_by_side", False, "Write grey | colour | original next to each other.")
    flags.DEFINE_string(
        "hints",
        None,
        'JSON list of colour hints for one photo: [{"x": X, "y": Y, "rgb": [R, G, B]}].',
    )
    flags.mark_flags_as_required(["output_dir"])
    flags.register_validator(
        "temperature", lambda t: t is None or t > 0, "--temperature must be > 0"
    )


def collect_inputs(paths):
    """Expands files and folders into a sorted list of image files; returns (files, missing)."""
    from data_prep.sources import list_images

    files, missing = [], []
    for path in paths:
        if os.path.isdir(path):
            files.extend(list_images(path))
        elif os.path.isfile(path):
            files.append(path)
        else:
            missing.append(path)
    return files, missing


def output_name(path):
    stem = os.path.splitext(os.path.basename(path))[0]
    return f"{stem}.png"


def read_hints(path):
    """[(x, y, (r, g, b))] from a hints JSON file; CommandError naming what is wrong."""
    from colorization.inference.hint_points import read_hints_file

    try:
        return read_hints_file(path)
    except (OSError, ValueError) as e:
        raise cli.CommandError(f"--hints={path!r}: {e}") from None


def run_colorize(
    inputs,
    model,
    output_dir,
    temperature=None,
    overwrite=False,
    num_threads=None,
    side_by_side=False,
    hints=None,
):
    """Colorizes `inputs` (files or folders); returns counts {"written", "kept", "failed"}.
    hints: [(x, y, (r, g, b))] for the one photo of `inputs` (colorization.inference.
    colorizer.parse_hints), or None."""
    import numpy as np
    import tensorflow as tf

    from colorization.inference.colorizer import Colorizer
    from data_prep.sources import decode_image

    files, missing = collect_inputs(inputs)
    for path in missing:
        print(f"warning: {path}: no such file or directory", file=sys.stderr)
    colorizer = Colorizer(model, temperature=temperature, num_threads=num_threads)
    if hints is not None:
        if len(files) != 1:
            raise cli.CommandError(f"--hints applies to one photo; {len(files)} inputs were given.")
        if not colorizer.takes_hints:
            raise cli.CommandError(
                f"--hints: model {colorizer.path!r} takes no colour hints (it was trained "
                "without them)."
            )
    os.makedirs(output_dir, exist_ok=True)
    counts = {"written": 0, "kept": 0, "failed": len(missing)}
    used_names = set()
    for i, path in enumerate(files, 1):
        name = output_name(path)
        # Two inputs with the same stem (a.jpg, a.png) must not overwrite each other.
        stem, n = name[:-4], 1
        while name in used_names:
            name, n = f"{stem}_{n}.png", n + 1
        used_names.add(name)
        target = os.path.join(output_dir, name)
        if os.path.exists(target) and not overwrite:
            counts["kept"] += 1
            print(f"[{i}/{len(files)}] {path}: {target} exists, kept (use --overwrite)", flush=True)
            continue
        try:
            image = decode_image(tf.io.read_file(path)).numpy()
            if image.size == 0:
                raise ValueError("zero-size image")
        except (tf.errors.OpError, ValueError) as e:
            counts["failed"] += 1
            print(
                f"[{i}/{len(files)}] {path}: unreadable, skipped ({str(e).splitlines()[0][:80]})",
                file=sys.stderr,
                flush=True,
            )
            continue
        try:
            colored = colorizer.colorize(image, hints=hints)
        except ValueError as e:  # a hint outside the photo or a bad colour
            raise cli.CommandError(f"--hints: {e}") from None
        if side_by_side:
            grey = np.asarray(tf.image.rgb_to_grayscale(image))
            colored = np.concatenate([np.repeat(grey, 3, -1), colored, image], axis=1)
        tf.io.write_file(target, tf.io.encode_png(colored))
        counts["written"] += 1
        print(
            f"[{i}/{len(files)}] {path} -> {target} ({image.shape[1]}x{image.shape[0]})", flush=True
        )
    print(f"Done: {counts['written']} written, {counts['kept']} kept, {counts['failed']} failed.")
    return counts


def main(argv):
    from colorization.model import model_files

    inputs = argv[1:]
    if not inputs:
        raise app.UsageError("Give at least one input file or folder.")
    if FLAGS.model is not None and not model_files.exists(FLAGS.model):
        raise cli.CommandError(f"--model={FLAGS.model!r} does not exist.")
    hints = read_hints(FLAGS.hints) if FLAGS.hints else None
    counts = run_colorize(
        inputs,
        FLAGS.model,
        FLAGS.output_dir,
        FLAGS.temperature,
        FLAGS.overwrite,
        FLAGS.num_threads,
        FLAGS.side_by_side,
        hints,
    )
    return 1 if counts["failed"] and not counts["written"] else 0
