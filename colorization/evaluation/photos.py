"""The full-photo protocol: photos at their own size, through the path users take, with
paired bootstrap intervals.

The crop protocol (colorization.evaluation.crops) scores the network on S x S crops. Users
see something else: `Colorizer.colorize` squeezes the whole photo into S x S, decodes the
S/4 colour map, upsamples it to the photo and joins it with the photo's own L, then rounds
to uint8. This module scores exactly that output: the true and predicted ab both come from
the uint8 RGB photos (so gamut clipping and rounding count), at the photo's resolution.

Several methods (the grey baseline and any number of models) are scored on the same photos,
so that they can be compared photo by photo. A rebalanced AuC over a few hundred photos
moves by more than a point between samples of photos, so every figure comes with a 95 %
bootstrap interval over photos (resampling photos, not pixels: pixels of one photo are not
independent), and comparisons are paired: each resample scores both methods on the same
photos. Intervals are basic bootstrap intervals (2 x point - the percentiles): rebalanced
AuC averages over the colour bins a resample happens to contain, and a resample holds fewer
distinct photos, so fewer rare (hard) bins; the bootstrap distribution of a single method's
rebalanced AuC therefore sits above the point, and the basic interval corrects for that
shift, where the plain percentile interval would not contain the point.
"""

import numpy as np

from colorization.core import bins, color
from colorization.evaluation import metrics
from colorization.evaluation.metrics import GREY

_BUCKETS = metrics.MAX_THRESHOLD + 2
# The metrics of every method in a summary.
METRICS = (
    "auc",
    "rebalanced_auc",
    "psnr",
    "colorfulness_ratio",
    "sepia_share",
    "blotch",
    "bleeding",
)
_RESAMPLES_PER_CHUNK = 100


def _lab(rgb_u8):
    return color.rgb_to_lab(np.asarray(rgb_u8, np.float32)[None] / 255.0).numpy()[0]


def _histogram(pred_ab, true_ab, true_bins):
    """Counts (313, buckets) of the threshold bucket of each pixel's ab error, per true bin."""
    errors = np.sqrt(((pred_ab.astype(np.float64) - true_ab) ** 2).sum(-1))
    buckets = metrics.threshold_buckets(errors).ravel()
    flat = true_bins.ravel() * _BUCKETS + buckets
    counts = np.bincount(flat, minlength=bins.NUM_BINS * _BUCKETS)
    return counts.reshape(bins.NUM_BINS, _BUCKETS).astype(np.int32)


def score_photo(true_rgb, predictions):
    """Per-photo statistics of coloured versions of one photo, and of its grey baseline.

    Args:
      true_rgb: uint8 (H, W, 3), the colour photo.
      predictions: {method name: uint8 (H, W, 3)}, the same photo coloured by each method
        (a name may not be "grey": the grey baseline is added here).

    Returns:
      {"true_colorfulness", "true_mean_ab" [a, b], "methods": {name: {"histogram" (313, 152)
      int32, "psnr", "colorfulness", "mean_ab" [a, b], "blotch", "bleeding"}}} with the grey
      baseline first (metrics module for blotch and bleeding).
    """
    if GREY in predictions:
        raise ValueError(f"{GREY!r} names the grey baseline; give the model another name.")
    true_lab = _lab(true_rgb)
    true_ab = true_lab[..., 1:]
    true_bins = bins.hard_encode(true_ab.astype(np.float32)).numpy()
    methods = {GREY: metrics.grey_baseline(true_lab[None, ..., :1])[0], **predictions}
    segments = metrics.superpixels(true_lab[..., 0])
    band = metrics.edge_band(true_lab[..., 0])
    record = {
        "true_colorfulness": float(metrics.colorfulness(true_rgb[None])[0]),
        "true_mean_ab": [float(v) for v in true_ab.reshape(-1, 2).mean(0)],
        "methods": {},
    }
    for name, rgb in methods.items():
        if rgb.shape != true_rgb.shape:
            raise ValueError(
                f"{name}: coloured photo has shape {rgb.shape}; expected {true_rgb.shape}."
            )
        pred_ab = np.zeros_like(true_ab) if name == GREY else _lab(rgb)[..., 1:]
        record["methods"][name] = {
            "histogram": _histogram(pred_ab, true_ab, true_bins),
            "psnr": float(metrics.psnr(rgb[None], true_rgb[None])[0]),
            "colorfulness": float(metrics.colorfulness(rgb[None])[0]),
            "mean_ab": [float(v) for v in pred_ab.reshape(-1, 2).mean(0)],
            "blotch": metrics.blotch(pred_ab, true_ab, segments),
            "bleeding": metrics.bleeding(pred_ab, true_ab, band),
        }
    return record


def _aucs(histograms):
    """(AuC %, rebalanced AuC %) of histograms (..., bins, buckets), each over its own
    present bins."""
    present = histograms.sum(-1) > 0
    auc = 100.0 * metrics.auc_from_histogram(histograms.sum(-2))
    per_bin = metrics.auc_from_histogram(histograms)
    rebalanced = 100.0 * (per_bin * present).sum(-1) / np.maximum(present.sum(-1), 1)
    return auc, rebalanced


def _method_statistics(records, name, true_cf, true_sepia):
    """Everything a resample needs to score one method: per-photo arrays."""
    hist = np.stack([r["methods"][name]["histogram"] for r in records])  # (n, 313, buckets)
    keep = hist.sum((0, 2)) > 0  # bins present in any photo
    mean_ab = np.array([r["methods"][name]["mean_ab"] for r in records])
    return {
        "histogram": hist[:, keep].reshape(len(records), -1).astype(np.float64),
        "shape": (int(keep.sum()), _BUCKETS),
        "psnr": np.array([r["methods"][name]["psnr"] for r in records]),
        "colorfulness": np.array([r["methods"][name]["colorfulness"] for r in records]),
        # The photo looks brown/orange while its truth does not.
        "sepia": (metrics.is_sepia(mean_ab) & ~true_sepia).astype(np.float64),
        "true_colorfulness": true_cf,
        "blotch": np.array([r["methods"][name].get("blotch", np.nan) for r in records]),
        "bleeding": np.array([r["methods"][name].get("bleeding", np.nan) for r in records]),
    }


def _score(stats, weights):
    """Metrics of one method under photo weights (resamples, n): {metric: (resamples,)}."""
    total = weights.sum(-1)
    histograms = (weights @ stats["histogram"]).reshape(-1, *stats["shape"])
    auc, rebalanced = _aucs(histograms)
    return {
        "auc": auc,
        "rebalanced_auc": rebalanced,
        "psnr": weights @ stats["psnr"] / total,
        "colorfulness_ratio": (weights @ stats["colorfulness"])
        / (weights @ stats["true_colorfulness"]),
        "sepia_share": 100.0 * (weights @ stats["sepia"]) / total,
        "blotch": weights @ stats["blotch"] / total,
        "bleeding": weights @ stats["bleeding"] / total,
    }


def _basic_interval(point, samples):
    """The 95 % basic bootstrap interval [2 point - q97.5, 2 point - q2.5]."""
    low, high = np.percentile(samples, [2.5, 97.5])
    return [float(2 * point - high), float(2 * point - low)]


def summarize(records, pairs=(), num_bootstrap=1000, seed=0):
    """Metrics of every method over `records` (from score_photo), with paired intervals.

    Args:
      records: per-photo records, every one holding the same methods.
      pairs: (first, second) method names whose difference first - second is reported;
        every model minus grey is always reported.
      num_bootstrap: resamples of the photos (with replacement), shared by all methods.

    Returns:
      {"num_images", "num_bootstrap", "metrics": {method: {metric: value}},
       "differences": {"first - second": {metric: value}},
       "interval": {"metrics": {method: {metric: [low, high]}},
                    "differences": {"first - second": {metric: [low, high]}}}}
      with the metrics of METRICS (AuC and rebalanced AuC in %, colourfulness as a ratio of
      the truth's, sepia share in % of photos).
    """
    n = len(records)
    if not n:
        raise ValueError("No photos to summarize.")
    names = list(records[0]["methods"])
    pairs = [(name, GREY) for name in names if name != GREY] + [tuple(p) for p in pairs]
    for first, second in pairs:
        if first not in names or second not in names:
            raise ValueError(f"Unknown method in pair {(first, second)}. Known: {names}")
    true_cf = np.array([r["true_colorfulness"] for r in records])
    true_sepia = metrics.is_sepia(np.array([r["true_mean_ab"] for r in records]))
    rng = np.random.default_rng(seed)
    resamples = np.stack(
        [np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(num_bootstrap)]
    ).astype(np.float64)
    points, samples = {}, {}
    for name in names:
        stats = _method_statistics(records, name, true_cf, true_sepia)
        points[name] = {k: float(v[0]) for k, v in _score(stats, np.ones((1, n))).items()}
        chunks = [
            _score(stats, resamples[i : i + _RESAMPLES_PER_CHUNK])
            for i in range(0, num_bootstrap, _RESAMPLES_PER_CHUNK)
        ]
        samples[name] = {k: np.concatenate([c[k] for c in chunks]) for k in METRICS}
    differences, interval = {}, {"metrics": {}, "differences": {}}
    for name in names:
        interval["metrics"][name] = {
            k: _basic_interval(points[name][k], samples[name][k]) for k in METRICS
        }
    for first, second in pairs:
        key = f"{first} - {second}"
        differences[key] = {k: points[first][k] - points[second][k] for k in METRICS}
        interval["differences"][key] = {
            k: _basic_interval(differences[key][k], samples[first][k] - samples[second][k])
            for k in METRICS
        }
    return {
        "num_images": n,
        "num_bootstrap": num_bootstrap,
        "metrics": points,
        "differences": differences,
        "interval": interval,
    }


def class_accuracy(records, method):
    """metrics.class_accuracy of `method`'s class probabilities over the records that carry
    them (records without a label count as unlabelled)."""
    rows = [r for r in records if r.get("class_probs", {}).get(method) is not None]
    if not rows:
        return {"num_labelled": 0}
    return metrics.class_accuracy(
        np.stack([r["class_probs"][method] for r in rows]), [r.get("label", -1) for r in rows]
    )


def evaluate_photos(
    colorizers, photos, max_examples=0, keep_images=0, progress_every=50, log=print
):
    """Colours every photo at its own size with every colorizer and scores them together.

    Args:
      colorizers: {name: colorize_batch}, each uint8 (1, H, W, 3) -> {"rgb": uint8
        (1, H, W, 3), ["class_probs"]} (`Colorizer.colorize_batch`).
      photos: iterable of (uint8 (H, W, 3), label int).
      max_examples: stop after this many photos (0 = all).
      keep_images: the first this many records also keep "images": {"truth", name: uint8}.

    Returns:
      the list of per-photo records (score_photo plus "label", "class_probs" {name: probs
      or None}, "size").
    """
    records = []
    for image, label in photos:
        if max_examples and len(records) >= max_examples:
            break
        outputs = {name: colorize(image[None]) for name, colorize in colorizers.items()}
        record = score_photo(image, {name: out["rgb"][0] for name, out in outputs.items()})
        record["label"] = int(label)
        record["class_probs"] = {
            name: None if out.get("class_probs") is None else np.asarray(out["class_probs"][0])
            for name, out in outputs.items()
        }
        record["size"] = [int(image.shape[0]), int(image.shape[1])]
        if len(records) < keep_images:
            record["images"] = {
                "truth": image,
                **{name: out["rgb"][0] for name, out in outputs.items()},
            }
        records.append(record)
        if progress_every and len(records) % progress_every == 0:
            log(f"  {len(records)} photos coloured and scored", flush=True)
    return records
