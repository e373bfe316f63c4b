"""benchmarks/learning_curve.py: checkpoints of one run scored on the same photos."""

import json
import xml.etree.ElementTree as ElementTree

import pytest

from tests.helpers import run_command

pytestmark = pytest.mark.slow


def test_the_checkpoints_of_a_run_are_scored_paired_with_the_last(
    tiny_model_dir, generated_voc, tmp_path
):
    output = tmp_path / "curve"
    result = run_command(
        [
            "-m",
            "benchmarks.learning_curve",
            f"--model_dir={tiny_model_dir}",
            "--steps=3,6",
            f"--dataset=voc_dir:{generated_voc}",
            "--image_size=32",
            "--per_set=3",
            "--bootstrap=20",
            f"--output={output}",
            f"--eval_dir={tmp_path / 'eval'}",
        ]
    )
    assert result.returncode == 0, result.stderr[-3000:]
    record = json.loads((tmp_path / "curve.json").read_text())
    assert record["steps"] == [3, 6] and record["num_images"] == 3
    first, last = record["rows"]
    metrics = json.loads(open(record["evaluation"]).read())
    pooled = metrics["per_set"][next(iter(metrics["per_set"]))]
    # The figures are the evaluation's own: each step minus grey, the last minus the first.
    assert first["auc"]["value"] == pooled["differences"]["step_3 - grey"]["auc"]
    assert (
        first["auc"]["last_minus_this"]["value"] == pooled["differences"]["step_6 - step_3"]["auc"]
    )
    assert "last_minus_this" not in last["auc"]
    low, high = first["sepia_share"]["interval"]
    assert low <= first["sepia_share"]["value"] <= high
    svg = ElementTree.parse(tmp_path / "curve.svg").getroot()
    assert svg.tag.endswith("svg") and len(svg.findall(".//{*}circle")) == 4 * 2
    assert "| 6 |" in result.stdout
    assert 0 < first["minutes"] <= last["minutes"]


def test_a_missing_checkpoint_is_named_before_any_work(tiny_model_dir, tmp_path):
    result = run_command(
        [
            "-m",
            "benchmarks.learning_curve",
            f"--model_dir={tiny_model_dir}",
            "--steps=3,4000",
            f"--output={tmp_path / 'curve'}",
        ]
    )
    assert result.returncode == 2 and "ckpt-4000" in result.stderr, result.stderr[-2000:]
    assert not (tmp_path / "curve.json").exists()
