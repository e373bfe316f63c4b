"""colorization.inference.Colorizer, the colorize CLI and the evaluate CLI on a tiny trained model."""

import json
import os

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from colorization.core import color
from colorization.inference import decoding as inference
from colorization.inference.colorizer import Colorizer
from tests.helpers import photo, run_module


def test_compose_rgb_keeps_full_resolution_lightness():
    rng = np.random.default_rng(0)
    lightness = rng.uniform(20, 80, (1, 37, 53, 1)).astype(np.float32)
    logits = rng.normal(size=(1, 4, 4, 313)).astype(np.float32)
    rgb, ab = inference.compose_rgb(lightness, logits)
    assert rgb.shape == (1, 37, 53, 3) and ab.shape == (1, 37, 53, 2)
    # L of the output is the input L wherever the colour is inside the gamut.
    back = color.rgb_to_lab(rgb).numpy()[..., 0]
    in_gamut = (rgb.numpy() > 0.001).all(-1) & (rgb.numpy() < 0.999).all(-1)
    np.testing.assert_allclose(back[in_gamut], lightness[..., 0][in_gamut], atol=0.05)


def test_colorizer_output_matches_input_size_and_lightness(model_dir):
    colorizer = Colorizer(str(model_dir))
    for shape in [(5, 7, 3), (300, 40, 3), (64, 64), (33, 20, 1)]:
        image = photo(1, *shape[:2])
        image = image if len(shape) == 3 and shape[2] == 3 else image[..., 0]
        image = image[..., None] if len(shape) == 3 and shape[2] == 1 else image
        out = colorizer.colorize(image)
        assert out.shape == (*shape[:2], 3) and out.dtype == np.uint8
    # Inference joins ab with the ORIGINAL L: a 1-pixel checkerboard survives in L.
    board = (np.indices((64, 96)).sum(0) % 2 * 200 + 30).astype(np.uint8)
    out = colorizer.colorize(np.repeat(board[..., None], 3, -1))
    out_l = color.rgb_to_lab(tf.cast(out, tf.float32) / 255.0).numpy()[..., 0]
    in_l = color.rgb_to_lab(
        tf.cast(np.repeat(board[..., None], 3, -1), tf.float32) / 255.0
    ).numpy()[..., 0]
    assert np.corrcoef(out_l.ravel(), in_l.ravel())[0, 1] > 0.99


def test_colorizer_rejects_bad_temperature(model_dir):
    with pytest.raises(ValueError, match="temperature"):
        Colorizer(str(model_dir), temperature=0)


def _colorize_cli(*args):
    return run_module("colorization.colorize", *args)


@pytest.mark.slow
def test_colorize_cli_on_odd_inputs(model_dir, tmp_path):
    inputs = tmp_path / "in"
    inputs.mkdir()
    Image.fromarray(photo(1, 3, 2)).save(inputs / "tiny.png")
    Image.fromarray(photo(2, 300, 4000)).save(inputs / "panorama.jpg")
    Image.fromarray(photo(3, 50, 70)[..., 0]).save(inputs / "grey.jpg")
    Image.fromarray(photo(4, 40, 30)).convert("RGBA").save(inputs / "alpha.png")
    (inputs / "corrupt.jpg").write_bytes(b"\xff\xd8\xff not really")
    out = tmp_path / "out"
    result = _colorize_cli(str(inputs), f"--model={model_dir}", f"--output_dir={out}")
    assert result.returncode == 0, result.stderr
    assert "corrupt.jpg: unreadable" in result.stderr
    sizes = {p: Image.open(out / p).size for p in sorted(os.listdir(out)) if p.endswith(".png")}
    assert sorted(os.listdir(out)) == sorted([*sizes, "manifest.jsonl"])
    assert sizes == {
        "alpha.png": (30, 40),
        "grey.png": (70, 50),
        "panorama.png": (4000, 300),
        "tiny.png": (2, 3),
    }
    assert "Done: 4 written, 0 kept (made before with the same model and settings), 1 failed" in (
        result.stdout
    )
    # A second run keeps what the same model made with the same settings; --overwrite
    # colours it again.
    again = _colorize_cli(str(inputs / "tiny.png"), f"--model={model_dir}", f"--output_dir={out}")
    assert "0 written, 1 kept" in again.stdout
    forced = _colorize_cli(
        str(inputs / "tiny.png"), f"--model={model_dir}", f"--output_dir={out}", "--overwrite"
    )
    assert "1 written" in forced.stdout


def test_colorize_cli_bad_model_is_a_clear_error(tmp_path):
    result = _colorize_cli("x.jpg", f"--model={tmp_path / 'missing'}", f"--output_dir={tmp_path}")
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_evaluate_cli_writes_metrics_and_report(model_dir, generated_voc, tmp_path):
    out = tmp_path / "eval"
    result = run_module(
        "colorization.evaluate",
        "--protocol=crop",
        f"--model={model_dir},{model_dir / 'model.keras'}",
        f"--dataset=voc_dir:{generated_voc}",
        "--split=val",
        f"--output_dir={out}",
        "--temperatures=0.2,1.0",
        "--report_images=3",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads((out / "metrics.json").read_text())
    methods = set(summary["metrics"])
    assert "grey" in methods and len(methods) == 3
    grey = summary["metrics"]["grey"]
    assert grey["colorfulness"] < 1.0 and grey["num_images"] == 3
    # The same model loaded two ways scores the same.
    scores = [v["auc"] for k, v in summary["metrics"].items() if k != "grey"]
    assert scores[0] == pytest.approx(scores[1], abs=1e-6)
    assert set(summary["temperature_sweep"]) == {"0.2", "1.0"}
    assert len(summary["per_image"]) == 3 and summary["per_class"]
    sheet = tf.io.decode_png(tf.io.read_file(str(out / "contact_sheet.png"))).numpy()
    assert sheet.shape == (3 * 32, 4 * 32, 3)  # grey | model | model | truth
    report = (out / "report.html").read_text()
    assert report.count("data:image/png;base64,") == 3 * 4 and "Per class" in report


@pytest.mark.slow
def test_checkpoints_load_like_the_final_model(tiny_model_dir, tmp_path):
    """load_model_dir's checkpoint branch: a checkpoint prefix, and a model_dir that has
    only checkpoints (a killed run), give the final model's outputs (its last checkpoint
    holds the same weights)."""
    import shutil

    from colorization.model import model_files

    final, _ = model_files.load_model_dir(str(tiny_model_dir / "model.keras"))
    prefix = str(tiny_model_dir / "checkpoints" / "ckpt-6")
    from_prefix, config = model_files.load_model_dir(prefix)
    killed = tmp_path / "killed_run"
    shutil.copytree(tiny_model_dir, killed, ignore=shutil.ignore_patterns("model.keras"))
    from_dir, _ = model_files.load_model_dir(str(killed))
    lightness = np.random.default_rng(3).uniform(0, 100, (2, 32, 32, 1)).astype(np.float32)
    expected = final(lightness, training=False)
    for model in (from_prefix, from_dir):
        out = model(lightness, training=False)
        for key in ("color_logits", "class_logits"):
            np.testing.assert_allclose(out[key].numpy(), expected[key].numpy(), atol=1e-5)
    assert config.model.image_size == 32
    # An earlier checkpoint is another model; the Colorizer takes prefixes too.
    earlier, _ = model_files.load_model_dir(str(tiny_model_dir / "checkpoints" / "ckpt-3"))
    assert not np.allclose(earlier(lightness)["color_logits"], expected["color_logits"])
    image = photo(9, 30, 40)
    np.testing.assert_array_equal(
        Colorizer(prefix).colorize(image), Colorizer(str(tiny_model_dir)).colorize(image)
    )
    with pytest.raises(ValueError, match="not a .keras file, a model directory"):
        model_files.load_model_dir(str(tmp_path / "elsewhere" / "x" / "ckpt-1"))


def test_cpu_features_decide_the_auto_precision(tmp_path):
    from colorization.core import hardware

    with_bf16 = tmp_path / "zen4"
    with_bf16.write_text("processor : 0\nflags : fpu avx2 fma avx512f avx512_vnni avx512_bf16\n")
    without = tmp_path / "zen2"
    without.write_text("processor : 0\nflags : fpu avx2 fma\n")
    assert hardware.instruction_sets(str(with_bf16)) == [
        "avx2",
        "fma",
        "avx512f",
        "avx512_vnni",
        "avx512_bf16",
    ]
    assert hardware.resolve_precision("auto", str(with_bf16)) == "bfloat16"
    assert hardware.resolve_precision("auto", str(without)) == "float32"
    assert hardware.resolve_precision("auto", str(tmp_path / "missing")) == "float32"
    assert hardware.resolve_precision("float32", str(with_bf16)) == "float32"
    with pytest.raises(ValueError, match="precision=.float16."):
        hardware.resolve_precision("float16")


def test_bfloat16_colorizer_runs_the_network_in_bfloat16(model_dir):
    plain = Colorizer(str(model_dir))
    fast = Colorizer(str(model_dir), precision="bfloat16")
    conv = next(layer for layer in fast.model.layers if layer.name.startswith("conv"))
    assert fast.precision == "bfloat16" and conv.compute_dtype == "bfloat16"
    assert plain.model.get_layer(conv.name).compute_dtype == "float32"
    lightness = np.random.default_rng(2).uniform(0, 100, (1, 32, 32, 1)).astype(np.float32)
    a = plain.model(lightness)["color_logits"].numpy()
    b = fast.model(lightness)["color_logits"].numpy()
    assert b.dtype == np.float32 and 1e-5 < np.abs(a - b).max() / np.abs(a).max() < 0.05
    image = photo(14, 40, 60)
    difference = np.abs(fast.colorize(image).astype(int) - plain.colorize(image))
    assert difference.mean() < 2.0
    with pytest.raises(ValueError, match="precision=bfloat16 needs a model_dir"):
        Colorizer(str(model_dir / "model.keras"), precision="bfloat16")
