"""The 313 quantized ab bins of Zhang et al. 2016: table, encoding and decoding.

The ab plane is cut into squares of side 10; the 313 bins are the square centres that
Zhang et al. kept (grid 10, a in [-90, 100], b in [-110, 100]). Every sRGB colour rounds to
one of them. The table is stored here as facts: for each value of a, the contiguous run of
b values it holds, in the reference order (a ascending, then b ascending).

Encoding turns an ab map into targets for the colour loss; decoding turns a 313-way
distribution back into ab with the annealed mean. Both are TensorFlow ops that run in
`tf.data`, `tf.function`, SavedModel and TFLite graphs.
"""

import tensorflow as tf

from colorization.core import config
from colorization.core.gamut import GRID_SIZE, bin_centers  # noqa: F401

NUM_BINS = config.NUM_BINS
DEFAULT_SIGMA = 5.0
DEFAULT_NUM_NEIGHBORS = 5
DEFAULT_TEMPERATURE = config.DEFAULT_TEMPERATURE


def _centers_tensor():
    return tf.constant(bin_centers(), dtype=tf.float32)


def _check_ab(ab):
    ab = tf.convert_to_tensor(ab, dtype=tf.float32)
    if ab.shape.rank is not None and ab.shape[-1] is not None and ab.shape[-1] != 2:
        raise ValueError(f"ab must have 2 channels in its last axis. Received: shape={ab.shape}")
    return ab


def _squared_distances(points, centers):
    """Squared distances (n, 313) between points (n, 2) and centres (313, 2).

    Expanded as |p|^2 - 2 p.c + |c|^2 so that no (n, 313, 2) difference tensor is built.
    """
    cross = tf.matmul(points, centers, transpose_b=True)
    # (n, 1) + (1, 313) - 2 (n, 313)
    dist = (
        tf.reduce_sum(tf.square(points), axis=-1, keepdims=True)
        + tf.reduce_sum(tf.square(centers), axis=-1)[tf.newaxis, :]
        - 2.0 * cross
    )
    return tf.maximum(dist, 0.0)


def _nearest_bins(ab, num_neighbors, chunk_size):
    """Indices (..., k) and squared distances (..., k) of the k nearest bins, nearest first.

    Pixels are processed in chunks of `chunk_size`, so memory stays at chunk_size x 313 floats
    whatever the batch and spatial size.
    """
    ab = _check_ab(ab)
    centers = _centers_tensor()
    leading_shape = tf.shape(ab)[:-1]
    points = tf.reshape(ab, [-1, 2])
    num_points = tf.shape(points)[0]
    num_chunks = (num_points + chunk_size - 1) // chunk_size
    padded = tf.pad(points, [[0, num_chunks * chunk_size - num_points], [0, 0]])
    chunks = tf.reshape(padded, [num_chunks, chunk_size, 2])

    @tf.autograph.experimental.do_not_convert  # straight TensorFlow, traced as written
    def nearest_in_chunk(chunk):
        # (chunk_size, 313) -> top k of the negated distances = k nearest.
        neg_dist, indices = tf.math.top_k(-_squared_distances(chunk, centers), k=num_neighbors)
        return -neg_dist, indices

    dists, indices = tf.map_fn(
        nearest_in_chunk,
        chunks,
        fn_output_signature=(
            tf.TensorSpec([chunk_size, num_neighbors], tf.float32),
            tf.TensorSpec([chunk_size, num_neighbors], tf.int32),
        ),
    )
    out_shape = tf.concat([leading_shape, [num_neighbors]], axis=0)
    dists = tf.reshape(tf.reshape(dists, [-1, num_neighbors])[:num_points], out_shape)
    indices = tf.reshape(tf.reshape(indices, [-1, num_neighbors])[:num_points], out_shape)
    return indices, dists


def hard_encode(ab, chunk_size=4096):
    """Index of the nearest bin for every ab pixel.

    Args:
      ab: float tensor (..., 2) in ab units.
      chunk_size: pixels per distance block; bounds memory.

    Returns:
      int32 tensor (...) with values in [0, 313).
    """
    indices, _ = _nearest_bins(ab, 1, chunk_size)
    return indices[..., 0]


def soft_encode(ab, num_neighbors=DEFAULT_NUM_NEIGHBORS, sigma=DEFAULT_SIGMA, chunk_size=4096):
    """Sparse soft encoding: the k nearest bins weighted by a Gaussian of their distance.

    Stored sparsely (k indices and k probabilities) instead of a dense 313-vector: the colour
    loss gathers the k log-probabilities it needs, so a dense target is never materialised.

    Args:
      ab: float tensor (..., 2) in ab units.
      num_neighbors: k, how many bins share each pixel's mass (k = 1 is the hard encoding).
      sigma: standard deviation of the Gaussian in ab units.
      chunk_size: pixels per distance block; bounds memory.

    Returns:
      indices: int32 (..., k), nearest first (indices[..., 0] is the hard encoding).
      probs: float32 (..., k), non-negative, summing to 1 over the last axis.
    """
    if not 1 <= num_neighbors <= NUM_BINS:
        raise ValueError(
            f"num_neighbors must be in [1, {NUM_BINS}]. Received: num_neighbors={num_neighbors}"
        )
    if sigma <= 0:
        raise ValueError(f"sigma must be positive. Received: sigma={sigma}")
    indices, dists = _nearest_bins(ab, num_neighbors, chunk_size)
    # Subtracting the nearest distance before exp() keeps the weights finite for any ab,
    # even far outside the gamut; it cancels in the normalisation.
    logits = -(dists - dists[..., :1]) / (2.0 * sigma * sigma)
    probs = tf.nn.softmax(logits, axis=-1)
    return indices, probs


def annealed_mean_from_logits(logits, temperature=DEFAULT_TEMPERATURE):
    """Decodes colour logits (..., 313) to ab (..., 2) with the annealed mean.

    softmax(log p / T) equals softmax(logits / T), because log p and the logits differ by a
    constant per pixel. T = 1 gives the mean of the distribution; T -> 0 tends to its mode.
    The softmax subtracts the maximum first, so T = 0.01 or logits of 1e4 stay finite.

    Args:
      logits: float tensor (..., 313).
      temperature: float > 0, a Python number or a scalar tensor.

    Returns:
      float32 tensor (..., 2) in ab units.
    """
    logits = tf.cast(logits, tf.float32)
    temperature = tf.cast(temperature, tf.float32)
    scaled = logits / temperature
    scaled = scaled - tf.reduce_max(scaled, axis=-1, keepdims=True)
    weights = tf.exp(scaled)
    weights = weights / tf.reduce_sum(weights, axis=-1, keepdims=True)
    # A (..., 313) x (313, 2) product written as a matmul over flattened pixels.
    flat = tf.reshape(weights, [-1, NUM_BINS])
    ab = tf.matmul(flat, _centers_tensor())
    return tf.reshape(ab, tf.concat([tf.shape(logits)[:-1], [2]], axis=0))
