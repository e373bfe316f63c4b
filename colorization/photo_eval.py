"""Evaluation on full photos at their own size, through the path users take, with bootstrap
intervals.

The centre-crop protocol (colorization.evaluation) scores the network on S x S crops. Users
see something else: `Colorizer.colorize` squeezes the whole photo into S x S, decodes the
S/4 colour map, upsamples it to the photo and joins it with the photo's own L, then rounds
to uint8. This module scores exactly that output: the true and predicted ab both come from
the uint8 RGB photos (so gamut clipping and rounding count), at the photo's resolution.

A 300-photo rebalanced AuC moves by more than a point between samples of photos, so every
figure comes with a percentile bootstrap interval over photos (resampling photos, not
pixels: pixels of one photo are not independent), and the model is compared with the grey
photo on the same resampled photos (a paired difference).
"""

import numpy as np

from colorization import bins, color, metrics

GREY = "grey"
MODEL = "model"
_BUCKETS = metrics.MAX_THRESHOLD + 2


def _lab(rgb_u8):
    return color.rgb_to_lab(np.asarray(rgb_u8, np.float32)[None] / 255.0).numpy()[0]


def _histogram(pred_ab, true_ab, true_bins):
    """Counts (313, buckets) of the threshold bucket of each pixel's ab error, per true bin."""
    errors = np.sqrt(((pred_ab.astype(np.float64) - true_ab) ** 2).sum(-1))
    buckets = metrics.threshold_buckets(errors).ravel()
    flat = true_bins.ravel() * _BUCKETS + buckets
    counts = np.bincount(flat, minlength=bins.NUM_BINS * _BUCKETS)
    return counts.reshape(bins.NUM_BINS, _BUCKETS).astype(np.int32)


def score_photo(true_rgb, pred_rgb):
    """Per-photo statistics of a coloured photo and of the grey photo, same size uint8.

    Returns:
      {"model": {...}, "grey": {...}, "true_colorfulness"}: each method holds "histogram"
      (313, 152) int32, "psnr", "colorfulness".
    """
    true_lab = _lab(true_rgb)
    true_ab = true_lab[..., 1:]
    true_bins = bins.hard_encode(true_ab.astype(np.float32)).numpy()
    grey_rgb = np.asarray(
        color.to_uint8(color.lightness_to_rgb(true_lab[None, ..., :1]))[0].numpy(),
        np.uint8,
    )
    record = {"true_colorfulness": float(metrics.colorfulness(true_rgb[None])[0])}
    for name, rgb in ((MODEL, pred_rgb), (GREY, grey_rgb)):
        pred_ab = _lab(rgb)[..., 1:] if name == MODEL else np.zeros_like(true_ab)
        record[name] = {
            "histogram": _histogram(pred_ab, true_ab, true_bins),
            "psnr": float(metrics.psnr(rgb[None], true_rgb[None])[0]),
            "colorfulness": float(metrics.colorfulness(rgb[None])[0]),
        }
    return record


def _aucs(histogram):
    """(AuC %, rebalanced AuC %) of a (313, buckets) histogram."""
    present = histogram.sum(-1) > 0
    auc = 100.0 * float(metrics.auc_from_histogram(histogram.sum(0)))
    rebalanced = 100.0 * float(metrics.auc_from_histogram(histogram[present]).mean())
    return auc, rebalanced


def summarize(records, num_bootstrap=1000, seed=0):
    """Metrics over `records` (from score_photo), with 95 % bootstrap intervals.

    Returns:
      {"num_images", "model": {metric: value}, "grey": {...}, "difference": {...},
       "interval": {"model"|"grey"|"difference": {metric: [low, high]}}} where metrics are
      auc, rebalanced_auc, psnr, colorfulness_ratio; difference = model - grey.
    """
    n = len(records)
    if not n:
        raise ValueError("No photos to summarize.")
    stacked = {}
    for name in (MODEL, GREY):
        hist = np.stack([r[name]["histogram"] for r in records])  # (n, 313, buckets)
        keep = hist.sum((0, 2)) > 0  # bins present in any photo
        stacked[name] = {
            "histogram": hist[:, keep].reshape(n, -1).astype(np.float64),
            "shape": (int(keep.sum()), _BUCKETS),
            "psnr": np.array([r[name]["psnr"] for r in records]),
            "colorfulness": np.array([r[name]["colorfulness"] for r in records]),
        }
    true_cf = np.array([r["true_colorfulness"] for r in records])

    def compute(weights):
        out = {}
        for name, s in stacked.items():
            histogram = (weights @ s["histogram"]).reshape(s["shape"])
            auc, rebalanced = _aucs(histogram)
            out[name] = {
                "auc": auc,
                "rebalanced_auc": rebalanced,
                "psnr": float(weights @ s["psnr"] / weights.sum()),
                "colorfulness_ratio": float((weights @ s["colorfulness"]) / (weights @ true_cf)),
            }
        out["difference"] = {k: out[MODEL][k] - out[GREY][k] for k in out[MODEL]}
        return out

    point = compute(np.ones(n))
    rng = np.random.default_rng(seed)
    samples = [
        compute(np.bincount(rng.integers(0, n, n), minlength=n).astype(np.float64))
        for _ in range(num_bootstrap)
    ]
    interval = {
        group: {
            key: [
                float(np.percentile([s[group][key] for s in samples], 2.5)),
                float(np.percentile([s[group][key] for s in samples], 97.5)),
            ]
            for key in point[group]
        }
        for group in point
    }
    return {"num_images": n, **point, "interval": interval, "num_bootstrap": num_bootstrap}


def class_accuracy(records):
    """Top-1 % over records with a label (record "label" >= 0 and "class_probs"), and the
    share of the most frequent label (what always answering it would score)."""
    labelled = [r for r in records if r.get("label", -1) >= 0 and r.get("class_probs") is not None]
    if not labelled:
        return {"num_labelled": 0}
    labels = np.array([r["label"] for r in labelled])
    predicted = np.array([int(np.argmax(r["class_probs"])) for r in labelled])
    return {
        "num_labelled": len(labelled),
        "top1_accuracy": 100.0 * float((predicted == labels).mean()),
        "majority_class_accuracy": 100.0 * float(np.bincount(labels).max() / len(labels)),
    }


def evaluate_photos(
    colorize_batch, photos, max_examples=0, keep_images=0, progress_every=50, log=print
):
    """Colours every photo at its own size and scores it.

    Args:
      colorize_batch: uint8 (1, H, W, 3) -> {"rgb": uint8 (1, H, W, 3), ["class_probs"]}
        (`Colorizer.colorize_batch`).
      photos: iterable of (uint8 (H, W, 3), label int).
      max_examples: stop after this many photos (0 = all).
      keep_images: the first this many records also keep "images": (photo, coloured).

    Returns:
      the list of per-photo records (score_photo plus "label", "class_probs", "size").
    """
    records = []
    for image, label in photos:
        if max_examples and len(records) >= max_examples:
            break
        out = colorize_batch(image[None])
        record = score_photo(image, out["rgb"][0])
        probs = out.get("class_probs")
        record["label"] = int(label)
        record["class_probs"] = None if probs is None else np.asarray(probs[0])
        record["size"] = [int(image.shape[0]), int(image.shape[1])]
        if len(records) < keep_images:
            record["images"] = (image, out["rgb"][0])
        records.append(record)
        if progress_every and len(records) % progress_every == 0:
            log(f"  {len(records)} photos coloured and scored", flush=True)
    return records
