"""The full-photo protocol (colorization.evaluation.photos and evaluate --protocol=full):
checked against colorization.evaluation.metrics.ColorMetrics on the same photos, paired
differences against separate summaries, and end to end."""

import json

import numpy as np
import pytest

from colorization.core import color
from colorization.evaluation import metrics, photos
from colorization.evaluation.settings import EvalConfig, parse_models
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
    truths = _photos()
    preds = [_shifted(p, i) for i, p in enumerate(truths)]
    records = [photos.score_photo(t, {"model": p}) for t, p in zip(truths, preds, strict=True)]
    summary = photos.summarize(records, num_bootstrap=50)
    # The reference: ColorMetrics, one photo at a time (sizes differ), on the same Lab.
    model, grey = metrics.ColorMetrics(), metrics.ColorMetrics()
    for truth, pred in zip(truths, preds, strict=True):
        true_ab = _lab(truth)[None, ..., 1:]
        model.update(_lab(pred)[None, ..., 1:], true_ab, pred[None], truth[None])
        grey.update(np.zeros_like(true_ab), true_ab, pred[None], truth[None])
    for name, reference in (("model", model.result()), ("grey", grey.result())):
        got = summary["metrics"][name]
        assert got["auc"] == pytest.approx(reference["auc"], abs=1e-6)
        assert got["rebalanced_auc"] == pytest.approx(reference["rebalanced_auc"], abs=1e-6)
    assert summary["metrics"]["model"]["psnr"] == pytest.approx(model.result()["psnr"], abs=1e-6)
    assert summary["metrics"]["model"]["colorfulness_ratio"] == pytest.approx(
        model.result()["colorfulness_ratio"], rel=1e-6
    )
    difference = summary["metrics"]["model"]["rebalanced_auc"] - grey.result()["rebalanced_auc"]
    assert summary["differences"]["model - grey"]["rebalanced_auc"] == pytest.approx(difference)
    for group in summary["interval"].values():
        for method, intervals in group.items():
            for key in ("auc", "rebalanced_auc", "psnr"):
                low, high = intervals[key]
                assert low < high, (method, key)


def test_paired_differences_between_models():
    truths = _photos(8)
    first = [_shifted(p, i) for i, p in enumerate(truths)]
    second = [_shifted(p, 100 + i) for i, p in enumerate(truths)]
    records = [
        photos.score_photo(t, {"a": x, "b": y})
        for t, x, y in zip(truths, first, second, strict=True)
    ]
    summary = photos.summarize(records, pairs=[("a", "b")], num_bootstrap=40)
    # Each model alone gives the same point figures as in the joint summary.
    alone = photos.summarize(
        [photos.score_photo(t, {"a": x}) for t, x in zip(truths, first, strict=True)], (), 40
    )
    assert summary["metrics"]["a"] == pytest.approx(alone["metrics"]["a"])
    a, b = summary["metrics"]["a"], summary["metrics"]["b"]
    for key in photos.METRICS:
        assert summary["differences"]["a - b"][key] == pytest.approx(a[key] - b[key])
    assert set(summary["differences"]) == {"a - grey", "b - grey", "a - b"}
    # A model compared with itself differs by exactly zero in every resample.
    same = photos.summarize(
        [photos.score_photo(t, {"a": x, "b": x}) for t, x in zip(truths, first, strict=True)],
        [("a", "b")],
        30,
    )
    assert same["interval"]["differences"]["a - b"]["rebalanced_auc"] == [0.0, 0.0]
    with pytest.raises(ValueError, match="grey"):
        photos.score_photo(truths[0], {"grey": first[0]})


def test_basic_interval_reflects_the_bootstrap_shift():
    # Bootstrap samples centred 2 above the point: the basic interval lies below it.
    samples = np.arange(100) / 10.0 + 2.0  # percentiles 2.24 .. 11.65
    low, high = photos._basic_interval(5.0, samples)
    assert low == pytest.approx(2 * 5.0 - np.percentile(samples, 97.5))
    assert high == pytest.approx(2 * 5.0 - np.percentile(samples, 2.5))


def test_sepia_share_counts_brown_predictions_of_photos_that_are_not_brown():
    # Hues: 45 degrees (brown/orange), 180 degrees (cyan); chroma 20 and 1 (grey).
    assert metrics.is_sepia([[14.1, 14.1], [-20.0, 0.0], [0.7, 0.7], [3.0, 17.0]]).tolist() == [
        True,
        False,
        False,
        True,
    ]
    blue = np.zeros((16, 16, 3), np.uint8) + np.array([40, 90, 200], np.uint8)
    brown = np.zeros((16, 16, 3), np.uint8) + np.array([150, 100, 60], np.uint8)
    records = [
        photos.score_photo(blue, {"m": brown}),  # counts: brown on a blue photo
        photos.score_photo(brown, {"m": brown}),  # does not: the truth is brown too
        photos.score_photo(blue, {"m": blue}),  # does not: not brown
        photos.score_photo(blue, {"m": brown}),
    ]
    summary = photos.summarize(records, num_bootstrap=20)
    assert summary["metrics"]["m"]["sepia_share"] == pytest.approx(50.0)
    assert summary["metrics"]["grey"]["sepia_share"] == 0.0


def test_perfect_and_grey_predictions():
    truths = _photos(4)
    perfect = photos.summarize([photos.score_photo(p, {"model": p}) for p in truths], (), 20)
    assert perfect["metrics"]["model"]["auc"] > 99.0
    assert perfect["metrics"]["model"]["rebalanced_auc"] > 99.0
    assert perfect["metrics"]["model"]["colorfulness_ratio"] == pytest.approx(1.0)
    # A grey prediction scores exactly like the grey baseline.
    greys = [
        np.round(
            np.clip(color.lightness_to_rgb(_lab(p)[None, ..., :1]).numpy()[0], 0, 1) * 255
        ).astype(np.uint8)
        for p in truths
    ]
    grey = photos.summarize(
        [photos.score_photo(p, {"model": g}) for p, g in zip(truths, greys, strict=True)], (), 20
    )
    assert grey["differences"]["model - grey"]["auc"] == pytest.approx(0.0, abs=0.05)
    assert grey["interval"]["differences"]["model - grey"]["rebalanced_auc"][1] < 0.5


def test_class_accuracy_counts_labelled_photos_only():
    records = [
        {"label": 2, "class_probs": {"m": np.eye(5)[2]}},
        {"label": 2, "class_probs": {"m": np.eye(5)[1]}},
        {"label": 4, "class_probs": {"m": np.eye(5)[4]}},
        {"label": -1, "class_probs": {"m": np.eye(5)[0]}},
        {"label": 1, "class_probs": {"m": None}},
    ]
    result = photos.class_accuracy(records, "m")
    assert result["num_labelled"] == 3
    assert result["top1_accuracy"] == pytest.approx(200 / 3)
    assert result["majority_class_accuracy"] == pytest.approx(200 / 3)


def test_eval_config_refuses_what_the_full_protocol_would_ignore():
    models = parse_models([], "shipped/path")
    assert models == (("shipped", "shipped/path"),)
    assert parse_models(["a=x", "runs/b", "runs/b/"], "")[1:] == (
        ("b", "runs/b"),
        ("b_1", "runs/b/"),
    )
    EvalConfig(models=models, output_dir="out", protocol="crop", temperatures=(0.5,))
    for bad in (dict(temperatures=(0.5,)), dict(batch_size=8)):
        with pytest.raises(ValueError, match="--protocol=full does not use"):
            EvalConfig(models=models, output_dir="out", **bad)
    with pytest.raises(ValueError, match="grey"):
        EvalConfig(models=(("grey", "x"),), output_dir="out")


def test_evaluate_cli_full_photos_per_set(model_dir, tmp_path):
    first = helpers.small_vocdevkit(tmp_path / "a" / "VOC2012", count=8, height=40, width=52)
    second = helpers.small_vocdevkit(tmp_path / "b" / "VOC2012", count=8, height=36, width=60)
    out = tmp_path / "eval"
    result = helpers.run_module(
        "colorization.evaluate",
        "--protocol=full",
        f"--model=tiny={model_dir},again={model_dir / 'model.keras'}",
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
    assert summary["all"]["class"]["tiny"]["num_labelled"] == 4
    # The same model loaded two ways: a paired difference of zero.
    assert summary["all"]["differences"]["tiny - again"]["auc"] == pytest.approx(0, abs=1e-6)
    assert len(summary["per_image"]) == 4
    assert "rebalanced AuC" in result.stdout and "tiny - again" in result.stdout
    refused = helpers.run_module("colorization.evaluate", "--batch_size=4", f"--output_dir={out}")
    assert refused.returncode == 2 and "--protocol=full does not use batch_size=4" in refused.stderr


def test_skip_examples_scores_the_photos_after_the_first_n(model_dir, tmp_path):
    """--skip_examples=2 --max_examples=2 scores exactly photos 3 and 4 of each set of a run
    over every photo; a set with no photo left is said and left out, none left at all is an
    error; the crop protocol and negative counts are refused."""
    data = helpers.small_vocdevkit(tmp_path / "d" / "VOC2012", count=24, height=36, width=44)
    small = helpers.small_vocdevkit(tmp_path / "s" / "VOC2012", count=8, height=40, width=40)

    def run(name, *extra):
        return helpers.run_module(
            "colorization.evaluate",
            f"--model=tiny={model_dir}",
            f"--dataset=voc_dir:{data},voc_dir:{small}",
            f"--output_dir={tmp_path / name}",
            "--bootstrap=30",
            "--report_images=0",
            *extra,
        )

    def per_image(name, *extra):
        result = run(name, *extra)
        assert result.returncode == 0, result.stderr[-2000:]
        return json.loads((tmp_path / name / "metrics.json").read_text()), result.stdout

    every, _ = per_image("every")
    first = [r for r in every["per_image"] if r["set"] == f"voc_dir:{data}"]
    # A quarter of each set is its val split: 6 and 2 photos.
    assert len(first) == 6 and len(every["per_image"]) == 8
    later, stdout = per_image("later", "--skip_examples=2", "--max_examples=2")
    assert later["settings"]["skip_examples"] == 2
    assert later["per_image"] == first[2:4]
    assert list(later["per_set"]) == [f"voc_dir:{data}"]
    assert later["settings"]["sets_without_photos"] == [f"voc_dir:{small}"]
    assert f"voc_dir:{small}: no photo to score after the first 2" in stdout
    assert later["all"]["num_images"] == 2
    tail, _ = per_image("tail", "--skip_examples=5")
    assert tail["per_image"] == first[5:]
    none_left = run("none", "--skip_examples=6")
    assert none_left.returncode == 2
    assert "No photo to score" in none_left.stderr and "first 6 of each set" in none_left.stderr

    models = parse_models([], "shipped/path")
    with pytest.raises(ValueError, match="skip_examples=3 needs --protocol=full"):
        EvalConfig(models=models, output_dir="out", protocol="crop", skip_examples=3)
    with pytest.raises(ValueError, match="skip_examples must be >= 0. Received: -1"):
        EvalConfig(models=models, output_dir="out", skip_examples=-1)


def test_contact_sheet_command_writes_one_row_per_photo(tmp_path):
    """grey | each model | truth per photo under a header; a bad file is skipped and
    counted; one model scored twice with two decodings gives two columns."""
    from PIL import Image

    from tests.helpers import photo, run_module

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(photo(60 + i, 48, 72)).save(folder / f"p{i}.png")
    (folder / "broken.jpg").write_bytes(b"not a photo")
    out = tmp_path / "sheet.png"
    result = run_module(
        "colorization.contact_sheet",
        str(folder),
        "--model=plain=colorization/pretrained@0,edges=colorization/pretrained@2",
        f"--output={out}",
        "--height=60",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "2 photos x 2 models; 1 skipped" in result.stdout
    sheet = np.asarray(Image.open(out))
    # A 28-pixel header, then two rows of 60 + 4 pixels; four columns of 80 + 4.
    assert sheet.shape == (28 + 2 * 64, 4 * 84, 3)
    truth_cell = sheet[28 + 64 : 28 + 124, 3 * 84 : 3 * 84 + 80]
    assert truth_cell.std() > 10  # a photo, not the white background
    bad = run_module("colorization.contact_sheet", str(folder), f"--output={out}", "--model=x@-1")
    assert bad.returncode == 2 and "radius must be >= 0" in bad.stderr
