"""colorization.evaluation.metrics against values computed by hand and against NumPy/skimage."""

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from colorization.core import bins
from colorization.evaluation import metrics


def test_auc_by_hand():
    # Errors 0, 10, 200 (never within 150): fractions <= t are 1/3 (t < 10), 2/3 (t >= 10).
    histogram = np.bincount(metrics.threshold_buckets([0.0, 10.0, 200.0]), minlength=152)
    expected = (10 * (1 / 3) + 141 * (2 / 3)) / 151
    assert metrics.auc_from_histogram(histogram) == pytest.approx(expected)
    # A fractional error counts from the next integer threshold: 0.5 is within t = 1, not 0.
    histogram = np.bincount(metrics.threshold_buckets([0.5]), minlength=152)
    assert metrics.auc_from_histogram(histogram) == pytest.approx(150 / 151)


def _numpy_auc(errors):
    return np.mean([(errors <= t).mean() for t in range(151)])


def test_color_metrics_match_numpy_reference():
    rng = np.random.default_rng(0)
    true_ab = rng.uniform(-60, 60, (3, 8, 8, 2))
    # Most pixels of one colour, a few of another: the rebalanced AuC weights both equally.
    true_ab[:, :, :6] = [20.0, 20.0]
    pred_ab = true_ab + rng.normal(0, 15, true_ab.shape)
    true_rgb = rng.integers(0, 256, (3, 8, 8, 3)).astype(np.uint8)
    pred_rgb = np.clip(true_rgb.astype(int) + rng.integers(-20, 20, true_rgb.shape), 0, 255).astype(
        np.uint8
    )
    m = metrics.ColorMetrics()
    m.update(pred_ab[:2], true_ab[:2], pred_rgb[:2], true_rgb[:2])
    m.update(pred_ab[2:], true_ab[2:], pred_rgb[2:], true_rgb[2:])
    result = m.result()

    errors = np.sqrt(((pred_ab - true_ab) ** 2).sum(-1)).ravel()
    assert result["auc"] == pytest.approx(100 * _numpy_auc(errors))
    centers = bins.bin_centers()
    nearest = np.argmin(((true_ab.reshape(-1, 1, 2) - centers) ** 2).sum(-1), -1)
    per_bin = [_numpy_auc(errors[nearest == b]) for b in np.unique(nearest)]
    assert result["rebalanced_auc"] == pytest.approx(100 * np.mean(per_bin))
    expected_psnr = np.mean(
        [
            peak_signal_noise_ratio(t, p, data_range=255)
            for t, p in zip(true_rgb, pred_rgb, strict=True)
        ]
    )
    assert result["psnr"] == pytest.approx(expected_psnr, rel=1e-6)
    assert result["num_images"] == 3


def test_ssim_close_to_skimage():
    rng = np.random.default_rng(1)
    truth = (rng.random((2, 48, 48, 3)) * 255).astype(np.uint8)
    pred = np.clip(truth.astype(int) + rng.integers(-30, 30, truth.shape), 0, 255).astype(np.uint8)
    ours = metrics.ssim(pred, truth)
    reference = [
        structural_similarity(
            t,
            p,
            channel_axis=-1,
            data_range=255,
            gaussian_weights=True,
            sigma=1.5,
            use_sample_covariance=False,
        )
        for t, p in zip(truth, pred, strict=True)
    ]
    np.testing.assert_allclose(ours, reference, atol=0.01)


def test_colorfulness_by_hand():
    grey = np.full((1, 4, 4, 3), 128.0)
    assert metrics.colorfulness(grey)[0] == pytest.approx(0.0)
    red = np.zeros((1, 4, 4, 3))
    red[..., 0] = 255.0
    # rg = 255, yb = 127.5 everywhere: no spread, mean term 0.3 * sqrt(255^2 + 127.5^2).
    assert metrics.colorfulness(red)[0] == pytest.approx(0.3 * np.hypot(255, 127.5))
    half = np.zeros((1, 2, 1, 3))
    half[0, 0, 0, 0] = 255.0  # one red pixel, one black: rg = (255, 0), yb = (127.5, 0)
    expected = np.hypot(127.5, 63.75) + 0.3 * np.hypot(127.5, 63.75)
    assert metrics.colorfulness(half)[0] == pytest.approx(expected)


def test_average_precision_by_hand():
    # Ranked: pos, neg, pos -> precisions at hits 1/1 and 2/3.
    assert metrics.average_precision([0.9, 0.8, 0.7], [True, False, True]) == pytest.approx(
        (1 + 2 / 3) / 2
    )
    assert np.isnan(metrics.average_precision([0.1], [False]))


def test_class_metrics():
    m = metrics.ClassMetrics()
    logits = np.array([[3.0, 0, 0], [0, 3.0, 0], [0, 0, 3.0], [3.0, 0, 0]])
    labels = np.array([0, 2, 2, -1])
    multi_hot = np.array([[1, 0, 0], [0, 1, 1], [0, 0, 1], [0, 0, 0]])
    m.update(logits, labels, multi_hot)
    result = m.result()
    assert result["top1_accuracy"] == pytest.approx(200 / 3)
    assert result["num_labelled"] == 3
    assert result["majority_class_accuracy"] == pytest.approx(200 / 3)
    # Class 0: AP 1 (the top-scored image is positive); class 1: the one positive ranks first
    # too; class 2: positives ranked 1st and 3rd among four, AP = (1 + 2/3) / 2.
    assert result["mean_average_precision"] == pytest.approx(100 * (1 + 1 + (1 + 2 / 3) / 2) / 3)


def _loop_blotch(pred_ab, true_ab, segments):
    """The blotch measure with a plain loop over segments."""
    total, pixels = 0.0, 0
    for label in np.unique(segments):
        inside = segments == label
        spreads = []
        for ab in (pred_ab, true_ab):
            values = ab[inside].astype(np.float64)
            spreads.append(np.sqrt(((values - values.mean(0)) ** 2).sum(1).mean()))
        total += max(spreads[0] - spreads[1], 0.0) * inside.sum()
        pixels += inside.sum()
    return total / pixels


def test_blotch_matches_a_loop_over_segments():
    rng = np.random.default_rng(3)
    segments = np.zeros((12, 10), int)
    segments[:, 4:] = 1
    segments[8:, :] = 2
    true_ab = rng.normal(0, 5, (12, 10, 2))
    pred_ab = rng.normal(0, 9, (12, 10, 2))
    pred_ab[segments == 2] = [30.0, -10.0]  # one colour on one surface: no excess there
    got = metrics.blotch(pred_ab, true_ab, segments)
    assert got == pytest.approx(_loop_blotch(pred_ab, true_ab, segments))
    assert got > 0
    # A surface painted in one colour each, and the truth itself, have no blotch.
    flat = np.zeros_like(pred_ab)
    assert metrics.blotch(flat, true_ab, segments) == 0.0
    assert metrics.blotch(true_ab, true_ab, segments) == 0.0


def test_superpixels_do_not_cross_a_strong_edge():
    lightness = np.full((40, 60), 20.0)
    lightness[:, 30:] = 80.0
    segments = metrics.superpixels(lightness, segments=12)
    assert segments.min() == 0
    left, right = set(np.unique(segments[:, :30])), set(np.unique(segments[:, 30:]))
    assert left and right and not left & right


def test_edge_band_and_bleeding_by_hand():
    lightness = np.full((6, 20), 20.0)
    lightness[:, 10:] = 80.0
    band = metrics.edge_band(lightness)
    # Central differences are 30 L units at columns 9 and 10; the band reaches 2 more.
    assert np.array_equal(np.where(band.all(0))[0], np.arange(7, 13))
    assert not band[:, :7].any() and not band[:, 13:].any()
    true_ab = np.zeros((6, 20, 2))
    pred_ab = np.zeros((6, 20, 2))
    pred_ab[:, 7:13] = [3.0, 4.0]  # error 5 in the band
    pred_ab[:, :7] = [0.0, 1.0]  # error 1 on 7 of the 14 columns outside it
    assert metrics.bleeding(pred_ab, true_ab, band) == pytest.approx(5.0 - 0.5)
    assert metrics.bleeding(pred_ab, true_ab, np.zeros_like(band)) == 0.0


def test_photo_scores_carry_blotch_and_bleeding():
    from colorization.evaluation import photos

    rng = np.random.default_rng(4)
    truth = np.zeros((32, 48, 3), np.uint8)
    truth[:, :24] = [200, 40, 40]
    truth[:, 24:] = [40, 60, 200]
    noisy = np.clip(truth + rng.normal(0, 40, truth.shape), 0, 255).astype(np.uint8)
    record = photos.score_photo(truth, {"noisy": noisy, "same": truth})
    methods = record["methods"]
    assert methods["grey"]["blotch"] == 0.0
    assert methods["same"]["blotch"] == 0.0 and methods["same"]["bleeding"] == 0.0
    assert methods["noisy"]["blotch"] > 5.0
    summary = photos.summarize([record], num_bootstrap=20)
    assert summary["metrics"]["noisy"]["blotch"] == pytest.approx(methods["noisy"]["blotch"])
    assert "blotch" in summary["interval"]["differences"]["noisy - grey"]
