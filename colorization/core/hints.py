"""Colour hints: a few points of known colour that the network is asked to follow.

A hint map is float32 (S, S, 3) at the network's input size: channels a and b (CIELAB, in ab
units, about [-110, 110]) where a hint lies and 0 elsewhere, and a mask (1 where a hint
lies). All zeros means "no hint": the network colours automatically.

Two things make hint maps, both with the same rasterisation (`hint_map`):
- training simulates them from the photo's true colours as Zhang et al. 2017 did
  (`simulate_hints`): a geometric number of points (at each draw, stop with probability
  1/8: one photo in eight gets none, seven points on average), each a square patch of 1 to 9
  pixels, placed around the centre or uniformly, holding the patch's mean true ab; the share
  of photos without points can be set apart from the count of the others, which keeps its
  geometric shape;
- a user's points become patches of USER_PATCH pixels (`user_hint_map`); evaluation's hint
  counts draw such points from the truth (colorization.evaluation.protocols.drawn_hints).

Pure TensorFlow: runs eagerly, in tf.data, in tf.function and in exported graphs.
"""

import tensorflow as tf

from colorization.core import color
from colorization.core.config import HINT_CHANNELS

# Zhang et al. 2017: stop adding points with this probability at each draw.
STOP_PROBABILITY = 1.0 / 8.0
# The most points one simulated photo gets (a geometric draw beyond it is cut).
MAX_SIMULATED_POINTS = 32
# Side of a simulated patch, in pixels at S: uniform in [1, 9].
MAX_PATCH = 9
# Side of the patch a user's click fills, in pixels at S.
USER_PATCH = 3
# The most user points a fixed-shape graph (TFLite) takes; fewer are padded with points at
# negative coordinates, which are ignored.
MAX_USER_POINTS = 32


def _patch_cover(centers, sizes, image_size):
    """float32 (N, S, S): 1 where square patch n lies, clipped to the image. Patch n covers
    rows (and columns) [top, top + size): the pixel holding its centre, widened evenly."""
    sizes = tf.cast(sizes, tf.float32)
    grid = tf.range(image_size, dtype=tf.float32)
    top = tf.floor(centers - tf.floor((sizes[:, None] - 1.0) / 2.0))
    # (N, S) each: which rows and columns each patch covers.
    rows = (grid[None] >= top[:, :1]) & (grid[None] < top[:, :1] + sizes[:, None])
    cols = (grid[None] >= top[:, 1:]) & (grid[None] < top[:, 1:] + sizes[:, None])
    return tf.cast(rows[:, :, None] & cols[:, None, :], tf.float32)


def hint_map(centers, ab, sizes, image_size, valid=None):
    """Rasterises square hint patches into a hint map.

    Args:
      centers: float32 (N, 2), (row, column) of each patch centre in pixels at S.
      ab: float32 (N, 2), each patch's ab.
      sizes: int32 (N,), each patch's side in pixels (odd sizes are centred exactly).
      image_size: S.
      valid: bool (N,), which points to draw (None = all).

    Returns:
      float32 (S, S, 3): ab where a patch lies (the later patch wins where two overlap),
      mask 1 there; zeros elsewhere.
    """
    centers = tf.convert_to_tensor(centers, tf.float32)
    ab = tf.convert_to_tensor(ab, tf.float32)
    count = tf.shape(centers)[0]
    if valid is None:
        valid = tf.ones([count], tf.bool)
    covers = _patch_cover(centers, sizes, image_size) * tf.cast(valid, tf.float32)[:, None, None]
    # Where patches overlap, the last one drawn gives the colour: keep, per pixel, the
    # highest index of a patch that covers it.
    order = tf.range(1, count + 1, dtype=tf.float32)[:, None, None]
    # (S, S), 0 = none (also when there are no points: the max of nothing is -inf).
    last = tf.maximum(tf.reduce_max(covers * order, axis=0), 0.0)
    mask = tf.cast(last > 0, tf.float32)
    # Row 0 is "no hint" (zero ab), so no points at all is no special case.
    colour = tf.gather(tf.concat([tf.zeros([1, 2]), ab], axis=0), tf.cast(last, tf.int32))
    return tf.concat([colour, mask[..., None]], axis=-1)


def patch_means(ab_image, centers, sizes):
    """The mean ab of each square patch of `ab_image` (S, S, 2); float32 (N, 2)."""
    weights = _patch_cover(tf.convert_to_tensor(centers, tf.float32), sizes, ab_image.shape[0])
    total = tf.einsum("nij,ijc->nc", weights, ab_image)
    area = tf.reduce_sum(weights, axis=[1, 2])[:, None]
    return total / tf.maximum(area, 1.0)


def user_hint_map(points, colours, height, width, image_size):
    """The hint map (S, S, 3) of a user's points: each colour's ab (its L is the photo's own)
    in a patch of USER_PATCH pixels around its point, the photo scaled to S x S.

    Args:
      points: float32 (N, 2), (x, y) in pixels of the photo (x from the left). Points with a
        negative coordinate are padding and ignored, so fixed-shape graphs take any count.
      colours: uint8 (N, 3), the sRGB colour of each point.
      height, width: the photo's size (scalars; tensors in graphs).
      image_size: S.

    Every way in (Python, SavedModel, TFLite) rasterises through this function.
    """
    points = tf.convert_to_tensor(points, tf.float32)
    rgb = tf.cast(tf.convert_to_tensor(colours, tf.uint8), tf.float32) / 255.0
    ab = color.rgb_to_lab(rgb)[..., 1:]
    scale = tf.stack(
        [
            tf.cast(image_size, tf.float32) / tf.cast(height, tf.float32),
            tf.cast(image_size, tf.float32) / tf.cast(width, tf.float32),
        ]
    )
    # (x, y) in the photo -> (row, column) at S.
    centers = tf.floor(tf.reverse(points, axis=[-1]) * scale)
    valid = tf.reduce_all(points >= 0.0, axis=-1)
    sizes = tf.fill([tf.shape(points)[0]], USER_PATCH)
    return hint_map(centers, ab, sizes, image_size, valid)


def checked_user_hint_map(points, colours, height, width, image_size):
    """`user_hint_map` after checking in the graph that each point that is not padding lies
    in the photo: InvalidArgument naming the point and the size otherwise (a point outside
    would be dropped silently), so a graph fed by a caller that does not check (TF Serving)
    fails loudly."""
    points = tf.convert_to_tensor(points, tf.float32)
    limit = tf.cast(tf.stack([width, height]), tf.float32)
    outside = tf.reduce_any(points >= limit, axis=-1) & tf.reduce_all(points >= 0.0, axis=-1)
    check = tf.debugging.Assert(
        tf.logical_not(tf.reduce_any(outside)),
        [
            "hint point (x, y) outside the photo:",
            tf.boolean_mask(points, outside)[:1],
            "expected 0 <= x < width, 0 <= y < height; (width, height) =",
            limit,
        ],
    )
    with tf.control_dependencies([check]):
        return user_hint_map(points, colours, height, width, image_size)


def photo_hint_maps(points, colours, height, width, image_size):
    """Hint maps (batch, S, S, 3) of a batch of photos of one size, each from its own points
    (batch, N, 2) and colours (batch, N, 3) (`checked_user_hint_map`, one photo at a time)."""
    return tf.map_fn(
        lambda pair: checked_user_hint_map(pair[0], pair[1], height, width, image_size),
        (points, colours),
        fn_output_signature=tf.TensorSpec([image_size, image_size, HINT_CHANNELS], tf.float32),
    )


def _points(seed, count, image_size, centred):
    """`count` patch centres (row, column) in pixels at S and their sizes, from a stateless
    seed: around the centre (a Gaussian of standard deviation S/4, clipped) when `centred`,
    else uniform."""
    size = tf.cast(image_size, tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, 3)
    gaussian = size / 2.0 + size / 4.0 * tf.random.stateless_normal([count, 2], seeds[0])
    uniform = tf.random.stateless_uniform([count, 2], seeds[1], 0.0, size)
    centers = tf.where(centred, gaussian, uniform)
    centers = tf.clip_by_value(tf.floor(centers), 0.0, size - 1.0)
    sizes = tf.random.stateless_uniform([count], seeds[2], 1, MAX_PATCH + 1, dtype=tf.int32)
    return centers, sizes


def simulated_count(seed, no_hint_share=STOP_PROBABILITY):
    """How many points a simulated photo gets: none with probability `no_hint_share` (s),
    else n >= 1 with P(n) = (1 - s) (1 - p)^(n - 1) p, p = STOP_PROBABILITY, at most
    MAX_SIMULATED_POINTS. The default s = p is Zhang et al.'s geometric P(n) = (1 - p)^n p.
    Drawn by inversion from one uniform number u in (0, 1]: none when u > 1 - s, else
    1 + floor(log(u / (1 - s)) / log(1 - p)). int32 scalar."""
    u = 1.0 - tf.random.stateless_uniform([], seed)
    kept = 1.0 - tf.cast(no_hint_share, tf.float32)
    drawn = 1.0 + tf.floor(
        tf.math.log(u / tf.maximum(kept, 1e-12)) / tf.math.log(1.0 - STOP_PROBABILITY)
    )
    count = tf.where(u > kept, 0.0, drawn)
    return tf.minimum(tf.cast(count, tf.int32), MAX_SIMULATED_POINTS)


def simulate_hints(ab_image, seed, no_hint_share=STOP_PROBABILITY):
    """A training hint map of one photo, as Zhang et al. 2017 simulated user points.

    Args:
      ab_image: float32 (S, S, 2), the photo's true ab at the network's input size.
      seed: int64 (2,), a stateless seed (the example's own, so a resumed run repeats it).
      no_hint_share: probability that the photo gets no point (`simulated_count`).

    Returns:
      float32 (S, S, 3).
    """
    image_size = ab_image.shape[0]
    seeds = tf.random.experimental.stateless_split(seed, 3)
    count = simulated_count(seeds[0], no_hint_share)
    centred = tf.random.stateless_uniform([], seeds[1]) < 0.5
    centers, sizes = _points(seeds[2], MAX_SIMULATED_POINTS, image_size, centred)
    valid = tf.range(MAX_SIMULATED_POINTS) < count
    return hint_map(centers, patch_means(ab_image, centers, sizes), sizes, image_size, valid)


def no_hints(batch_size, image_size):
    """The all-zero hint maps (batch, S, S, 3) of automatic colour."""
    return tf.zeros([batch_size, image_size, image_size, HINT_CHANNELS], tf.float32)
