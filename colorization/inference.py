"""From model outputs to coloured images, in TensorFlow ops shared by evaluation, the
colorize CLI and the exported graphs.

The network sees L resized to S x S and predicts ab at S/4 x S/4. The ab map is decoded
with the annealed mean, upsampled (bilinear) to the ORIGINAL resolution and joined with the
ORIGINAL full-resolution L, so no detail of the photo is lost to the network's resolution.
"""

import tensorflow as tf

from colorization import bins, color


def model_input(lightness, image_size):
    """L (batch, H, W, 1) in [0, 100] resized to the model's (batch, S, S, 1).

    The whole image is squeezed into the square (no crop), so every pixel gets a colour.
    """
    return tf.image.resize(lightness, [image_size, image_size], antialias=True)


def decode_ab(color_logits, height, width, temperature=bins.DEFAULT_TEMPERATURE):
    """Annealed-mean ab of logits (batch, h, w, 313), upsampled to (batch, height, width, 2)."""
    ab = bins.annealed_mean_from_logits(color_logits, temperature)
    return tf.image.resize(ab, tf.stack([height, width]), method="bilinear")


def compose_rgb(lightness, color_logits, temperature=bins.DEFAULT_TEMPERATURE):
    """Full-resolution RGB from full-resolution L and the model's colour logits.

    Args:
      lightness: float (batch, H, W, 1), L in [0, 100], at the original resolution.
      color_logits: float (batch, h, w, 313).
      temperature: annealed-mean temperature.

    Returns:
      (rgb float32 (batch, H, W, 3) in [0, 1], ab float32 (batch, H, W, 2)).
    """
    lightness = tf.cast(lightness, tf.float32)
    shape = tf.shape(lightness)
    ab = decode_ab(color_logits, shape[1], shape[2], temperature)
    rgb = color.lab_to_rgb(tf.concat([lightness, ab], axis=-1))
    return rgb, ab


def to_uint8(rgb):
    """float RGB in [0, 1] -> uint8, rounded."""
    return tf.cast(tf.round(tf.clip_by_value(rgb, 0.0, 1.0) * 255.0), tf.uint8)
