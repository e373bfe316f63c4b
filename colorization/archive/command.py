"""Colorizes photos with a trained model: one photo, an album, or an archive of thousands.

    python -m colorization.colorize photo.jpg album/ --output_dir=out
    python -m colorization.colorize photo.jpg --model=runs/cpu --output_dir=out
    python -m colorization.colorize photo.jpg --model=runs/hints --hints=hints.json --output_dir=out

--model: a .keras file, a training model_dir, an exported SavedModel directory or a .tflite
file; by default the colorizer that ships with the package (colorization/pretrained).
Inputs: files and folders (recursively) of JPEG/PNG/BMP/GIF/WebP/TIFF, grey or colour
(colour photos are made grey first, so results can be compared with the original), turned
upright by their EXIF orientation and converted to sRGB by their ICC profile. Each output is
OUTPUT_DIR/<name>.png at the input's size.

Photos are read and written by worker threads and reach the network in batches. A progress
bar (plain lines when the output is not a terminal) shows the rate and the time left; the
end of the run gives photos written, kept, failed (with why), minutes and photos a second.
OUTPUT_DIR/manifest.jsonl records the model (its SHA-256) and settings that made each
output: a second run keeps the outputs made with the same ones, colours the rest again, and
a run killed half-way loses nothing it wrote (outputs are renamed into place when whole).
--overwrite colours everything again. Unreadable files and photos above --max_pixels are
reported and skipped.

--hints: a JSON file of colour hints for one photo, [{"x": 120, "y": 45, "rgb": [200, 30,
40]}, ...] (pixels of the photo from its top-left corner, sRGB 0-255), for a model trained
with hints; a bad file, a point outside the photo or a bad colour is an error that names it.
"""

import os
import sys

from absl import app, flags

from colorization.archive.photo_files import DEFAULT_MAX_PIXELS, PHOTO_EXTENSIONS
from colorization.archive.runner import DEFAULT_WORKERS
from colorization.archive.steps import DEFAULT_BATCH_SIZE
from colorization.core import cli
from colorization.core.config import DEFAULT_TEMPERATURE

FLAGS = flags.FLAGS


def define_flags():
    cli.define_model_flag()
    flags.DEFINE_string("output_dir", None, "Where to write the coloured PNGs.")
    cli.define_temperature_flag(
        None,
        "Annealed-mean temperature (lower = more vivid); default: the model's (its config.json), "
        f"else {DEFAULT_TEMPERATURE}.",
    )
    flags.DEFINE_integer(
        "edge_radius",
        None,
        "Edge-aware decoding: 0 = bilinear upsampling of ab, else the guided filter's radius "
        "in cells of the network's S/4 grid (colour edges follow the photo's); default: the "
        "model's (its config.json).",
        lower_bound=0,
    )
    flags.DEFINE_float(
        "edge_epsilon", None, "Its epsilon (a variance of L/100); default: the model's."
    )
    flags.DEFINE_bool(
        "overwrite",
        False,
        "Colour every photo again, even those the manifest says were made with the same "
        "model and settings.",
    )
    flags.DEFINE_integer(
        "batch_size", DEFAULT_BATCH_SIZE, "Photos per network call.", lower_bound=1
    )
    flags.DEFINE_integer(
        "workers",
        DEFAULT_WORKERS,
        "Threads that read and write photos (each side); the network has its own.",
        lower_bound=1,
    )
    flags.DEFINE_integer(
        "max_pixels",
        DEFAULT_MAX_PIXELS,
        "Photos with more pixels (read from the file's header) are skipped with an error.",
        lower_bound=1,
    )
    flags.DEFINE_integer("num_threads", None, "Threads for TFLite.")
    flags.DEFINE_bool("side_by_side", False, "Write grey | colour | original next to each other.")
    flags.DEFINE_string(
        "hints",
        None,
        'JSON list of colour hints for one photo: [{"x": X, "y": Y, "rgb": [R, G, B]}].',
    )
    flags.mark_flags_as_required(["output_dir"])


def collect_inputs(paths):
    """Expands files and folders into a sorted list of image files; returns (files, missing)."""
    from data_prep.file_sources import list_images

    files, missing = [], []
    for path in paths:
        if os.path.isdir(path):
            files.extend(list_images(path, PHOTO_EXTENSIONS))
        elif os.path.isfile(path):
            files.append(path)
        else:
            missing.append(path)
    return files, missing


def read_hints(path):
    """[(x, y, (r, g, b))] from a hints JSON file; CommandError naming what is wrong."""
    from colorization.inference.tflite_runner import read_hints_file

    try:
        return read_hints_file(path)
    except (OSError, ValueError) as e:
        raise cli.CommandError(f"--hints={path!r}: {e}") from None


def run_colorize(
    inputs,
    model,
    output_dir,
    temperature=None,
    num_threads=None,
    edge_radius=None,
    edge_epsilon=None,
    hints=None,
    **options,
):
    """Colorizes `inputs` (files or folders) with the Colorizer of `model` (temperature,
    num_threads, edge_radius, edge_epsilon: Colorizer's arguments); returns the summary of
    colorization.archive.runner.colorize_files ({"written", "kept", "failed", "failures",
    "seconds"}), with missing inputs counted as failed. hints: [(x, y, (r, g, b))] for the
    one photo of `inputs` (colorization.inference.tflite_runner.parse_hints), or None;
    `options` are colorize_files' own (overwrite, side_by_side, batch_size, workers,
    max_pixels, stream)."""
    from colorization.archive.runner import colorize_files, summary_lines
    from colorization.inference.colorizer import Colorizer

    files, missing = collect_inputs(inputs)
    for path in missing:
        print(f"error: {path}: no such file or directory", file=sys.stderr)
    try:
        colorizer = Colorizer(
            model,
            temperature=temperature,
            num_threads=num_threads,
            edge_radius=edge_radius,
            edge_epsilon=edge_epsilon,
        )
    except ValueError as e:
        raise cli.CommandError(str(e)) from None
    if hints is not None:
        if len(files) != 1:
            raise cli.CommandError(f"--hints applies to one photo; {len(files)} inputs were given.")
        if not colorizer.takes_hints:
            raise cli.CommandError(
                f"--hints: model {colorizer.path!r} takes no colour hints (it was trained "
                "without them)."
            )
    print(f"Colouring {len(files)} photos with {colorizer.path} into {output_dir}", flush=True)
    try:
        summary = colorize_files(
            files, colorizer, output_dir, temperature=temperature, hints=hints, **options
        )
    except ValueError as e:  # a hint outside the photo or a bad colour
        if hints is None:
            raise
        raise cli.CommandError(f"--hints: {e}") from None
    summary["failed"] += len(missing)
    summary["failures"] = [(p, "no such file or directory") for p in missing] + summary["failures"]
    for line in summary_lines(summary):
        print(line, flush=True)
    return summary


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
        temperature=FLAGS.temperature,
        num_threads=FLAGS.num_threads,
        edge_radius=FLAGS.edge_radius,
        edge_epsilon=FLAGS.edge_epsilon,
        hints=hints,
        overwrite=FLAGS.overwrite,
        side_by_side=FLAGS.side_by_side,
        batch_size=FLAGS.batch_size,
        workers=FLAGS.workers,
        max_pixels=FLAGS.max_pixels,
    )
    return 1 if counts["failed"] and not counts["written"] else 0
