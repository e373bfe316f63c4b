"""Evaluates colorizers against the grey baseline, and against each other, on the same photos.

    python -m colorization.evaluate --protocol=full --split=val --data_root=data \
        --dataset=voc_dir:voc2012_animals,voc_dir:voc_street,folder:photos/* \
        --model=fusion=runs/a,no_fusion=runs/b --output_dir=eval/ablation

Two protocols behind one command:
- full (the one to report): every photo whole, at its own size, through the colorize path
  (any model the colorize command takes: .keras, model_dir, SavedModel, .tflite). Each
  comma-separated part of --dataset is a set, reported alone and pooled with the others;
  `folder:DIR/*` makes one set of every subfolder of DIR. Every model minus grey, and the
  first model minus each other model, come with paired 95 % bootstrap intervals.
- crop: centre crops at the network's size, the metrics of colorization.evaluation.metrics
  (with SSIM, per class, and a temperature sweep with --temperatures); Keras models only.

--model takes one or more models, comma-separated, each PATH or NAME=PATH; without it, the
colorizer shipped with the package. Writes OUTPUT_DIR/metrics.json, contact_sheet.png (grey
| each model | truth) and, for the crop protocol, a self-contained report.html.
"""

import os

from absl import flags

from colorization.core import cli
from colorization.core.config import DEFAULT_TEMPERATURE
from colorization.evaluation.protocols import evaluate
from colorization.evaluation.settings import (
    PROTOCOLS,
    EvalConfig,
    model_specs,
    parse_models,
)

FLAGS = flags.FLAGS

# The environment variable that gives every evaluation a score cache by default.
SCORE_CACHE_VARIABLE = "COLORIZATION_SCORE_CACHE"


def define_flags():
    flags.DEFINE_list(
        "model",
        [],
        "Models, comma-separated, each PATH or NAME=PATH (.keras, model_dir or checkpoint; "
        "full also SavedModel and .tflite); default: the colorizer shipped with the package. "
        "PATH@RADIUS[/EPSILON] colours with that edge-aware decoding instead of the model's "
        "own (0 = bilinear), so one model can be scored with several side by side.",
    )
    flags.DEFINE_enum(
        "protocol",
        "full",
        list(PROTOCOLS),
        "full: whole photos at their own size through the colorize path, with paired "
        "bootstrap intervals; crop: centre crops at the network's size.",
    )
    flags.DEFINE_integer("bootstrap", 1000, "Bootstrap resamples (full protocol).")
    flags.DEFINE_string(
        "dataset",
        "",
        "Source spec, each comma-separated part a set (folder:DIR/* = one set per subfolder); "
        "default: the first model's validation data.",
    )
    flags.DEFINE_string("split", "val", "Split of every part that has one.")
    flags.DEFINE_string("data_dir", None, "TFDS data directory.")
    cli.define_data_root_flag()
    flags.DEFINE_string("output_dir", None, "Where to write metrics.json and the pictures.")
    flags.DEFINE_integer(
        "image_size",
        0,
        "The network's input size S (the same weights rebuilt at S); 0 = the model's own.",
    )
    cli.define_temperature_flag(
        None,
        "Annealed-mean temperature; default: each model's own (config.json), else "
        f"{DEFAULT_TEMPERATURE}.",
    )
    flags.DEFINE_list("temperatures", [], "Crop protocol: a sweep of temperatures.")
    flags.DEFINE_integer("max_examples", 0, "Evaluate at most this many photos per set (0 = all).")
    flags.DEFINE_integer(
        "skip_examples",
        0,
        "Full protocol: leave out the first N usable photos of each set, then take "
        "--max_examples (e.g. --skip_examples=40 --max_examples=80 scores photos 41-120, "
        "apart from the first 40 that a choice was made on).",
    )
    flags.DEFINE_integer("report_images", 8, "Photos per set in the contact sheet.")
    flags.DEFINE_integer("batch_size", None, "Crop protocol: batch size (default 16).")
    flags.DEFINE_list(
        "hint_counts",
        [],
        "Full protocol, models that take colour hints: also score each with N hints per photo "
        "for every N listed (e.g. 0,1,2,5,10,20) as methods NAME+Nh: pixels drawn with a seed "
        "fixed per photo and N, each given the photo's own colour there, as a user gives "
        "hints (every model format takes them).",
    )
    flags.DEFINE_string(
        "score_cache",
        None,
        "Full protocol: a folder that keeps every coloured photo, keyed by the model's files, "
        "its decoding and the photo, so a model scored again on the same photos is not run "
        f"again (scores are always recomputed); default: ${SCORE_CACHE_VARIABLE} for the full "
        "protocol, else none; '' = none.",
    )
    flags.mark_flags_as_required(["output_dir"])


def _list_of(flag, kind, expected):
    """The values of a list flag as `kind`; ValueError naming the flag otherwise."""
    values = FLAGS[flag].value
    try:
        return tuple(kind(v) for v in values)
    except ValueError:
        raise ValueError(f"--{flag} must be {expected}. Received: {values}") from None


def config_from_flags():
    """The EvalConfig of the command line; ValueError naming a bad value."""
    from colorization.inference import DEFAULT_MODEL

    temperatures = _list_of("temperatures", float, "numbers")
    hint_counts = _list_of("hint_counts", int, "whole numbers")
    return EvalConfig(
        models=parse_models(FLAGS.model, DEFAULT_MODEL),
        output_dir=FLAGS.output_dir,
        protocol=FLAGS.protocol,
        dataset=FLAGS.dataset,
        split=FLAGS.split,
        data_dir=FLAGS.data_dir,
        data_root=FLAGS.data_root,
        image_size=FLAGS.image_size,
        temperature=FLAGS.temperature,
        temperatures=temperatures,
        batch_size=FLAGS.batch_size,
        max_examples=FLAGS.max_examples,
        skip_examples=FLAGS.skip_examples,
        report_images=FLAGS.report_images,
        num_bootstrap=FLAGS.bootstrap,
        hint_counts=hint_counts,
        score_cache=_score_cache(),
    )


def _score_cache():
    """--score_cache, or for the full protocol the environment's default."""
    if FLAGS.score_cache is not None:
        return FLAGS.score_cache
    return os.environ.get(SCORE_CACHE_VARIABLE, "") if FLAGS.protocol == "full" else ""


def main(argv):
    from data_prep.source_types import SourceError

    if len(argv) > 1:
        raise cli.CommandError(f"Unexpected arguments: {argv[1:]}")
    try:
        config = config_from_flags()
    except ValueError as e:
        raise cli.CommandError(str(e)) from None
    model_specs(config.models)
    # Bad input inside the run is a CommandError or a SourceError; any other exception is a
    # bug and keeps its traceback.
    try:
        evaluate(config)
    except SourceError as e:
        raise cli.CommandError(str(e)) from None
    return 0
