"""benchmarks/screen.py and screening_table.py: the rows written from an evaluation, the table
kept, and the command's refusals and reruns."""

import pytest
from PIL import Image

from benchmarks import screening_table as screen
from tests.helpers import photo, run_command


def _summary(name, rebalanced, sepia, reference=True):
    metrics = {
        "auc": 1.0,
        "rebalanced_auc": rebalanced,
        "colorfulness_ratio": 0.8,
        "sepia_share": sepia,
        "blotch": 0.25,
        "bleeding": 1.5,
    }
    out = {
        "num_images": 10,
        "metrics": {name: metrics, "grey": {}},
        "differences": {f"{name} - grey": {"auc": 0.5, "rebalanced_auc": rebalanced - 60}},
        "interval": {"differences": {}},
        "class": {name: {"num_labelled": 4, "top1_accuracy": 75.0}},
    }
    if reference:
        out["differences"][f"{name} - reference"] = {"rebalanced_auc": 0.3, "sepia_share": -2.0}
        out["interval"]["differences"][f"{name} - reference"] = {
            "rebalanced_auc": [0.1, 0.5],
            "sepia_share": [-4.0, 0.5],
        }
    return out


def test_rows_and_table_from_an_evaluation(tmp_path):
    result = {
        "all": _summary("lever", 66.0, 12.5),
        "per_set": {"folder:x": _summary("lever", 64.0, 20.0)},
    }
    row = screen.summary_row("lever", "--fusion=false", 9.2, result, "reference")
    assert row["pooled"]["rebalanced_auc_minus_grey"] == pytest.approx(6.0)
    assert row["per_set"]["folder:x"]["sepia_share"] == 20.0
    text = screen.markdown_row(row)
    assert text.startswith(
        "| lever | `--fusion=false` | 9 | +0.50 | +6.00 | 80 % | 12.5 % | 0.25 | 1.50 | 75.0 % |"
    )
    assert "+0.30 [+0.10, +0.50]" in text and "-2.00 [-4.00, +0.50]" in text
    doc = tmp_path / "experiments.md"
    doc.write_text("# Experiments\n\nBefore.\n")
    screen.update_table(str(doc), [row])
    screen.update_table(str(doc), [row, {**row, "variant": "other"}])
    written = doc.read_text()
    # The table is replaced in place, not appended twice; the text around it stays.
    assert written.count(screen.TABLE_START) == 1 and written.startswith("# Experiments\n\nBefore.")
    assert written.count("\n| lever | `") == 1 and written.count("\n| other | `") == 1
    # Per source, each variant against its reference: rebalanced AuC / brown-cast share.
    assert written.count(screen.SOURCES_START) == 1
    assert "| source | lever | other |" in written
    assert "| x | +0.30 / -2.0 | +0.30 / -2.0 |" in written
    assert "| **pooled** | +0.30 / -2.0 | +0.30 / -2.0 |" in written
    base = screen.summary_row(
        "base", "", 8.0, {"all": _summary("base", 65, 15, False), "per_set": {}}
    )
    assert screen.markdown_row(base).endswith("| — | — | — |")
    # One val set: its figures are the pooled ones (the evaluation pools nothing).
    single = screen.summary_row(
        "one", "", 3.0, {"all": None, "per_set": {"folder:x": _summary("one", 64.0, 20.0, False)}}
    )
    assert single["pooled"]["sepia_share"] == 20.0 and single["num_images"] == 10
    assert screen.markdown_row(base).startswith("| base | `(base)` |")
    # A variant's seed and training data show beside its flags.
    other = {**row, "seed": 1, "train_dataset": "folder:photos/*"}
    assert screen.markdown_row(other).startswith(
        "| lever | `--seed=1 --dataset=folder:photos/* --fusion=false` |"
    )
    assert "`--seed=1 --fusion=false (against base_seed1)`" in screen.markdown_row(
        {**row, "seed": 1, "reference": "base_seed1"}
    )
    # So does a budget other than every variant's default.
    assert "`--seed=1 --steps=1000 --fusion=false`" in screen.markdown_row(
        {**row, "seed": 1, "steps": 1000}
    )
    assert "--steps" not in screen.markdown_row({**row, "steps": screen.DEFAULT_STEPS})


@pytest.mark.parametrize(
    "train_flags, named",
    [("--no_such_flag=1", "no_such_flag"), ("--image_size=30", "image_size=30")],
)
def test_a_bad_variant_flag_fails_before_any_work(tmp_path, train_flags, named):
    # The variant's flags are train_main.py's, parsed in this process before the shared
    # priors are counted or anything trains.
    photos = tmp_path / "data" / "pics" / "a"
    photos.mkdir(parents=True)
    for i in range(3):
        Image.fromarray(photo(i, 32, 32)).save(photos / f"{i}.png")
    result = run_command(
        [
            "-m",
            "benchmarks.screen",
            "--name=lever",
            f"--train_flags={train_flags}",
            f"--runs={tmp_path / 'runs'}",
            f"--data_root={tmp_path / 'data'}",
            "--train_dataset=folder:pics",
        ]
    )
    assert result.returncode != 0
    assert named in result.stderr, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs" / "priors.npz").exists()
    assert not (tmp_path / "runs" / "lever").exists()


def test_a_missing_reference_is_named_before_any_work(tmp_path):
    result = run_command(
        [
            "-m",
            "benchmarks.screen",
            "--name=lever",
            "--reference=no_such_run",
            f"--runs={tmp_path / 'runs'}",
            f"--data_root={tmp_path}",
        ]
    )
    assert result.returncode == 2 and "--reference='no_such_run'" in result.stderr, result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.slow
def test_a_finished_variant_is_scored_again_without_retraining(generated_voc, tmp_path):
    """A second call on a trained variant scores it again and keeps its summary.json (the
    training's minutes and losses); no Markdown file is touched unless --table names one."""
    import json

    runs = tmp_path / "runs"
    args = [
        "-m",
        "benchmarks.screen",
        "--name=base",
        f"--runs={runs}",
        f"--data_root={generated_voc.parent}",
        f"--train_dataset=voc_dir:{generated_voc.name}",
        f"--val_dataset=voc_dir:{generated_voc.name}",
        "--init_from=",
        "--steps=2",
        "--warmup_steps=0",
        "--checkpoint_every=2",
        "--batch_size=2",
        "--per_set=2",
        "--train_image_size=32",
        "--image_size=32",
        "--bootstrap=10",
        "--eval_examples=2",
    ]
    first = run_command(args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = (runs / "base" / "summary.json").read_text()
    second = run_command([*args, "--table=table.md"], cwd=tmp_path)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "scoring it again" in second.stdout
    assert (runs / "base" / "summary.json").read_text() == summary
    rows = json.loads((runs / "screening.json").read_text())
    assert [r["variant"] for r in rows] == ["base"]
    assert rows[0]["minutes"] == pytest.approx(json.loads(summary)["wall_time_s"] / 60, abs=0.06)
    assert "| base |" in (tmp_path / "table.md").read_text()
    assert not (tmp_path / "docs").exists()
