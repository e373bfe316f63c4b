"""The steps around the network, shared by the command line and the Beam pipeline so that
both write the same bytes.

    photo uint8 (H, W, 3) --prepare--> L (H, W, 1), L at S x S (S, S, 1)
    L at S x S, batched --network_ab--> ab (batch, S/4, S/4, 2), or with edge-aware
                                         decoding its slope and offset (batch, S/4, S/4, 4)
    L (H, W, 1), ab (S/4, S/4, 2 or 4) --finish--> coloured uint8 (H, W, 3)

The resizing is the Colorizer's own (TensorFlow's antialiased resize to S x S, bilinear or
edge-aware upsampling of ab, colorization.core.guided), traced once for any photo size; the per-pixel colour conversions are the
float32 NumPy twins of colorization.core.color that the TensorFlow-free runner uses, three to
ten times faster than the TensorFlow ops on a photo, so a coloured photo equals
`Colorizer.colorize`'s to within one level of 255 (tests/test_archive.py). The network always runs on a full batch of `batch_size` (a short last
batch is padded): its float results then do not depend on how the photos were grouped, and a
photo gets the same bytes from the command line and from Beam.
"""

import numpy as np
import tensorflow as tf

from colorization.core import guided
from colorization.core.config import checked_temperature
from colorization.inference.decoding import model_input
from colorization.inference.tflite_runner import lab_to_rgb_u8, lightness

# Photos per network call: past 8 the network's time per photo no longer falls on a 2-core
# CPU (benchmarks.archive), and a batch holds only the small S x S inputs.
DEFAULT_BATCH_SIZE = 8


class Steps:
    """prepare / network_ab / finish at network size S.

    colorizer: the Colorizer whose network `network_ab` runs (None for the steps around it
    alone, as the Beam pipeline's reading and writing stages use them); size: S, default
    the colorizer's; temperature: default the colorizer's. Edge-aware decoding is the
    colorizer's (`Colorizer.edge`).
    """

    def __init__(self, colorizer=None, temperature=None, batch_size=DEFAULT_BATCH_SIZE, size=None):
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1. Received: batch_size={batch_size}")
        if colorizer is None and size is None:
            raise ValueError("Steps needs a colorizer or a network size.")
        self.colorizer = colorizer
        if temperature is None and colorizer is not None:
            temperature = colorizer.temperature
        self.temperature = checked_temperature(temperature)
        self.batch_size = int(batch_size)
        self.size = int(size or colorizer.network_size)
        size = self.size
        self.edge = colorizer.edge if colorizer is not None else guided.OFF
        edge = self.edge

        self._shrink = tf.function(
            lambda full: model_input(full[tf.newaxis, :, :, tf.newaxis], size)[0],
            input_signature=[tf.TensorSpec([None, None], tf.float32)],
            autograph=False,
        )
        self._upsample = tf.function(
            lambda ab, shape: tf.image.resize(ab[tf.newaxis], shape, method="bilinear")[0],
            input_signature=[
                tf.TensorSpec([None, None, 2], tf.float32),
                tf.TensorSpec([2], tf.int32),
            ],
            autograph=False,
        )
        self._coefficients = tf.function(
            lambda ab, small: tf.concat(guided.coefficients(ab, small, edge), axis=-1),
            autograph=False,
        )
        self._apply = tf.function(
            lambda both, full: guided.apply(
                both[tf.newaxis, ..., :2], both[tf.newaxis, ..., 2:], full[tf.newaxis, ..., None]
            )[0],
            input_signature=[
                tf.TensorSpec([None, None, 4], tf.float32),
                tf.TensorSpec([None, None], tf.float32),
            ],
            autograph=False,
        )

    def prepare(self, rgb):
        """uint8 RGB (H, W, 3) -> (L (H, W), L at S x S (S, S, 1)), float32 NumPy."""
        full = lightness(rgb)
        return full, self._shrink(full).numpy()

    def network_ab(self, small):
        """L (n, S, S, 1), n <= batch_size -> ab (n, S/4, S/4, 2), on a padded full batch;
        with edge-aware decoding, its slope and offset instead (n, S/4, S/4, 4)."""
        small = np.asarray(small, np.float32)
        count = len(small)
        if not 0 < count <= self.batch_size:
            raise ValueError(f"1 to {self.batch_size} photos per call. Received: {count}")
        if count < self.batch_size:
            padding = np.zeros((self.batch_size - count, *small.shape[1:]), np.float32)
            small = np.concatenate([small, padding])
        ab = self.colorizer.network_ab(small, self.temperature)[:count]
        if not self.edge.on:
            return ab
        return self._coefficients(tf.constant(ab), tf.constant(small[:count])).numpy()

    def finish(self, full, ab, original=None):
        """The coloured uint8 (H, W, 3) of L (H, W) and what network_ab gave for it (S/4, S/4,
        2 or 4); with `original` (uint8 (H, W, 3)), grey | coloured | original side by side
        (H, 3W, 3)."""
        if ab.shape[-1] == 4:
            ab = self._apply(tf.constant(ab, tf.float32), tf.constant(full, tf.float32))
        else:
            ab = self._upsample(tf.constant(ab, tf.float32), tf.constant(full.shape, tf.int32))
        coloured = lab_to_rgb_u8(np.concatenate([full[..., None], ab.numpy()], -1))
        return coloured if original is None else side_by_side(coloured, original)


def side_by_side(coloured, original):
    """grey | coloured | original, uint8 (H, 3W, 3), from two uint8 (H, W, 3)."""
    grey = np.asarray(tf.image.rgb_to_grayscale(original))
    return np.concatenate([np.repeat(grey, 3, -1), coloured, original], axis=1)
