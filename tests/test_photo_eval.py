"""Full-photo evaluation (colorization.photo_eval and evaluate --protocol=full): checked
against colorization.metrics.ColorMetrics on the same photos, and end to end."""

import json

import numpy as np
import pytest

from colorization import color, metrics, photo_eval
from tests import helpers


def _photos(count=6):
    return [helpers.photo(200 + i, 30 + 2 * i, 40) for i in range(count)]


def _lab(rgb_u8):
    return color.rgb_to_lab(rgb_u8[None].astype(np.float32) / 255.0).numpy()[0]


def _shifted(rgb_u8, seed):
    """A 'prediction': the photo with its colours pushed around."""
    rng = np.random.default_rng(seed)
    return np.clip(rgb_u8.astype(int) + rng.integers(-40, 40, 3), 0, 255).astype(np.uint8)


def test_summary_matches_color_metrics_on_the_same_photos():
    photos = _photos()
    preds = [_shifted(p, i) for i, p in enumerate(photos)]
    records = [photo_eval.score_photo(t, p) for t, p in zip(photos, preds, strict=True)]
    summary = photo_eval.summarize(records, num_bootstrap=50)
    # The reference: ColorMetrics, one photo at a time (sizes differ), on the same Lab.
    model, grey = metrics.ColorMetrics(), metrics.ColorMetrics()
    for truth, pred in zip(photos, preds, strict=True):
        true_ab = _lab(truth)[None, ..., 1:]
        model.update(_lab(pred)[None, ..., 1:], true_ab, pred[None], truth[None])
        grey.update(np.zeros_like(true_ab), true_ab, pred[None], truth[None])
    for name, reference in (("model", model.result()), ("grey", grey.result())):
        assert summary[name]["auc"] == pytest.approx(reference["auc"], abs=1e-6)
        assert summary[name]["rebalanced_auc"] == pytest.approx(
            reference["rebalanced_auc"], abs=1e-6
        )
    assert summary["model"]["psnr"] == pytest.approx(model.result()["psnr"], abs=1e-6)
    assert summary["model"]["colorfulness_ratio"] == pytest.approx(
        model.result()["colorfulness_ratio"], rel=1e-6
    )
    difference = summary["model"]["rebalanced_auc"] - summary["grey"]["rebalanced_auc"]
    assert summary["difference"]["rebalanced_auc"] == pytest.approx(difference)
    for group in ("model", "grey", "difference"):
        for key, (low, high) in summary["interval"][group].items():
            assert low < high, (group, key)
            # Pixel-weighted AuC and per-photo PSNR are smooth in the weights, so their
            # interval holds the point; rebalanced AuC averages over the bins a resample
            # happens to contain, which with 6 photos can move it off-centre.
            if key in ("auc", "psnr"):
                assert low <= summary[group][key] <= high, (group, key)


def test_perfect_and_grey_predictions():
    photos = _photos(4)
    perfect = photo_eval.summarize([photo_eval.score_photo(p, p) for p in photos], 20)
    assert perfect["model"]["auc"] > 99.0 and perfect["model"]["rebalanced_auc"] > 99.0
    assert perfect["model"]["colorfulness_ratio"] == pytest.approx(1.0)
    # A grey prediction scores exactly like the grey baseline.
    greys = [
        np.round(
            np.clip(color.lightness_to_rgb(_lab(p)[None, ..., :1]).numpy()[0], 0, 1) * 255
        ).astype(np.uint8)
        for p in photos
    ]
    grey = photo_eval.summarize(
        [photo_eval.score_photo(p, g) for p, g in zip(photos, greys, strict=True)], 20
    )
    assert grey["difference"]["auc"] == pytest.approx(0.0, abs=0.05)
    assert grey["interval"]["difference"]["rebalanced_auc"][1] < 0.5


def test_class_accuracy_counts_labelled_photos_only():
    records = [
        {"label": 2, "class_probs": np.eye(5)[2]},
        {"label": 2, "class_probs": np.eye(5)[1]},
        {"label": 4, "class_probs": np.eye(5)[4]},
        {"label": -1, "class_probs": np.eye(5)[0]},
    ]
    result = photo_eval.class_accuracy(records)
    assert result["num_labelled"] == 3
    assert result["top1_accuracy"] == pytest.approx(200 / 3)
    assert result["majority_class_accuracy"] == pytest.approx(200 / 3)


def test_evaluate_cli_full_photos_per_set(tiny_model_dir, tmp_path):
    first = helpers.small_vocdevkit(tmp_path / "a" / "VOC2012", count=8, height=40, width=52)
    second = helpers.small_vocdevkit(tmp_path / "b" / "VOC2012", count=8, height=36, width=60)
    out = tmp_path / "eval"
    result = helpers.run_module(
        "colorization.evaluate",
        "--protocol=full",
        f"--model={tiny_model_dir}",
        f"--dataset=voc_dir:{first},voc_dir:{second}",
        f"--output_dir={out}",
        "--bootstrap=30",
        "--report_images=2",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "metrics.json").read_text())
    assert list(summary["per_set"]) == [f"voc_dir:{first}", f"voc_dir:{second}"]
    assert [s["num_images"] for s in summary["per_set"].values()] == [2, 2]
    assert summary["all"]["num_images"] == 4
    assert summary["all"]["class"]["num_labelled"] == 4
    assert "rebalanced AuC" in result.stdout and "model - grey" in result.stdout
