"""TFLite (LiteRT) export in four variants.

Every variant's graph takes
    grey         uint8 (1, S, S, 1), grey sRGB pixels of the photo resized to the model size
    temperature  float32 (1,), the annealed-mean temperature (0.38 is the default)
and, for a model trained with hints, also
    hint_points  float32 (1, MAX_USER_POINTS, 2), (x, y) of each hint in pixels of the S x S
                 grey input; rows with a negative coordinate are padding
    hint_rgb     uint8 (1, MAX_USER_POINTS, 3), the colour each point should have
(rasterised in the graph by colorization.core.hints.user_hint_map, as in the SavedModel);
and returns
    ab           float32 (1, S/4, S/4, 2), decoded colour
    ab_slope     float32 (1, S/4, S/4, 2), ab_offset the same: edge-aware decoding's
                 coefficients (colorization.core.guided), with the radius and epsilon the
                 file was exported with (config.json beside it records them); at radius 0
                 the slope is 0 and the offset is ab
    class_probs  float32 (1, num_classes) (width 0 without a class branch)

Returning ab rather than RGB keeps full resolution on the device: the app upsamples ab_slope
and ab_offset to the photo's size and computes ab = ab_slope * L/100 + ab_offset with the
photo's own L (or upsamples ab alone: plain bilinear decoding), then joins ab with L
(colorization/tflite_colorize.py shows how in NumPy), which a fixed-size graph cannot do.

Variants: float32; float16 weights; dynamic-range int8 (int8 weights, float activations);
full-integer int8 (weights and activations, calibrated on a representative set of training
images).
"""

import os

import numpy as np
import tensorflow as tf

from colorization.core import bins, color, guided
from colorization.core import hints as hint_maps
from colorization.model.network import input_size, model_inputs, takes_hints

VARIANTS = ("float32", "float16", "dynamic_int8", "int8")


def _tflite_archive(model, edge=guided.OFF):
    """A keras.export.ExportArchive with one signature: (grey, temperature[, hint_points,
    hint_rgb]) -> ab, ab_slope, ab_offset, class_probs (edge: guided.EdgeAware).

    ExportArchive tracks the Keras 3 variables so that the converter can freeze them.
    """
    import keras

    size = input_size(model)
    has_class = "class_logits" in model.output
    hinted = takes_hints(model)

    def colorize(grey, temperature, hint_points=None, hint_rgb=None):
        rgb = tf.tile(tf.cast(grey, tf.float32) / 255.0, [1, 1, 1, 3])
        maps = None
        if hinted:
            maps = hint_maps.user_hint_map(hint_points[0], hint_rgb[0], size, size, size)[None]
        lightness = color.rgb_to_lightness(rgb)
        outputs = model(model_inputs(model, lightness, maps), training=False)
        ab = bins.annealed_mean_from_logits(outputs["color_logits"], temperature[0])
        slope, offset = guided.coefficients(ab, lightness, edge)
        probs = (
            tf.nn.softmax(tf.cast(outputs["class_logits"], tf.float32))
            if has_class
            else tf.zeros([1, 0], tf.float32)
        )
        return {"ab": ab, "ab_slope": slope, "ab_offset": offset, "class_probs": probs}

    archive = keras.export.ExportArchive()
    archive.track(model)
    specs = [
        tf.TensorSpec([1, size, size, 1], tf.uint8, name="grey"),
        tf.TensorSpec([1], tf.float32, name="temperature"),
    ]
    if hinted:
        count = hint_maps.MAX_USER_POINTS
        specs += [
            tf.TensorSpec([1, count, 2], tf.float32, name="hint_points"),
            tf.TensorSpec([1, count, 3], tf.uint8, name="hint_rgb"),
        ]
    archive.add_endpoint("serving_default", colorize, specs)
    return archive


def representative_greys(images, image_size, limit=64, hints=False):
    """Calibration inputs for full-integer quantisation: uint8 RGB photos -> grey S x S, and
    with `hints`, a random number of points (0 to MAX_USER_POINTS, one photo in eight none)
    holding the photo's own colours, so that the hint path is calibrated on real ranges."""
    rng = np.random.default_rng(0)
    for image in images[:limit]:
        rgb = tf.clip_by_value(
            tf.image.resize(
                tf.cast(image, tf.float32) / 255.0, [image_size, image_size], antialias=True
            ),
            0.0,
            1.0,
        )
        grey = grey_from_rgb(rgb)
        inputs = {
            "grey": color.to_uint8(grey)[tf.newaxis],
            "temperature": tf.constant([bins.DEFAULT_TEMPERATURE]),
        }
        if hints:
            count = hint_maps.MAX_USER_POINTS
            used = int(rng.integers(0, count + 1)) if rng.random() > 1 / 8 else 0
            points = np.full((count, 2), -1.0, np.float32)
            points[:used] = rng.integers(0, image_size, (used, 2))
            colours = np.zeros((count, 3), np.uint8)
            pixels = color.to_uint8(rgb).numpy()
            colours[:used] = pixels[points[:used, 1].astype(int), points[:used, 0].astype(int)]
            inputs["hint_points"] = tf.constant(points[None])
            inputs["hint_rgb"] = tf.constant(colours[None])
        yield inputs


def grey_from_rgb(rgb):
    """The grey sRGB (..., 1) in [0, 1] with the same CIELAB L as rgb (..., 3) in [0, 1]."""
    return color.lightness_to_rgb(color.rgb_to_lightness(rgb))[..., :1]


def convert(model, variants, representative_images=None, edge=guided.OFF):
    """{variant: TFLite flatbuffer bytes} of `model`, every variant converted from one
    written archive (edge: the edge-aware decoding its ab_slope and ab_offset carry)."""
    for variant in variants:
        if variant not in VARIANTS:
            raise ValueError(f"variant must be one of {VARIANTS}. Received: variant={variant!r}")
        if variant == "int8" and (representative_images is None or not len(representative_images)):
            raise ValueError("The int8 variant needs representative training images.")
    import tempfile

    # Converting through a SavedModel keeps the signature names (grey, temperature -> ab,
    # class_probs) that the interpreter's signature runner exposes. It is written once and
    # every variant is converted from it.
    contents = {}
    with tempfile.TemporaryDirectory() as directory:
        _tflite_archive(model, edge).write_out(directory, verbose=False)
        for variant in variants:
            converter = tf.lite.TFLiteConverter.from_saved_model(directory)
            converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
            if variant == "float16":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.target_spec.supported_types = [tf.float16]
            elif variant == "dynamic_int8":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
            elif variant == "int8":
                converter.optimizations = [tf.lite.Optimize.DEFAULT]
                converter.representative_dataset = lambda: representative_greys(
                    representative_images, input_size(model), hints=takes_hints(model)
                )
                # Builtin int8 kernels plus float fallbacks for the colour maths at the edges.
                converter.target_spec.supported_ops = [
                    tf.lite.OpsSet.TFLITE_BUILTINS_INT8,
                    tf.lite.OpsSet.TFLITE_BUILTINS,
                ]
            contents[variant] = converter.convert()
    return contents


def export_tflite(
    model, output_dir, variants=VARIANTS, representative_images=None, edge=guided.OFF
):
    """Writes OUTPUT_DIR/tflite/colorizer_<variant>.tflite for each variant; returns paths."""
    directory = os.path.join(output_dir, "tflite")
    os.makedirs(directory, exist_ok=True)
    paths = {}
    for variant, content in convert(model, variants, representative_images, edge).items():
        path = os.path.join(directory, f"colorizer_{variant}.tflite")
        with open(path, "wb") as f:
            f.write(content)
        paths[variant] = path
    return paths


def sample_images(source_spec, count=64, data_dir=None, data_root=None):
    """uint8 photos from a data source, for calibration (relative folders under data_root)."""
    from data_prep import audit, sources

    source = sources.load_source(source_spec, "train", data_dir, data_root=data_root)
    images = []
    for element in source.dataset.take(count):
        images.append(audit.decode_image(element["image_bytes"]).numpy())
    return images
