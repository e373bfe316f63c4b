"""From model outputs to coloured images, in TensorFlow ops shared by evaluation, the
colorize CLI and the exported graphs.

The network sees L resized to S x S and predicts ab at S/4 x S/4. The ab map is decoded
with the annealed mean, upsampled to the ORIGINAL resolution and joined with the ORIGINAL
full-resolution L, so no detail of the photo is lost to the network's resolution. The
upsampling is bilinear, or edge-aware (colorization.core.guided: ab fitted locally as a
linear function of L, so colour edges follow the photo's edges) when the model's config
or the caller asks for it.
"""

import tensorflow as tf

from colorization.core import bins, color, guided
from colorization.model.network import input_size, model_inputs


def model_input(lightness, image_size):
    """L (batch, H, W, 1) in [0, 100] resized to the model's (batch, S, S, 1).

    The whole image is squeezed into the square (no crop), so every pixel gets a colour.
    """
    return tf.image.resize(lightness, [image_size, image_size], antialias=True)


def decode_ab(color_logits, height, width, temperature=bins.DEFAULT_TEMPERATURE):
    """Annealed-mean ab of logits (batch, h, w, 313), upsampled to (batch, height, width, 2)."""
    ab = bins.annealed_mean_from_logits(color_logits, temperature)
    return tf.image.resize(ab, tf.stack([height, width]), method="bilinear")


def compose_rgb(
    lightness,
    color_logits,
    temperature=bins.DEFAULT_TEMPERATURE,
    network_lightness=None,
    edge=guided.OFF,
):
    """Full-resolution RGB from full-resolution L and the model's colour logits.

    Args:
      lightness: float (batch, H, W, 1), L in [0, 100], at the original resolution.
      color_logits: float (batch, h, w, 313).
      temperature: annealed-mean temperature.
      network_lightness: the L the network saw (batch, S, S, 1); needed when `edge` is on.
      edge: `guided.EdgeAware` (default off: bilinear upsampling).

    Returns:
      (rgb float32 (batch, H, W, 3) in [0, 1], ab float32 (batch, H, W, 2)).
    """
    ab = bins.annealed_mean_from_logits(color_logits, temperature)
    return rgb_from_ab(lightness, ab, network_lightness, edge)


def rgb_from_ab(lightness, ab, network_lightness=None, edge=guided.OFF):
    """`compose_rgb` from decoded ab: full-resolution L (batch, H, W, 1) and ab at the
    network's resolution (batch, h, w, 2) -> (rgb (batch, H, W, 3) in [0, 1], ab upsampled
    to (batch, H, W, 2): bilinear, or guided by L when `edge` is on, which needs the L the
    network saw, `network_lightness` (batch, S, S, 1))."""
    lightness = tf.cast(lightness, tf.float32)
    ab = tf.cast(ab, tf.float32)
    if edge.on:
        if network_lightness is None:
            raise ValueError("edge-aware decoding needs the L the network saw.")
        ab = guided.apply(*guided.coefficients(ab, network_lightness, edge), lightness)
    else:
        shape = tf.shape(lightness)
        ab = tf.image.resize(ab, tf.stack([shape[1], shape[2]]), method="bilinear")
    rgb = color.lab_to_rgb(tf.concat([lightness, ab], axis=-1))
    return rgb, ab


def lightness_to_grey(lightness):
    """uint8 grey (batch, S, S, 1) whose L is `lightness` (batch, S, S, 1): what the TFLite
    graphs take."""
    return color.to_uint8(color.lightness_to_rgb(tf.convert_to_tensor(lightness))[..., :1]).numpy()


def to_rgb(image):
    """uint8 (batch, H, W, C) with C = 1 (grey), 3 (RGB) or 4 (RGBA, alpha dropped) -> (.., 3).

    The channel count may be unknown when the graph is traced (SavedModel signatures).
    """
    channels = tf.shape(image)[-1]
    rgb = tf.cond(
        tf.equal(channels, 1),
        lambda: tf.tile(image[..., :1], [1, 1, 1, 3]),
        lambda: image[..., :3],
    )
    rgb.set_shape(image.shape[:-1].concatenate([3]))
    return rgb


def rgb_to_model_lightness(image):
    """uint8 (batch, H, W, 1, 3 or 4) -> full-resolution L (batch, H, W, 1) in [0, 100].

    Colour inputs are made grey first: only their L is kept.
    """
    rgb = tf.cast(to_rgb(tf.convert_to_tensor(image, tf.uint8)), tf.float32) / 255.0
    return color.rgb_to_lightness(rgb)


def colorize_tensor(
    model, image, temperature=bins.DEFAULT_TEMPERATURE, network=None, hints=None, edge=guided.OFF
):
    """The whole inference path in TF ops: uint8 image in, coloured uint8 image out.

    Args:
      model: a Keras model mapping L (batch, S, S, 1) (and, when it takes hints, hint maps)
        to {"color_logits", ["class_logits"]}.
      image: uint8 (batch, H, W, 1 or 3), any H and W.
      temperature: annealed-mean temperature.
      network: what runs the fixed-size forward pass on the model's inputs; default
        `model(inputs, training=False)`. The SavedModel passes an XLA-compiled function
        here, so only the network (fixed S) is compiled, not the photo-sized maths.
      hints: float32 (batch, S, S, 3) hint maps (colorization.core.hints) for a model that
        takes them; None = none (automatic colour).
      edge: `guided.EdgeAware`, how ab is upsampled (default bilinear).

    Returns:
      {"rgb": uint8 (batch, H, W, 3), "ab": float32 (batch, H, W, 2),
       "class_probs": float32 (batch, num_classes) when the model has a class branch}.
    """
    lightness = rgb_to_model_lightness(image)
    image_size = input_size(model)
    network = network or (lambda inputs: model(inputs, training=False))
    small = model_input(lightness, image_size)
    outputs = network(model_inputs(model, small, hints))
    logits = tf.cast(outputs["color_logits"], tf.float32)
    rgb, ab = compose_rgb(lightness, logits, temperature, small, edge)
    result = {"rgb": color.to_uint8(rgb), "ab": ab}
    if "class_logits" in outputs:
        result["class_probs"] = tf.nn.softmax(tf.cast(outputs["class_logits"], tf.float32), axis=-1)
    return result
