"""The TensorFlow-free training path for a lent GPU machine: benchmarks.gpu_pack (here, with
TensorFlow) and benchmarks.gpu_train (KERAS_BACKEND=jax, no TensorFlow)."""

import json
import os
import subprocess
import sys

import keras
import numpy as np
import pytest

from colorization.config import ModelConfig
from colorization.model import build_model
from tests.helpers import ROOT

# Runs benchmarks.gpu_train as on the GPU machine: JAX backend, and TensorFlow cannot be
# imported at all (Keras probes for it optionally and must carry on without it).
_NO_TENSORFLOW = """
import runpy, sys
class NoTensorFlow:
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("TensorFlow is not installed on the GPU machine")
sys.meta_path.insert(0, NoTensorFlow())
sys.argv = ["gpu_train", *sys.argv[1:]]
runpy.run_module("benchmarks.gpu_train", run_name="__main__")
"""


def run_without_tensorflow(args):
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    return subprocess.run(
        [sys.executable, "-c", _NO_TENSORFLOW, *args],
        cwd=ROOT, env=env, capture_output=True, text=True,
    )  # fmt: skip


@pytest.fixture(scope="module")
def small_pack(generated_voc, tmp_path_factory):
    from benchmarks import gpu_pack
    from data_prep import sources

    source = sources.load_source(f"voc_dir:{generated_voc}", "train")
    arrays = gpu_pack.pack(source, image_size=32, quality=95)
    path = str(tmp_path_factory.mktemp("pack") / "pack.npz")
    gpu_pack.write_pack(arrays, path, max_mb=10)
    return path, arrays, source


def test_soft_encode_in_keras_ops_matches_bins(small_pack):
    from benchmarks import gpu_train
    from colorization import bins

    ab = np.random.default_rng(0).uniform(-110, 110, (3, 7, 5, 2)).astype(np.float32)
    indices, probs = gpu_train.soft_encode(ab, bins.bin_centers(), 5, 5.0)
    ref_indices, ref_probs = bins.soft_encode(ab, 5, 5.0)
    np.testing.assert_array_equal(keras.ops.convert_to_numpy(indices), ref_indices.numpy())
    np.testing.assert_allclose(keras.ops.convert_to_numpy(probs), ref_probs.numpy(), atol=1e-5)


def test_pack_holds_the_pipelines_crops_and_targets(small_pack):
    """L decoded from the pack (JPEG + scikit-image) and the packed ab agree with the
    TensorFlow pipeline's own evaluation crops."""
    from benchmarks import gpu_train
    from colorization import bins, color
    from data_prep import pipeline

    path, arrays, source = small_pack
    pack = gpu_train.load_pack(path)
    assert len(pack["labels"]) == source.num_examples == 9
    np.testing.assert_array_equal(pack["bin_centers"], bins.bin_centers())
    assert pack["bin_weights"].shape == (313,) and np.all(pack["bin_weights"] > 0)
    config = pipeline.PipelineConfig(image_size=32, batch_size=9, training=False, with_rgb=True)
    features, targets = next(iter(pipeline.build_dataset(source, config)))
    np.testing.assert_array_equal(pack["labels"], targets["class_logits"].numpy())
    lightness = gpu_train.decode_lightness(pack["jpeg_bytes"], pack["jpeg_offsets"], workers=2)
    assert lightness.shape == (9, 32, 32, 1)
    # JPEG at quality 95: L within about a unit on average.
    assert np.abs(lightness - features["L"].numpy()).mean() < 1.0
    true_ab = color.rgb_to_lab(pipeline.target_rgb(features["rgb"], 32))[..., 1:].numpy()
    np.testing.assert_allclose(pack["target_ab"], true_ab, atol=0.51)


def test_pack_too_large_fails_with_the_size(small_pack, tmp_path):
    from benchmarks import gpu_pack

    _, arrays, _ = small_pack
    with pytest.raises(ValueError, match=r"MiB, more than --max_mb=0.001"):
        gpu_pack.write_pack(arrays, str(tmp_path / "big.npz"), max_mb=0.001)
    assert not os.listdir(tmp_path)


def test_trains_under_jax_and_the_weights_load_into_tensorflow(small_pack, tmp_path):
    from benchmarks import gpu_train, gpu_weights

    path, _, _ = small_pack
    out = tmp_path / "run"
    args = [
        f"--pack={path}", f"--output_dir={out}", f"--spill_dir={tmp_path / 'spill'}",
        "--width_multiplier=0.125", "--fc_units=16,16,8",
        "--batch_size=4", "--steps=3", "--warmup_steps=0", "--dtype_policy=float32",
    ]  # fmt: skip
    result = run_without_tensorflow(args)
    assert result.returncode == 0, result.stdout + result.stderr
    summary = json.loads((out / "metrics.json").read_text())
    assert summary["backend"] == "jax"
    assert summary["steps"] == 3 and summary["images_per_s"] > 0

    assert summary["weight_shards"] == {"weights-01-of-01.npz": "out"}

    # The TensorFlow model rebuilt from the float16 shards reproduces JAX's logits.
    model = gpu_weights.rebuild(str(out))
    probe = model(gpu_train.probe_input(32), training=False)["color_logits"].numpy()
    expected = np.array(summary["probe_color_logits"])
    scale = np.abs(expected).max()
    np.testing.assert_allclose(probe[0, :2, :2, :8], expected, atol=5e-3 * scale)
    fresh = build_model(ModelConfig(image_size=32, width_multiplier=0.125, fc_units=(16, 16, 8)))
    fresh_probe = fresh(gpu_train.probe_input(32), training=False)["color_logits"].numpy()
    assert np.abs(fresh_probe[0, :2, :2, :8] - expected).max() > 10 * 5e-3 * scale


def test_weight_shards_spill_and_round_trip(tmp_path):
    """Shards beyond what one call brings back go to the spill folder; all of them together
    restore every variable (float16 precision); missing ones give a clear error."""
    from benchmarks import gpu_train

    config = ModelConfig(image_size=32, width_multiplier=0.125, fc_units=(16, 16, 8))
    keras.utils.set_random_seed(1)
    model = build_model(config)
    out, spill = tmp_path / "out", tmp_path / "spill"
    out.mkdir()
    spill.mkdir()
    places = gpu_train.write_weight_shards(
        model, str(out), str(spill), max_files=2, max_bytes=10**9, shard_bytes=200_000
    )
    assert len(places) > 3
    assert list(places.values()) == ["out", "out"] + ["spill"] * (len(places) - 2)
    assert sorted(os.listdir(out)) == sorted(n for n, p in places.items() if p == "out")
    keras.utils.set_random_seed(2)
    other = build_model(config)
    with pytest.raises(ValueError, match="gpu_train.sh fetch"):
        gpu_train.read_weight_shards(other, str(out))
    for name in os.listdir(spill):
        os.replace(spill / name, out / name)
    gpu_train.read_weight_shards(other, str(out))
    for a, b in zip(model.get_weights(), other.get_weights(), strict=True):
        np.testing.assert_allclose(b, a.astype(np.float16), rtol=0, atol=0)
    wrong = build_model(ModelConfig(image_size=32, width_multiplier=0.25, fc_units=(16, 16, 8)))
    with pytest.raises(ValueError, match="Shape mismatch|variables"):
        gpu_train.read_weight_shards(wrong, str(out))


def test_bad_pack_fails_clearly(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not a pack")
    result = run_without_tensorflow([f"--pack={bad}", f"--output_dir={tmp_path}"])
    assert result.returncode != 0
    assert "Cannot read pack" in result.stderr and "gpu_pack" in result.stderr


def test_bad_flag_fails_before_any_preparation(small_pack, tmp_path):
    path, _, _ = small_pack
    out = tmp_path / "run"
    result = run_without_tensorflow(
        [f"--pack={path}", f"--output_dir={out}", "--steps=3", "--warmup_steps=5"]
    )
    assert result.returncode != 0
    assert "warmup_steps must be in [0, steps=3). Received: 5" in result.stderr
    assert "prepared" not in result.stdout and not out.exists()
