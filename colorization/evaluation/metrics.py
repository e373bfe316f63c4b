"""Colorization metrics, accumulated over a data set.

- AuC of the per-pixel ab error (Zhang et al. 2016): for thresholds t = 0, 1, ..., 150 (ab
  units), the fraction of pixels whose L2 ab error is <= t, averaged over t. Reported in %.
- Class-rebalanced AuC: the same curve computed per colour bin (the nearest of the 313 bins
  to each pixel's true ab) and averaged over the bins present in the evaluated set, so every
  colour counts equally, whatever its pixel count.
- PSNR: mean over images of the per-image PSNR of RGB in [0, 255].
- SSIM: mean over images of tf.image.ssim on RGB in [0, 255] (window 11, sigma 1.5).
- Colourfulness (Hasler and Suesstrunk 2003): sqrt(sd_rg^2 + sd_yb^2) + 0.3 sqrt(mu_rg^2 +
  mu_yb^2), rg = R - G, yb = (R + G)/2 - B, RGB in [0, 255]; and dCF = |mean CF(pred) -
  mean CF(truth)|.
- Class top-1 accuracy on the dominant label and mean average precision over present labels.
- Blotch (ab units): how much more the colour varies inside one surface than it truly does.
  The true L is cut into about 150 SLIC superpixels (surfaces of similar lightness); in each,
  the ab spread (root mean square distance from the superpixel's mean ab) of the prediction
  minus that of the truth, floored at 0, averaged over the photo's pixels. 0 for a method
  that paints each surface one colour, or varies it no more than the truth does.
- Bleeding (ab units): the mean ab error within BLEED_RADIUS pixels of a strong L edge (a
  central-difference gradient of at least BLEED_EDGE L units per pixel) minus the mean ab
  error elsewhere in the photo: colour that crosses object boundaries raises the first.
"""

import numpy as np
import tensorflow as tf

from colorization.core import bins, color

MAX_THRESHOLD = 150


def threshold_buckets(errors):
    """The smallest integer threshold t with error <= t, capped at MAX_THRESHOLD + 1 (never)."""
    return np.minimum(np.ceil(np.asarray(errors, np.float64)), MAX_THRESHOLD + 1).astype(np.int64)


def auc_from_histogram(histogram):
    """AuC in [0, 1] from counts (..., MAX_THRESHOLD + 2) of threshold buckets."""
    histogram = np.asarray(histogram, np.float64)
    cumulative = np.cumsum(histogram, axis=-1)[..., : MAX_THRESHOLD + 1]
    total = histogram.sum(-1, keepdims=True)
    return (cumulative / np.maximum(total, 1)).mean(-1)


def colorfulness(rgb):
    """Hasler-Suesstrunk colourfulness of RGB images (..., H, W, 3) in [0, 255]."""
    rgb = np.asarray(rgb, np.float64)
    rg = rgb[..., 0] - rgb[..., 1]
    yb = 0.5 * (rgb[..., 0] + rgb[..., 1]) - rgb[..., 2]
    axes = (-2, -1)
    std = np.sqrt(rg.std(axis=axes) ** 2 + yb.std(axis=axes) ** 2)
    mean = np.sqrt(rg.mean(axis=axes) ** 2 + yb.mean(axis=axes) ** 2)
    return std + 0.3 * mean


def psnr(pred_rgb, true_rgb):
    """Per-image PSNR (dB) of RGB images (N, H, W, 3) in [0, 255]; inf-safe (MSE floored)."""
    diff = np.asarray(pred_rgb, np.float64) - np.asarray(true_rgb, np.float64)
    mse = np.maximum((diff**2).reshape(diff.shape[0], -1).mean(-1), 1e-10)
    return 10.0 * np.log10(255.0**2 / mse)


def ssim(pred_rgb, true_rgb):
    """Per-image SSIM of RGB images (N, H, W, 3) in [0, 255] (tf.image.ssim).

    The Gaussian window is 11 pixels, or the image's smaller side if that is less.
    """
    height, width = np.shape(pred_rgb)[1:3]
    return tf.image.ssim(
        tf.constant(pred_rgb, tf.float32),
        tf.constant(true_rgb, tf.float32),
        max_val=255.0,
        filter_size=min(11, height, width),
    ).numpy()


def average_precision(scores, positives):
    """Average precision of one class: scores (N,), positives (N,) bool. NaN if none."""
    positives = np.asarray(positives, bool)
    if not positives.any():
        return float("nan")
    order = np.argsort(-np.asarray(scores, np.float64), kind="stable")
    hits = positives[order]
    precision_at_hit = np.cumsum(hits)[hits] / (np.flatnonzero(hits) + 1)
    return float(precision_at_hit.mean())


class ColorMetrics:
    """Accumulates the colour metrics of one method over batches of images.

    `update` takes predicted and true Lab/RGB at the same resolution; `result` returns a dict
    with auc, rebalanced_auc (both %), psnr, ssim, colorfulness, true_colorfulness,
    delta_colorfulness and num_images.
    """

    def __init__(self):
        self.histogram = np.zeros((bins.NUM_BINS, MAX_THRESHOLD + 2), np.int64)
        self.psnr, self.ssim, self.cf_pred, self.cf_true = [], [], [], []

    def update(self, pred_ab, true_ab, pred_rgb, true_rgb):
        """Adds a batch.

        Args: pred_ab, true_ab (N, H, W, 2) ab units; pred_rgb, true_rgb (N, H, W, 3) in
        [0, 255] (uint8 or float).

        Returns:
          the batch's per-image values {"psnr", "auc" (%), "colorfulness"}, arrays (N,).
        """
        errors = np.sqrt(((np.asarray(pred_ab, np.float64) - true_ab) ** 2).sum(-1))
        buckets = threshold_buckets(errors)
        true_bins = bins.hard_encode(np.asarray(true_ab, np.float32)).numpy()
        np.add.at(self.histogram, (true_bins.ravel(), buckets.ravel()), 1)
        per_image_histogram = np.stack(
            [np.bincount(b.ravel(), minlength=MAX_THRESHOLD + 2) for b in buckets]
        )
        per_image = {
            "psnr": psnr(pred_rgb, true_rgb),
            "auc": 100.0 * auc_from_histogram(per_image_histogram),
            "colorfulness": colorfulness(pred_rgb),
        }
        self.psnr.extend(per_image["psnr"])
        self.ssim.extend(ssim(pred_rgb, true_rgb))
        self.cf_pred.extend(per_image["colorfulness"])
        self.cf_true.extend(colorfulness(true_rgb))
        return per_image

    def result(self):
        per_bin = self.histogram
        present = per_bin.sum(-1) > 0
        cf_pred, cf_true = float(np.mean(self.cf_pred)), float(np.mean(self.cf_true))
        return {
            "auc": 100.0 * float(auc_from_histogram(per_bin.sum(0))),
            "rebalanced_auc": 100.0 * float(auc_from_histogram(per_bin[present]).mean()),
            "psnr": float(np.mean(self.psnr)),
            "ssim": float(np.mean(self.ssim)),
            "colorfulness": cf_pred,
            "true_colorfulness": cf_true,
            "delta_colorfulness": abs(cf_pred - cf_true),
            "colorfulness_ratio": cf_pred / cf_true if cf_true > 0 else float("nan"),
            "num_images": len(self.psnr),
        }


GREY = "grey"

# Superpixels per photo for the blotch measure, and their compactness (scikit-image scales
# the intensity range of the photo to [0, 1] first, so a strong edge outweighs distance).
BLOTCH_SEGMENTS = 150
BLOTCH_COMPACTNESS = 1.0
# A strong edge for the bleeding measure: |grad L| >= BLEED_EDGE (L units per pixel, central
# differences); its band reaches BLEED_RADIUS pixels on each side.
BLEED_EDGE = 8.0
BLEED_RADIUS = 2


def superpixels(lightness, segments=BLOTCH_SEGMENTS, compactness=BLOTCH_COMPACTNESS):
    """SLIC superpixels (int labels (H, W) from 0) of a lightness map (H, W) in [0, 100]."""
    from skimage.segmentation import slic

    return slic(
        np.asarray(lightness, np.float64),
        n_segments=segments,
        compactness=compactness,
        channel_axis=None,
        start_label=0,
    )


def blotch(pred_ab, true_ab, segments):
    """The blotch measure (module doc) of one photo: pred_ab and true_ab (H, W, 2), integer
    segment labels (H, W). Returns a float (ab units)."""
    labels = np.asarray(segments).ravel()
    count = np.bincount(labels).astype(np.float64)
    used = count > 0

    def spread(ab):
        ab = np.asarray(ab, np.float64).reshape(-1, 2)
        mean = np.stack([np.bincount(labels, ab[:, i], len(count)) for i in (0, 1)], -1)
        mean[used] /= count[used, None]
        deviation = ((ab - mean[labels]) ** 2).sum(-1)
        return np.sqrt(np.bincount(labels, deviation, len(count))[used] / count[used])

    excess = np.maximum(spread(pred_ab) - spread(true_ab), 0.0)
    return float((excess * count[used]).sum() / count[used].sum())


def edge_band(lightness, edge=BLEED_EDGE, radius=BLEED_RADIUS):
    """Pixels (bool (H, W)) within `radius` (Chebyshev distance) of a strong L edge."""
    from scipy import ndimage

    lightness = np.asarray(lightness, np.float64)
    gy, gx = np.gradient(lightness)
    edges = np.hypot(gx, gy) >= edge
    if radius <= 0:
        return edges
    return ndimage.binary_dilation(edges, np.ones((2 * radius + 1,) * 2, bool))


def bleeding(pred_ab, true_ab, band):
    """The bleeding measure (module doc) of one photo: mean ab error on `band` (bool (H, W))
    minus the mean elsewhere; 0 when either part is empty."""
    diff = np.asarray(pred_ab, np.float64) - np.asarray(true_ab, np.float64)
    errors = np.sqrt((diff**2).sum(-1))
    band = np.asarray(band, bool)
    if band.all() or not band.any():
        return 0.0
    return float(errors[band].mean() - errors[~band].mean())


def grey_baseline(lightness):
    """The grey baseline every protocol compares with: the photo's own L with ab = 0.

    Args: lightness (N, H, W, 1) L in [0, 100]. Returns uint8 RGB (N, H, W, 3) (NumPy).
    """
    return np.asarray(color.to_uint8(color.lightness_to_rgb(lightness)).numpy(), np.uint8)


# A photo's colour cast is "brown/orange" when the hue of its mean ab lies in this sector
# (degrees, atan2(b, a)) with a mean chroma above SEPIA_MIN_CHROMA.
SEPIA_HUE_DEGREES = (20.0, 90.0)
SEPIA_MIN_CHROMA = 3.0


def is_sepia(mean_ab):
    """Whether mean ab values (..., 2) sit in the brown/orange sector (bool array)."""
    mean_ab = np.asarray(mean_ab, np.float64)
    hue = np.degrees(np.arctan2(mean_ab[..., 1], mean_ab[..., 0]))
    chroma = np.hypot(mean_ab[..., 0], mean_ab[..., 1])
    low, high = SEPIA_HUE_DEGREES
    return (hue >= low) & (hue <= high) & (chroma > SEPIA_MIN_CHROMA)


def class_accuracy(scores, labels):
    """Top-1 % of scores (N, classes) against labels (N,) over the labelled ones (>= 0), and
    the share of the most frequent label (what always answering it would score).

    Returns {"num_labelled"[, "top1_accuracy", "majority_class_accuracy"]}.
    """
    scores, labels = np.asarray(scores, np.float64), np.asarray(labels).reshape(-1)
    labelled = labels >= 0
    result = {"num_labelled": int(labelled.sum())}
    if labelled.any():
        known = labels[labelled]
        result["top1_accuracy"] = 100.0 * float((scores[labelled].argmax(-1) == known).mean())
        result["majority_class_accuracy"] = 100.0 * float(np.bincount(known).max() / known.size)
    return result


class ClassMetrics:
    """Top-1 accuracy on the dominant label and mAP over present labels."""

    def __init__(self):
        self.scores, self.labels, self.multi_hot = [], [], []

    def update(self, class_logits, label, multi_hot):
        self.scores.append(np.asarray(class_logits, np.float64))
        self.labels.append(np.asarray(label).reshape(-1))
        self.multi_hot.append(np.asarray(multi_hot))

    def result(self):
        if not self.scores:
            return {}
        scores = np.concatenate(self.scores)
        labels = np.concatenate(self.labels)
        multi_hot = np.concatenate(self.multi_hot) > 0
        result = class_accuracy(scores, labels)
        aps = [average_precision(scores[:, c], multi_hot[:, c]) for c in range(scores.shape[1])]
        aps = [a for a in aps if not np.isnan(a)]
        if aps:
            result["mean_average_precision"] = 100.0 * float(np.mean(aps))
        return result
