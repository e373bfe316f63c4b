"""Empirical ab-bin prior and the class-rebalancing weights of Zhang et al. 2016.

    counts  c_q  = number of target pixels whose nearest bin is q (exact, hard-assigned)
    p            = c / sum(c)
    p~           = p smoothed by a Gaussian (sigma in ab units) over the ab plane, renormalised
    w_q          ∝ ((1 - lambda) p~_q + lambda / 313)^-1,  scaled so that sum_q p~_q w_q = 1

The weights make rare, saturated colours count as much as the common desaturated ones in
the colour loss. Everything is saved to one `.npz` together with what produced it.

CLI:
    python -m data_prep.priors --dataset=voc_dir:PATH --image_size=128 --output=priors.npz
"""

import dataclasses
import io
import json
import os
import sys
import time

import numpy as np
import tensorflow as tf

from colorization.core import bins, color
from colorization.core.config import IMAGE_SIZE_RULE, valid_image_size

DEFAULT_LAMBDA = 0.5
DEFAULT_SIGMA = 5.0


@dataclasses.dataclass(frozen=True)
class Priors:
    """Bin statistics and rebalancing weights.

    Attributes:
      counts: int64 (313,), hard-assigned pixel counts per bin.
      probs: float64 (313,), counts / total.
      smoothed_probs: float64 (313,), probs smoothed over the ab plane and renormalised.
      weights: float64 (313,), rebalancing weight per bin; sum(smoothed_probs * weights) = 1.
      metadata: dict of what produced them (data set, image count, resolution, lambda, sigma).
    """

    counts: np.ndarray
    probs: np.ndarray
    smoothed_probs: np.ndarray
    weights: np.ndarray
    metadata: dict

    def save(self, path):
        """Writes the priors to `path` (.npz); the metadata is stored as JSON text."""
        # np.savez needs a seekable file; build it in memory, then write it through GFile so
        # that cloud paths (gs://...) work too. The temporary name makes the write atomic.
        buffer = io.BytesIO()
        np.savez(
            buffer,
            counts=self.counts,
            probs=self.probs,
            smoothed_probs=self.smoothed_probs,
            weights=self.weights,
            metadata=np.asarray(json.dumps(self.metadata, sort_keys=True)),
        )
        path = str(path)
        if os.path.dirname(path):
            tf.io.gfile.makedirs(os.path.dirname(path))
        temporary = path + ".tmp"
        with tf.io.gfile.GFile(temporary, "wb") as f:
            f.write(buffer.getvalue())
        tf.io.gfile.rename(temporary, path, overwrite=True)

    @classmethod
    def load(cls, path):
        """Reads priors written by `save`; raises ValueError for a file of another kind."""
        path = str(path)
        try:
            with tf.io.gfile.GFile(path, "rb") as f:
                content = io.BytesIO(f.read())
            with np.load(content, allow_pickle=False) as data:
                fields = {k: data[k] for k in ("counts", "probs", "smoothed_probs", "weights")}
                metadata = json.loads(str(data["metadata"]))
        except (OSError, KeyError, ValueError, tf.errors.OpError) as e:
            raise ValueError(
                f"Cannot read priors from {path!r}: expected an .npz written by "
                f"data_prep.priors with counts, probs, smoothed_probs, weights, metadata ({e})."
            ) from e
        for name, value in fields.items():
            if value.shape != (bins.NUM_BINS,):
                raise ValueError(
                    f"Priors file {path!r} has {name} of shape {value.shape}; "
                    f"expected ({bins.NUM_BINS},)."
                )
        return cls(metadata=metadata, **fields)


def smooth_over_ab_plane(probs, sigma=DEFAULT_SIGMA):
    """Gaussian smoothing of a distribution over the 313 bins, in ab units.

    Each bin receives mass from every bin with weight exp(-d^2 / (2 sigma^2)), d being the
    distance between their centres: a Gaussian filter over the ab plane sampled at the bin
    centres. The result is renormalised to sum to 1.
    """
    if sigma <= 0:
        raise ValueError(f"sigma must be positive. Received: sigma={sigma}")
    centers = bins.bin_centers().astype(np.float64)
    sq_dist = ((centers[:, None, :] - centers[None, :, :]) ** 2).sum(-1)
    kernel = np.exp(-sq_dist / (2.0 * sigma**2))
    smoothed = kernel @ np.asarray(probs, np.float64)
    return smoothed / smoothed.sum()


def rebalancing_weights(smoothed_probs, mix_lambda=DEFAULT_LAMBDA):
    """w ∝ ((1 - lambda) p~ + lambda / 313)^-1, normalised so that sum(p~ w) = 1."""
    if not 0.0 <= mix_lambda <= 1.0:
        raise ValueError(f"lambda must be in [0, 1]. Received: mix_lambda={mix_lambda}")
    smoothed_probs = np.asarray(smoothed_probs, np.float64)
    weights = 1.0 / ((1.0 - mix_lambda) * smoothed_probs + mix_lambda / bins.NUM_BINS)
    return weights / np.sum(smoothed_probs * weights)


def priors_from_counts(counts, mix_lambda=DEFAULT_LAMBDA, sigma=DEFAULT_SIGMA, metadata=None):
    """Builds `Priors` from per-bin counts (313,)."""
    counts = np.asarray(counts, np.int64)
    total = counts.sum()
    if total <= 0:
        raise ValueError("Cannot compute priors: the data set gave no pixels (all counts are 0).")
    probs = counts / total
    smoothed = smooth_over_ab_plane(probs, sigma)
    weights = rebalancing_weights(smoothed, mix_lambda)
    metadata = dict(metadata or {})
    metadata.update({"lambda": mix_lambda, "sigma": sigma, "num_pixels": int(total)})
    return Priors(counts, probs, smoothed, weights, metadata)


def uniform_priors():
    """Priors that weight every pixel by 1: what training uses when no statistics exist."""
    counts = np.ones(bins.NUM_BINS, np.int64)
    probs = counts / counts.sum()
    return Priors(
        counts, probs, probs, np.ones(bins.NUM_BINS), {"source": "uniform", "lambda": 1.0}
    )


def ab_histogram(ab):
    """Hard-assigned bin counts (313,) int64 of ab values (..., 2): the one bin counting."""
    indices = tf.reshape(bins.hard_encode(ab), [-1])
    return tf.math.bincount(
        indices, minlength=bins.NUM_BINS, maxlength=bins.NUM_BINS, dtype=tf.int64
    )


def _bin_histogram(rgb):
    """Hard-assigned bin counts (313,) of one float RGB image (H, W, 3) in [0, 1]."""
    return ab_histogram(color.rgb_to_lab(rgb)[..., 1:])


def count_bins(dataset, log_every=200):
    """Streams over `dataset` of float RGB images (H, W, 3) in [0, 1], at the training target
    resolution, and returns (counts (313,) int64, number of images).

    The histogram of each image is computed inside `Dataset.map` in parallel; only the
    313-vector leaves the graph.
    """
    histograms = dataset.map(
        tf.autograph.experimental.do_not_convert(_bin_histogram),
        num_parallel_calls=tf.data.AUTOTUNE,
    ).prefetch(tf.data.AUTOTUNE)
    counts = np.zeros(bins.NUM_BINS, np.int64)
    num_images = 0
    start = time.time()
    for histogram in histograms.as_numpy_iterator():
        counts += histogram
        num_images += 1
        if log_every and num_images % log_every == 0:
            rate = num_images / max(time.time() - start, 1e-9)
            print(f"  priors: {num_images} images ({rate:.1f} img/s)", file=sys.stderr, flush=True)
    return counts, num_images


def compute_priors(dataset, mix_lambda=DEFAULT_LAMBDA, sigma=DEFAULT_SIGMA, metadata=None):
    """Counts bins over `dataset` (float RGB images at target resolution) and builds `Priors`."""
    counts, num_images = count_bins(dataset)
    if num_images == 0:
        raise ValueError("Cannot compute priors: the data set is empty.")
    metadata = dict(metadata or {})
    metadata["num_images"] = num_images
    return priors_from_counts(counts, mix_lambda, sigma, metadata)


def priors_of(
    spec,
    split="train",
    data_dir=None,
    data_root=None,
    image_size=224,
    mix_lambda=DEFAULT_LAMBDA,
    sigma=DEFAULT_SIGMA,
    max_images=0,
):
    """`Priors` counted over the photos of the source `spec` (a --dataset value) at target
    resolution S/4; max_images > 0 counts only the first ones."""
    from data_prep import pipeline, sources

    source = sources.load_source(spec, split, data_dir, data_root=data_root)
    print(source.summary(), file=sys.stderr)
    dataset = pipeline.target_rgb_dataset(source, image_size)
    if max_images:
        dataset = dataset.take(max_images)
    return compute_priors(
        dataset,
        mix_lambda=mix_lambda,
        sigma=sigma,
        metadata={
            "dataset": spec,
            "split": split,
            "image_size": image_size,
            "target_size": image_size // 4,
            "skipped": source.skipped,
        },
    )


def main(argv):
    from absl import app, flags

    FLAGS = flags.FLAGS
    if len(argv) > 1:
        raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
    result = priors_of(
        FLAGS.dataset,
        FLAGS.split,
        FLAGS.data_dir,
        FLAGS.data_root,
        FLAGS.image_size,
        FLAGS.mix_lambda,
        FLAGS.sigma,
        FLAGS.max_images,
    )
    result.save(FLAGS.output)
    used = int((result.counts > 0).sum())
    print(
        f"Wrote {FLAGS.output}: {result.metadata['num_images']} images, "
        f"{result.metadata['num_pixels']} pixels, {used}/313 bins seen, "
        f"weights {result.weights.min():.3f}..{result.weights.max():.3f}"
    )


def define_flags():
    from absl import flags

    flags.DEFINE_string(
        "dataset", None, "Source spec: voc/2012, voc_dir:PATH, folder:PATH, skimage."
    )
    flags.DEFINE_string("split", "train", "Split to count.")
    flags.DEFINE_string("data_dir", None, "TFDS data directory.")
    cli.define_data_root_flag()
    flags.DEFINE_integer("image_size", 224, "Training image size S; bins are counted at S/4.")
    flags.DEFINE_float("mix_lambda", DEFAULT_LAMBDA, "Weight of the uniform distribution.")
    flags.DEFINE_float("sigma", DEFAULT_SIGMA, "Gaussian smoothing in ab units.")
    flags.DEFINE_integer("max_images", 0, "Count at most this many images (0 = all).")
    flags.DEFINE_string("output", None, "Where to write the .npz.")
    flags.mark_flags_as_required(["dataset", "output"])
    flags.register_validator("image_size", valid_image_size, f"must be {IMAGE_SIZE_RULE}")
    flags.register_validator("mix_lambda", lambda v: 0 <= v <= 1, "must be in [0, 1]")
    flags.register_validator("sigma", lambda v: v > 0, "must be positive")


if __name__ == "__main__":
    from colorization.core import cli
    from data_prep.source_types import SourceError

    cli.run(main, define_flags, user_errors=(SourceError,))
