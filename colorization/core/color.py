"""sRGB <-> CIELAB conversion (D65 white, 2 degree observer) in TensorFlow ops.

The formulas and constants are those of scikit-image (`skimage.color.rgb2lab`), so the two
agree to float32 precision. Only element-wise arithmetic, `tf.where` and `tf.pow` are used:
the functions run eagerly, inside `tf.data.Dataset.map`, inside `tf.function`, in a
SavedModel and in a TFLite graph made of builtin ops.

Ranges: RGB float in [0, 1]; L in [0, 100]; a and b roughly in [-110, 110] for sRGB colours.
"""

import tensorflow as tf

# Linear sRGB -> XYZ (rows: X, Y, Z), the matrix skimage uses.
_XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
# Its inverse, computed once in float64 so the round trip is exact to float32.
_RGB_FROM_XYZ = (
    (3.2404813432005266, -1.5371515162713185, -0.4985363261688878),
    (-0.9692549499965682, 1.8759900014898907, 0.0415559265582928),
    (0.0556466391351772, -0.2040413383665112, 1.0573110696453443),
)
# CIE XYZ of the D65 reference white, 2 degree observer.
D65_WHITE = (0.95047, 1.0, 1.08883)

# CIELAB's piecewise cube root switches to a line below (6/29)^3.
_LAB_EPSILON = 0.008856
_LAB_SLOPE = 7.787
_LAB_OFFSET = 16.0 / 116.0
# The same switch point on the other side of f(t), where f = 6/29.
_LAB_F_THRESHOLD = 0.2068966


def _mix_channels(x, matrix):
    """Applies a 3x3 colour matrix to the last axis with plain multiply-adds.

    Written out per channel instead of `tf.linalg.matmul` so that any leading shape works
    and TFLite sees only MUL and ADD.
    """
    c0, c1, c2 = tf.unstack(x, num=3, axis=-1)
    rows = [m0 * c0 + m1 * c1 + m2 * c2 for (m0, m1, m2) in matrix]
    return tf.stack(rows, axis=-1)


def _check_channels(x, name):
    if x.shape.rank is not None and x.shape[-1] is not None and x.shape[-1] != 3:
        raise ValueError(f"{name} must have 3 channels in its last axis. Received: shape={x.shape}")


def rgb_to_lab(rgb):
    """Converts sRGB to CIELAB.

    Args:
      rgb: float tensor (..., 3), sRGB in [0, 1]. Values outside are clipped.

    Returns:
      float32 tensor (..., 3): L in [0, 100], a and b about [-110, 110].
    """
    rgb = tf.convert_to_tensor(rgb)
    _check_channels(rgb, "rgb")
    rgb = tf.clip_by_value(tf.cast(rgb, tf.float32), 0.0, 1.0)
    # sRGB companding to linear light.
    linear = tf.where(
        rgb <= 0.04045,
        rgb / 12.92,
        tf.pow((tf.maximum(rgb, 0.04045) + 0.055) / 1.055, 2.4),
    )
    xyz = _mix_channels(linear, _XYZ_FROM_RGB) / tf.constant(D65_WHITE)
    # The cube root of the Lab transfer function; max() keeps pow away from 0 in the branch
    # that tf.where discards, so no NaN or Inf can leak into gradients.
    f = tf.where(
        xyz > _LAB_EPSILON,
        tf.pow(tf.maximum(xyz, _LAB_EPSILON), 1.0 / 3.0),
        _LAB_SLOPE * xyz + _LAB_OFFSET,
    )
    fx, fy, fz = tf.unstack(f, num=3, axis=-1)
    lightness = 116.0 * fy - 16.0
    a = 500.0 * (fx - fy)
    b = 200.0 * (fy - fz)
    return tf.stack([lightness, a, b], axis=-1)


def lab_to_rgb(lab):
    """Converts CIELAB to sRGB, clipping colours outside the sRGB gamut.

    Args:
      lab: float tensor (..., 3): L in [0, 100], a and b in any range.

    Returns:
      float32 tensor (..., 3), sRGB in [0, 1]. Out-of-gamut colours are clipped per channel,
      never NaN or Inf.
    """
    lab = tf.convert_to_tensor(lab)
    _check_channels(lab, "lab")
    lab = tf.cast(lab, tf.float32)
    lightness, a, b = tf.unstack(lab, num=3, axis=-1)
    fy = (lightness + 16.0) / 116.0
    fx = fy + a / 500.0
    # Like skimage, negative Z (impossible colours) is clipped to zero.
    fz = tf.maximum(fy - b / 200.0, 0.0)
    f = tf.stack([fx, fy, fz], axis=-1)
    xyz = tf.where(
        f > _LAB_F_THRESHOLD,
        f * f * f,
        (f - _LAB_OFFSET) / _LAB_SLOPE,
    )
    linear = _mix_channels(xyz * tf.constant(D65_WHITE), _RGB_FROM_XYZ)
    rgb = tf.where(
        linear > 0.0031308,
        1.055 * tf.pow(tf.maximum(linear, 0.0031308), 1.0 / 2.4) - 0.055,
        12.92 * linear,
    )
    return tf.clip_by_value(rgb, 0.0, 1.0)


def to_uint8(rgb):
    """float RGB in [0, 1] -> uint8 in [0, 255], clipped and rounded to nearest: the one
    rounding of every TensorFlow path (NumPy's twin: tflite_colorize.py, which has no TF)."""
    return tf.cast(tf.round(tf.clip_by_value(rgb, 0.0, 1.0) * 255.0), tf.uint8)


def rgb_to_lightness(rgb):
    """L channel (..., 1) in [0, 100] of sRGB (..., 3) in [0, 1]: the model's input."""
    return rgb_to_lab(rgb)[..., :1]


def lightness_to_rgb(lightness):
    """The grey sRGB (..., 3) in [0, 1] that has lightness L (..., 1) and a = b = 0."""
    zeros = tf.zeros_like(lightness)
    return lab_to_rgb(tf.concat([lightness, zeros, zeros], axis=-1))
