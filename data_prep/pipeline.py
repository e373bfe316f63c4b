"""The tf.data input pipeline: source elements -> (model inputs, targets).

One straight chain, every step pure TensorFlow (no Python control flow on tensors, so the
mapped functions are traced as written, without AutoGraph's source conversion):

    source -> [drop grey] -> [decode -> cache] -> shuffle(seeded) -> repeat
           -> map(decode, crop/resize, Lab, targets; AUTOTUNE) -> batch -> prefetch

Crop policy. Training: a random resized crop (area 25-100 % of the image, aspect 3/4-4/3)
resized to S x S, and a random horizontal flip, driven by stateless seeds (seed, example
index) so a run is reproducible. Evaluation: the shorter side is resized to S and the
centre S x S is kept (no padding, no distortion).

Element produced (S = image size, k = 1 for hard targets, 5 by default for soft):
    features: {"L": float32 (S, S, 1) in [0, 100]}            (+ "rgb" (S, S, 3) in [0, 1]
                                                               when with_rgb, for evaluation)
    targets:  {"color_logits": float32 (S/4, S/4, 2k + 1)     [indices | probs | weight]
               "class_logits": int32 () dominant label, -1 none   (softmax class loss)
                               or float32 (C,) multi-hot          (sigmoid class loss)}
"""

import dataclasses

import numpy as np
import tensorflow as tf

from colorization.core import bins, color, hints
from colorization.core.config import ENCODINGS, check_image_size
from data_prep import audit

# Share of training photos without hints unless a config says otherwise (Zhang et al. 2017).
NO_HINT_SHARE = hints.STOP_PROBABILITY
# Added to the run's seed for the hint simulation, so that hints and crops draw apart.
_HINT_SEED_OFFSET = 7919


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """How examples are made.

    Attributes:
      image_size: S, side of the L input; the colour target is S/4.
      batch_size: examples per batch (global batch under a distribution strategy).
      training: random crop + flip, shuffle, repeat, drop_remainder; else centre crop.
      encoding: "soft" (k nearest bins, Gaussian sigma) or "hard" (nearest bin).
      num_neighbors: k for soft encoding.
      sigma: Gaussian sigma for soft encoding, in ab units.
      multi_label: class target as multi-hot (sigmoid loss) instead of the dominant id.
      shuffle_buffer: elements in the shuffle buffer.
      seed: seed of shuffling and augmentation.
      deterministic: keep element order fixed in parallel maps (None = tf.data default).
      cache: cache decoded images in memory after the first epoch.
      min_crop_area: smallest fraction of the image a training crop covers.
      drop_grey: remove grey photos when the source was not audited for them.
      with_rgb: also yield the S x S RGB ground truth (for evaluation).
      min_mean_chroma: a training crop whose mean chroma |ab| (at S/4, as the colour target
        sees it) is below this gives no colour loss (its rebalancing weights are zero): near
        grey and sepia photos teach the network to leave colour out. 0 = every crop counts.
      hints: also yield "hints" (S, S, 3): simulated from the crop's true colours when
        training (colorization.core.hints.simulate_hints, seeded per example), all zero
        otherwise (automatic colour).
      no_hint_share: share of training photos simulated without any hint
        (colorization.core.hints.simulated_count; Zhang et al. 2017: 1/8).
    """

    image_size: int = 224
    batch_size: int = 32
    training: bool = True
    encoding: str = "soft"
    num_neighbors: int = bins.DEFAULT_NUM_NEIGHBORS
    sigma: float = bins.DEFAULT_SIGMA
    multi_label: bool = False
    shuffle_buffer: int = 1000
    seed: int = 0
    deterministic: bool | None = None
    cache: bool = False
    min_crop_area: float = 0.25
    drop_grey: bool = True
    with_rgb: bool = False
    min_mean_chroma: float = 0.0
    hints: bool = False
    no_hint_share: float = NO_HINT_SHARE

    def __post_init__(self):
        check_image_size(self.image_size)
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1. Received: batch_size={self.batch_size}")
        if self.encoding not in ENCODINGS:
            raise ValueError(
                f"encoding must be one of {ENCODINGS}. Received: encoding={self.encoding!r}"
            )
        if self.min_mean_chroma < 0:
            raise ValueError(
                f"min_mean_chroma must be >= 0. Received: min_mean_chroma={self.min_mean_chroma}"
            )
        if not 0.0 <= self.no_hint_share <= 1.0:
            raise ValueError(
                f"no_hint_share must be in [0, 1]. Received: no_hint_share={self.no_hint_share}"
            )
        if not 0.05 <= self.min_crop_area <= 1.0:
            raise ValueError(
                f"min_crop_area must be in [0.05, 1]. Received: min_crop_area={self.min_crop_area}"
            )

    @property
    def neighbors(self):
        """k of the packed colour target."""
        return 1 if self.encoding == "hard" else self.num_neighbors


def random_resized_crop(image, size, seed, min_area=0.25):
    """Random crop of 'min_area'-100 % of the image, aspect 3/4-4/3, resized to size x size,
    with a random horizontal flip. `seed` is a stateless seed (2,) int.

    Args:
      image: uint8 (H, W, 3).

    Returns:
      float32 (size, size, 3) in [0, 1].
    """
    crop_seed, flip_seed = tf.unstack(tf.random.experimental.stateless_split(seed, 2))
    begin, crop_size, _ = tf.image.stateless_sample_distorted_bounding_box(
        tf.shape(image),
        bounding_boxes=tf.constant([[[0.0, 0.0, 1.0, 1.0]]]),
        seed=crop_seed,
        min_object_covered=0.0,
        aspect_ratio_range=(3.0 / 4.0, 4.0 / 3.0),
        area_range=(min_area, 1.0),
        max_attempts=10,
        use_image_if_no_bounding_boxes=True,
    )
    crop = tf.slice(image, begin, crop_size)
    crop = tf.image.resize(tf.cast(crop, tf.float32) / 255.0, [size, size], antialias=True)
    crop = tf.image.stateless_random_flip_left_right(crop, flip_seed)
    return tf.clip_by_value(crop, 0.0, 1.0)


def center_resize(image, size):
    """Resizes the shorter side to `size` and keeps the centre size x size.

    Args:
      image: uint8 (H, W, 3).

    Returns:
      float32 (size, size, 3) in [0, 1].
    """
    shape = tf.cast(tf.shape(image)[:2], tf.float32)
    scale = tf.cast(size, tf.float32) / tf.reduce_min(shape)
    new_shape = tf.maximum(tf.cast(tf.math.ceil(shape * scale), tf.int32), size)
    resized = tf.image.resize(tf.cast(image, tf.float32) / 255.0, new_shape, antialias=True)
    resized = tf.image.resize_with_crop_or_pad(resized, size, size)
    return tf.clip_by_value(resized, 0.0, 1.0)


def target_rgb(rgb, image_size):
    """The S/4 x S/4 RGB whose Lab gives the colour target: an area average of the S x S
    crop. data_prep.priors counts bins on exactly this image."""
    return tf.image.resize(rgb, [image_size // 4, image_size // 4], method="area")


def color_target(rgb, config, bin_weights):
    """Packed colour target (S/4, S/4, 2k + 1) of an S x S RGB crop.

    Args:
      rgb: float32 (S, S, 3) in [0, 1].
      config: `PipelineConfig`.
      bin_weights: float32 (313,) rebalancing weights, from data_prep.priors.
    """
    ab = color.rgb_to_lab(target_rgb(rgb, config.image_size))[..., 1:]
    if config.encoding == "hard":
        indices = bins.hard_encode(ab)[..., tf.newaxis]
        probs = tf.ones_like(indices, tf.float32)
    else:
        indices, probs = bins.soft_encode(ab, config.num_neighbors, config.sigma)
    # The pixel's weight is that of its nearest bin, the first of the k.
    weight = tf.gather(bin_weights, indices[..., 0])
    if config.min_mean_chroma:
        mean_chroma = tf.reduce_mean(tf.norm(ab, axis=-1))
        weight *= tf.cast(mean_chroma >= config.min_mean_chroma, weight.dtype)
    return tf.concat([tf.cast(indices, tf.float32), probs, weight[..., tf.newaxis]], axis=-1)


def crop(image, index, config):
    """The S x S float RGB crop of uint8 `image` (H, W, 3): random resized crop and flip
    seeded by (config.seed, index) when training, else the centre crop."""
    if config.training:
        seed = tf.stack([tf.constant(config.seed, tf.int64), tf.cast(index, tf.int64)])
        return random_resized_crop(image, config.image_size, seed, config.min_crop_area)
    return center_resize(image, config.image_size)


def make_example(element, index, config, bin_weights):
    """Source element -> (features, targets). Pure TF; runs eagerly or in Dataset.map.

    Args:
      element: {"image": uint8 (H, W, 3), "label": int32, "labels": float32 (C,)}.
      index: int64 scalar, the example's position in the stream (seeds augmentation).
    """
    rgb = crop(element["image"], index, config)
    features = {"L": color.rgb_to_lightness(rgb)}
    if config.with_rgb:
        features["rgb"] = rgb
    if config.hints and config.training:
        # Its own stream of the example's seed, apart from the crop's.
        seed = tf.stack(
            [tf.constant(config.seed, tf.int64) + _HINT_SEED_OFFSET, tf.cast(index, tf.int64)]
        )
        features["hints"] = hints.simulate_hints(
            color.rgb_to_lab(rgb)[..., 1:], seed, config.no_hint_share
        )
    elif config.hints:
        features["hints"] = tf.zeros([config.image_size, config.image_size, hints.HINT_CHANNELS])
    targets = {
        "color_logits": color_target(rgb, config, bin_weights),
        "class_logits": element["labels"] if config.multi_label else element["label"],
    }
    return features, targets


def _drop_grey(dataset, source, config):
    """Removes grey photos unless the source's audit already did (file sources)."""
    if not config.drop_grey or source.audited:
        return dataset
    # Grey photos teach "no colour"; TFDS sources are not audited, so test here.
    return dataset.filter(
        tf.autograph.experimental.do_not_convert(
            lambda e: tf.logical_not(audit.is_grey(e["image"]))
        )
    )


@tf.autograph.experimental.do_not_convert
def _decode(element):
    return {
        "image": audit.decode_image(element["image_bytes"]),
        "label": element["label"],
        "labels": element["labels"],
    }


def decoded(source, config):
    """The source's elements with decoded "image" uint8 (H, W, 3), grey photos dropped as
    `config.drop_grey` says; unbatched, in source order."""
    return _drop_grey(
        source.dataset.map(_decode, num_parallel_calls=tf.data.AUTOTUNE), source, config
    )


def build_dataset(source, config, bin_weights=None, repeat=None, start_example=0):
    """The batched dataset of (features, targets) for `model.fit` / evaluation.

    Args:
      source: a `data_prep.source_types.Source`.
      config: `PipelineConfig`.
      bin_weights: (313,) rebalancing weights; None = all ones.
      repeat: repeat forever; defaults to config.training.
      start_example: skip this many examples of the stream, so that a resumed run continues
        with exactly the examples (and augmentations) an uninterrupted run would have seen.
    """
    if bin_weights is None:
        bin_weights = np.ones(bins.NUM_BINS, np.float32)
    bin_weights = tf.constant(np.asarray(bin_weights, np.float32))
    repeat = config.training if repeat is None else repeat
    options = tf.data.Options()
    if config.deterministic is not None:
        options.deterministic = config.deterministic

    dataset = source.dataset
    if config.cache:
        # Decode once, keep the pixels: later epochs skip JPEG decoding.
        dataset = _drop_grey(
            dataset.map(_decode, num_parallel_calls=tf.data.AUTOTUNE), source, config
        )
        dataset = dataset.cache()
    if config.training:
        # Shuffle bytes (or cached pixels), seeded so a run's order is reproducible.
        dataset = dataset.shuffle(
            config.shuffle_buffer, seed=config.seed, reshuffle_each_iteration=True
        )
    if repeat:
        dataset = dataset.repeat()
    # The stream's examples are counted after the grey filter (the index seeds each crop),
    # so a resume skips after it. Where no filter follows (cached pixels, audited sources)
    # it skips before decoding: reading bytes, not decoding pixels.
    filter_follows = not config.cache and config.drop_grey and not source.audited
    if start_example and not filter_follows:
        dataset = dataset.skip(start_example)
    if not config.cache:
        dataset = _drop_grey(
            dataset.map(_decode, num_parallel_calls=tf.data.AUTOTUNE), source, config
        )
    if start_example and filter_follows:
        dataset = dataset.skip(start_example)
    # The running index seeds each example's crop and flip.
    dataset = dataset.enumerate(start=start_example).map(
        tf.autograph.experimental.do_not_convert(
            lambda index, element: make_example(element, index, config, bin_weights)
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    dataset = dataset.batch(config.batch_size, drop_remainder=config.training)
    dataset = dataset.prefetch(tf.data.AUTOTUNE)
    return dataset.with_options(options)


def target_rgb_dataset(source, image_size, training=False, seed=0):
    """Unbatched float RGB images (S/4, S/4, 3) exactly as the colour targets see them: the
    input of data_prep.priors."""
    config = PipelineConfig(image_size=image_size, training=training, seed=seed, batch_size=1)
    dataset = decoded(source, config)

    def to_rgb(index, element):
        return target_rgb(crop(element["image"], index, config), image_size)

    return dataset.enumerate().map(
        tf.autograph.experimental.do_not_convert(to_rgb), num_parallel_calls=tf.data.AUTOTUNE
    )
