"""Exports a trained colorizer.

    python -m export --model=runs/cpu --output_dir=exported --formats=saved_model,tflite

--model (alias --checkpoint): a training model_dir, a checkpoint prefix inside it, or a .keras file; by
default the colorizer that ships with the package (colorization/pretrained).
Writes OUTPUT/saved_model/colorizer/<version>/ and OUTPUT/tflite/colorizer_<variant>.tflite.
"""

import dataclasses
import os

from absl import flags

from colorization.core import cli
from colorization.core.config import DEFAULT_TEMPERATURE

FORMATS = ("saved_model", "tflite")
FLAGS = flags.FLAGS


def define_flags():
    flags.DEFINE_string(
        "model",
        None,
        "model_dir, checkpoint prefix or .keras file; default: the colorizer shipped with "
        "the package.",
    )
    flags.DEFINE_alias("checkpoint", "model")
    flags.DEFINE_string("output_dir", None, "Export directory.")
    flags.DEFINE_list("formats", list(FORMATS), "saved_model and/or tflite.")
    flags.DEFINE_list(
        "tflite_variants",
        ["float32", "float16", "dynamic_int8"],
        "TFLite variants (int8 = full-integer: available, not a default: it agrees with float "
        "Keras at 25 dB on the shipped model, README).",
    )
    flags.DEFINE_integer("version", 1, "SavedModel version number (TF Serving folder).")
    flags.DEFINE_list(
        "saved_model_precisions",
        ["float32"],
        "SavedModels to write: float32 (saved_model/colorizer) and/or bfloat16 "
        "(saved_model/colorizer_bf16: mixed_bfloat16 network, for servers with AVX512_BF16 or "
        "AMX; needs a model_dir).",
    )
    flags.DEFINE_bool(
        "saved_model_xla",
        False,
        "Run the network inside the SavedModel signatures XLA-compiled (see the README's "
        "measurements before turning it on).",
    )
    cli.define_temperature_flag(
        None,
        "Default annealed-mean temperature of serving_default; default: the model's own (its "
        f"config.json; 0.5 for the shipped model), else {DEFAULT_TEMPERATURE}.",
    )
    flags.DEFINE_integer(
        "edge_radius",
        None,
        "Edge-aware decoding baked into every signature and .tflite file (0 = bilinear; "
        "else the guided filter's radius in cells of the S/4 grid); default: the model's own "
        "(its config.json), else 0. Recorded in the config.json written beside the exports.",
    )
    flags.DEFINE_float(
        "edge_epsilon", None, "Its epsilon (a variance of L/100); default: the model's own."
    )
    flags.DEFINE_integer(
        "max_pixels",
        40_000_000,
        "The SavedModel's colorize_bytes signatures refuse an encoded photo of more pixels "
        "than this (read from its header before decoding) with InvalidArgument.",
        lower_bound=1,
    )
    flags.DEFINE_string(
        "calibration_dataset",
        "",
        "Source spec of int8 calibration photos (relative voc_dir:/folder: paths under "
        "--data_root); default: the model's training data, under its own data_root.",
    )
    cli.define_data_root_flag()
    flags.DEFINE_integer("calibration_images", 64, "Photos used to calibrate the int8 variant.")
    flags.mark_flags_as_required(["output_dir"])


def _validate():
    from colorization.inference.colorizer import DEFAULT_MODEL
    from colorization.model import model_files
    from export.tflite import VARIANTS

    if FLAGS.model is None:
        FLAGS.model = DEFAULT_MODEL
    bad = [f for f in FLAGS.formats if f not in FORMATS]
    if bad:
        raise ValueError(f"--formats must be among {FORMATS}. Received: {bad}")
    bad = [v for v in FLAGS.tflite_variants if v not in VARIANTS]
    if bad:
        raise ValueError(f"--tflite_variants must be among {VARIANTS}. Received: {bad}")
    if not model_files.exists(FLAGS.model):
        raise ValueError(f"--model={FLAGS.model!r} does not exist.")
    bad = [p for p in FLAGS.saved_model_precisions if p not in ("float32", "bfloat16")]
    if bad:
        raise ValueError(f"--saved_model_precisions must be float32/bfloat16. Received: {bad}")
    if FLAGS.version < 1:
        raise ValueError(f"--version must be >= 1. Received: {FLAGS.version}")
    if FLAGS.edge_radius is not None and FLAGS.edge_radius < 0:
        raise ValueError(f"--edge_radius must be >= 0 (0 = off). Received: {FLAGS.edge_radius}")
    if FLAGS.edge_epsilon is not None and FLAGS.edge_epsilon <= 0:
        raise ValueError(f"--edge_epsilon must be > 0. Received: {FLAGS.edge_epsilon}")


def main(argv):
    del argv
    try:
        _validate()
    except ValueError as e:
        raise cli.CommandError(str(e)) from None
    from colorization.core import guided
    from colorization.model import model_files
    from export import saved_model, tflite

    model, config = model_files.load_model_dir(FLAGS.model)
    temperature = FLAGS.temperature
    if temperature is None:
        temperature = config.temperature if config is not None else DEFAULT_TEMPERATURE
    edge = guided.resolve(config, FLAGS.edge_radius, FLAGS.edge_epsilon)
    print(f"Loaded {FLAGS.model}: {model.count_params():,} parameters, input {model.input_shape}")
    # Calibration photos are read first, so a bad --calibration_dataset fails before any
    # export is written.
    images = None
    if "tflite" in FLAGS.formats and "int8" in FLAGS.tflite_variants:
        from data_prep.source_types import SourceError

        if FLAGS.calibration_dataset:
            spec = FLAGS.calibration_dataset
            try:
                images = tflite.sample_images(
                    spec, FLAGS.calibration_images, None, data_root=FLAGS.data_root
                )
            except SourceError as e:
                raise cli.CommandError(f"--calibration_dataset={spec!r}: {e}") from None
        else:
            spec = config.dataset if config else "skimage"
            try:
                images = tflite.sample_images(
                    spec,
                    FLAGS.calibration_images,
                    config.data_dir if config else None,
                    data_root=config.data_root if config else None,
                )
            except SourceError as e:
                # The training photos are not where the config says (a fresh clone
                # exporting the shipped model): calibrate on scikit-image's photos.
                print(f"Training data not found ({str(e)[:80]}); calibrating on skimage photos.")
                spec = "skimage"
                images = tflite.sample_images(spec, FLAGS.calibration_images, None)
        print(f"Calibrating int8 on {len(images)} photos from {spec}")
    if "saved_model" in FLAGS.formats:
        for precision in FLAGS.saved_model_precisions:
            served, name = model, "colorizer"
            if precision == "bfloat16":
                if config is None:
                    raise cli.CommandError(
                        "--saved_model_precisions=bfloat16 needs a model_dir (its config.json "
                        f"rebuilds the network); {FLAGS.model!r} has none."
                    )
                served, name = saved_model.bfloat16_copy(model, config.model), "colorizer_bf16"
            try:
                path = saved_model.export_saved_model(
                    served,
                    FLAGS.output_dir,
                    FLAGS.version,
                    temperature,
                    xla=FLAGS.saved_model_xla,
                    name=name,
                    edge=edge,
                    max_pixels=FLAGS.max_pixels,
                )
            except FileExistsError as e:
                raise cli.CommandError(str(e)) from None
            print(f"SavedModel ({precision}): {path}")
    if config is not None:
        # The exported files carry the training config (class names) beside them, with the
        # temperature and decoding they were exported with; model_files.nearest_config
        # finds it.
        os.makedirs(FLAGS.output_dir, exist_ok=True)
        baked = dataclasses.replace(
            config,
            temperature=float(temperature),
            edge_radius=edge.radius,
            edge_epsilon=edge.epsilon,
        )
        model_files.write_config(FLAGS.output_dir, baked)
    if "tflite" in FLAGS.formats:
        for variant, path in tflite.export_tflite(
            model, FLAGS.output_dir, FLAGS.tflite_variants, images, edge
        ).items():
            print(f"TFLite {variant}: {path} ({os.path.getsize(path) / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    cli.run(main, define_flags)
