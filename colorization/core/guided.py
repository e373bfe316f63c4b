"""Edge-aware decoding: the network's ab, explained locally by the photo's lightness.

The network predicts ab on a grid four times coarser than its input, so plain bilinear
upsampling smears each colour across the edges of the photo and leaves blotches where the
coarse grid changes its mind inside one surface. The guided filter (He, Sun and Tang 2010;
its fast form, He and Sun 2015) fixes both with the photo's own lightness as the guide: in
every window of (2 radius + 1)² cells of the coarse grid, ab is fitted as a linear function
of L,

    ab ≈ slope · L/100 + offset,   slope = cov(L/100, ab) / (var(L/100) + epsilon),

so ab may change only where L changes (within a window of nearly constant L the slope is
about 0 and the colour is the window's mean), and the coefficients are averaged over the
windows that cover each cell. Upsampled bilinearly to the photo and applied to its
full-resolution L, they put colour edges where the photo's edges are.

`coefficients` runs on the network's grid (S/4) and so inside every exported graph;
`apply` is the per-photo step (TensorFlow here; NumPy in the TensorFlow-free runner, which
gets the coefficients from the graph). radius = 0 turns it off: slope 0 and offset = ab,
which `apply` upsamples exactly as plain bilinear decoding does.

Windows at the border average only the cells inside the grid (average pooling with "SAME"
padding counts valid cells only, in TensorFlow and in TFLite alike).
"""

import dataclasses

import tensorflow as tf

# epsilon is a variance of L/100: 0.01 lets L vary by about 10 units in a window before
# the colour follows it.
DEFAULT_EPSILON = 0.01


@dataclasses.dataclass(frozen=True)
class EdgeAware:
    """How ab is decoded: radius 0 = plain bilinear upsampling; else the guided filter's
    window radius in cells of the network's output grid, and its epsilon."""

    radius: int = 0
    epsilon: float = DEFAULT_EPSILON

    def __post_init__(self):
        if int(self.radius) != self.radius or self.radius < 0:
            raise ValueError(
                f"edge radius must be an integer >= 0 (0 = off). Received: {self.radius!r}"
            )
        if not self.epsilon > 0:
            raise ValueError(f"edge epsilon must be > 0. Received: {self.epsilon!r}")

    @property
    def on(self):
        return self.radius > 0


OFF = EdgeAware(0)


def resolve(config, radius=None, epsilon=None):
    """The EdgeAware of a model: what its TrainConfig records (off when there is no config),
    with `radius` and `epsilon` instead where they are given."""
    recorded = OFF if config is None else EdgeAware(config.edge_radius, config.edge_epsilon)
    return EdgeAware(
        recorded.radius if radius is None else int(radius),
        recorded.epsilon if epsilon is None else float(epsilon),
    )


def _box(x, radius):
    size = 2 * radius + 1
    return tf.nn.avg_pool2d(x, size, 1, "SAME")


def coefficients(ab, lightness, edge):
    """(slope, offset), each float32 (batch, h, w, 2), of ab on the network's grid.

    Args:
      ab: decoded ab (batch, h, w, 2) on the network's output grid.
      lightness: the L the network saw, (batch, S, S, 1) in [0, 100], S a multiple of h
        (it is average-pooled to the grid).
      edge: `EdgeAware`; off gives (zeros, ab).
    """
    ab = tf.cast(ab, tf.float32)
    if not edge.on:
        return tf.zeros_like(ab), ab
    lightness = tf.cast(lightness, tf.float32) / 100.0
    factor = lightness.shape[1] // ab.shape[1]
    guide = tf.nn.avg_pool2d(lightness, factor, factor, "VALID") if factor > 1 else lightness
    mean_l = _box(guide, edge.radius)
    mean_ab = _box(ab, edge.radius)
    var_l = _box(guide * guide, edge.radius) - mean_l * mean_l
    cov = _box(guide * ab, edge.radius) - mean_l * mean_ab
    slope = cov / (tf.maximum(var_l, 0.0) + edge.epsilon)
    offset = mean_ab - slope * mean_l
    return _box(slope, edge.radius), _box(offset, edge.radius)


def apply(slope, offset, lightness):
    """ab (batch, H, W, 2) at the photo's resolution: slope and offset upsampled
    (bilinear) to the full-resolution L (batch, H, W, 1) in [0, 100] and applied to it."""
    lightness = tf.cast(lightness, tf.float32)
    shape = tf.shape(lightness)
    size = tf.stack([shape[1], shape[2]])
    slope = tf.image.resize(tf.cast(slope, tf.float32), size, method="bilinear")
    offset = tf.image.resize(tf.cast(offset, tf.float32), size, method="bilinear")
    return slope * (lightness / 100.0) + offset
