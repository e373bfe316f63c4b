"""SavedModel export for TF Serving.

Layout: OUTPUT/saved_model/colorizer/<version>/ (TF Serving's --model_base_path is
OUTPUT/saved_model/colorizer). Signatures:

  serving_default            image uint8 (batch, H, W, 1|3|4) -> rgb uint8 (batch, H, W, 3),
                             ab float32 (batch, H, W, 2), class_probs (batch, num_classes)
  colorize_with_temperature  the same with temperature float32 () as a second input
  colorize_with_hints        (models trained with hints) image, hint_points float32
                             (batch, N, 2) (x, y) in pixels of each photo, hint_rgb uint8
                             (batch, N, 3) the colour each point should have -> the
                             outputs of serving_default; points with a negative
                             coordinate are padding (photos with fewer hints than N); a
                             point outside its photo is InvalidArgument. At the exported
                             temperature
  colorize_with_hints_and_temperature
                             the same with temperature float32 () as a fourth input
  colorize_bytes_with_hints  (models trained with hints) image_bytes and the same hint_points,
                             hint_rgb -> png_bytes, class_probs
  colorize_bytes             image_bytes string (batch,) JPEG/PNG -> png_bytes string (batch,),
                             class_probs; TF Serving's REST API base64-codes *_bytes tensors
  logits                     L float32 (batch, S, S, 1) -> color_logits, class_logits (raw
                             network outputs with no hint, for parity checks)

A model without a class branch returns class_probs of width 0.

Speed at batch 1 (benchmarks.run): with `xla=True` the network's forward pass at its fixed
S x S runs as an XLA-compiled function inside every signature (TF Serving and
tf.saved_model.load run it compiled; one compilation per batch size), while the photo-sized
decoding around it stays dynamic. It is off by default: the README's table says when it
pays. `bfloat16_copy` gives the same network under Keras' mixed_bfloat16 policy (bfloat16
matmuls and convolutions, float32 outputs) for CPUs with AVX512_BF16 or AMX.
"""

import os

import keras
import tensorflow as tf

from colorization.archive.photo_files import DEFAULT_MAX_PIXELS
from colorization.core import bins, guided
from colorization.core import hints as hint_maps
from colorization.inference import decoding as inference
from colorization.model.network import input_size, model_inputs, takes_hints, with_dtype_policy

PRECISIONS = ("float32", "bfloat16")


def bfloat16_copy(model, model_config):
    """`model` rebuilt under mixed_bfloat16 (its ModelConfig) with the same weights."""
    return with_dtype_policy(model, model_config, "mixed_bfloat16")


def _colorize(model, image, temperature, network=None, hints=None, edge=guided.OFF):
    result = inference.colorize_tensor(model, image, temperature, network, hints, edge)
    if "class_probs" not in result:
        result["class_probs"] = tf.zeros([tf.shape(image)[0], 0], tf.float32)
    return result


def _big_endian(raw, start):
    value = tf.constant(0, tf.int64)
    for i in range(4):
        value = value * 256 + tf.cast(raw[start + i], tf.int64)
    return value


def _little_endian(raw, start, count):
    value = tf.constant(0, tf.int64)
    for i in reversed(range(count)):
        value = value * 256 + tf.cast(raw[start + i], tf.int64)
    return value


def header_size(image_bytes):
    """(height, width) of an encoded PNG, JPEG, GIF or BMP read from its header alone, as
    int64 scalars; (0, 0) for a format whose header is not read here (decoding then decides)."""
    head = tf.io.decode_raw(tf.strings.substr(image_bytes, 0, 26), tf.uint8)
    head = tf.concat([head, tf.zeros([26], tf.uint8)], 0)[:26]  # short inputs: zeros

    def png():
        return _big_endian(head, 20), _big_endian(head, 16)

    def jpeg():
        shape = tf.cast(tf.image.extract_jpeg_shape(image_bytes), tf.int64)
        return shape[0], shape[1]

    def gif():
        return _little_endian(head, 8, 2), _little_endian(head, 6, 2)

    def bmp():
        height = _little_endian(head, 22, 4)
        height = tf.where(height >= 2**31, 2**32 - height, height)  # top-down rows
        return height, _little_endian(head, 18, 4)

    def unknown():
        return tf.constant(0, tf.int64), tf.constant(0, tf.int64)

    magic = tf.strings.substr(image_bytes, 0, 8)
    return tf.case(
        [
            (tf.equal(magic, b"\x89PNG\r\n\x1a\n"), png),
            (tf.equal(tf.strings.substr(magic, 0, 3), b"\xff\xd8\xff"), jpeg),
            (tf.equal(tf.strings.substr(magic, 0, 4), b"GIF8"), gif),
            (tf.equal(tf.strings.substr(magic, 0, 2), b"BM"), bmp),
        ],
        default=unknown,
        exclusive=False,
    )


def _checked_size(image_bytes, max_pixels):
    """An op that fails with InvalidArgument naming the size and the limit when the header
    of `image_bytes` gives more than `max_pixels` pixels."""
    height, width = header_size(image_bytes)
    return tf.debugging.Assert(
        height * width <= max_pixels,
        [
            tf.strings.format(
                "image of {} x {} pixels is larger than the limit of {} pixels "
                "(export --max_pixels)",
                (width, height, tf.constant(max_pixels, tf.int64)),
            )
        ],
    )


def _colorize_one_encoded(
    model,
    image_bytes,
    temperature,
    network=None,
    points=None,
    rgb=None,
    edge=guided.OFF,
    max_pixels=DEFAULT_MAX_PIXELS,
):
    with tf.control_dependencies([_checked_size(image_bytes, max_pixels)]):
        image = tf.io.decode_image(image_bytes, channels=3, dtype=tf.uint8, expand_animations=False)
    maps = None
    if points is not None:
        shape = tf.shape(image)
        maps = hint_maps.checked_user_hint_map(points, rgb, shape[0], shape[1], input_size(model))[
            None
        ]
    result = _colorize(model, image[tf.newaxis], temperature, network, maps, edge)
    return tf.io.encode_png(result["rgb"][0]), result["class_probs"][0]


def build_archive(
    model,
    temperature=bins.DEFAULT_TEMPERATURE,
    xla=False,
    edge=guided.OFF,
    max_pixels=DEFAULT_MAX_PIXELS,
):
    """A keras.export.ExportArchive holding the model and its signatures (four, and the
    three hint signatures for a model that takes hints).

    xla: run the network's forward pass (fixed S x S) as an XLA-compiled function.
    edge: how every colour signature upsamples ab (guided.EdgeAware; default bilinear).
    max_pixels: the bytes signatures refuse an encoded photo of more pixels than this (read
    from its header before decoding), with InvalidArgument naming its size.
    """
    archive = keras.export.ExportArchive()
    archive.track(model)
    size = input_size(model)
    hinted = takes_hints(model)
    default_temperature = float(temperature)
    num_classes = model.get_layer("class_logits").units if "class_logits" in model.output else 0
    network = tf.function(
        lambda inputs: model(inputs, training=False), jit_compile=bool(xla), reduce_retracing=True
    )

    def serving_default(image):
        return _colorize(model, image, default_temperature, network, edge=edge)

    def colorize_with_temperature(image, temperature):
        return _colorize(model, image, temperature, network, edge=edge)

    def colorize_hinted(image, hint_points, hint_rgb, temperature):
        shape = tf.shape(image)
        maps = hint_maps.photo_hint_maps(hint_points, hint_rgb, shape[1], shape[2], size)
        return _colorize(model, image, temperature, network, maps, edge)

    def colorize_with_hints(image, hint_points, hint_rgb):
        return colorize_hinted(image, hint_points, hint_rgb, default_temperature)

    def colorize_with_hints_and_temperature(image, hint_points, hint_rgb, temperature):
        return colorize_hinted(image, hint_points, hint_rgb, temperature)

    def colorize_bytes(image_bytes):
        png, probs = tf.map_fn(
            lambda b: _colorize_one_encoded(
                model, b, default_temperature, network, edge=edge, max_pixels=max_pixels
            ),
            image_bytes,
            fn_output_signature=(
                tf.TensorSpec([], tf.string),
                tf.TensorSpec([num_classes], tf.float32),
            ),
        )
        return {"png_bytes": png, "class_probs": probs}

    def colorize_bytes_with_hints(image_bytes, hint_points, hint_rgb):
        png, probs = tf.map_fn(
            lambda args: _colorize_one_encoded(
                model,
                *args[:1],
                default_temperature,
                network,
                *args[1:],
                edge=edge,
                max_pixels=max_pixels,
            ),
            (image_bytes, hint_points, hint_rgb),
            fn_output_signature=(
                tf.TensorSpec([], tf.string),
                tf.TensorSpec([num_classes], tf.float32),
            ),
        )
        return {"png_bytes": png, "class_probs": probs}

    def logits(L):  # noqa: N803 - the tensor's name in the signature
        return {k: tf.cast(v, tf.float32) for k, v in network(model_inputs(model, L)).items()}

    image_spec = tf.TensorSpec([None, None, None, None], tf.uint8, name="image")
    archive.add_endpoint("serving_default", serving_default, [image_spec])
    archive.add_endpoint(
        "colorize_with_temperature",
        colorize_with_temperature,
        [image_spec, tf.TensorSpec([], tf.float32, name="temperature")],
    )
    if hinted:
        hint_specs = [
            tf.TensorSpec([None, None, 2], tf.float32, name="hint_points"),
            tf.TensorSpec([None, None, 3], tf.uint8, name="hint_rgb"),
        ]
        archive.add_endpoint("colorize_with_hints", colorize_with_hints, [image_spec, *hint_specs])
        archive.add_endpoint(
            "colorize_with_hints_and_temperature",
            colorize_with_hints_and_temperature,
            [image_spec, *hint_specs, tf.TensorSpec([], tf.float32, name="temperature")],
        )
    archive.add_endpoint(
        "colorize_bytes", colorize_bytes, [tf.TensorSpec([None], tf.string, name="image_bytes")]
    )
    if hinted:
        archive.add_endpoint(
            "colorize_bytes_with_hints",
            colorize_bytes_with_hints,
            [
                tf.TensorSpec([None], tf.string, name="image_bytes"),
                tf.TensorSpec([None, None, 2], tf.float32, name="hint_points"),
                tf.TensorSpec([None, None, 3], tf.uint8, name="hint_rgb"),
            ],
        )
    archive.add_endpoint(
        "logits", logits, [tf.TensorSpec([None, size, size, 1], tf.float32, name="L")]
    )
    return archive


def export_saved_model(
    model,
    output_dir,
    version=1,
    temperature=bins.DEFAULT_TEMPERATURE,
    xla=False,
    name="colorizer",
    edge=guided.OFF,
    max_pixels=DEFAULT_MAX_PIXELS,
):
    """Writes OUTPUT_DIR/saved_model/<name>/<version>/ and returns that path."""
    path = os.path.join(output_dir, "saved_model", name, str(int(version)))
    if tf.io.gfile.exists(path):
        raise FileExistsError(
            f"{path} exists; TF Serving versions are immutable. Use another --version."
        )
    build_archive(model, temperature, xla, edge, max_pixels).write_out(path, verbose=False)
    return path
