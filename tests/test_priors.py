"""data_prep.priors against a NumPy computation of the same definition."""

import numpy as np
import pytest
import tensorflow as tf
from skimage import color as skcolor

from colorization.core import bins
from data_prep import priors


def _numpy_priors(images, mix_lambda=0.5, sigma=5.0):
    centers = bins.bin_centers().astype(np.float64)
    counts = np.zeros(313, np.int64)
    for rgb in images:
        ab = skcolor.rgb2lab(rgb.astype(np.float64))[..., 1:].reshape(-1, 2)
        nearest = np.argmin(((ab[:, None] - centers[None]) ** 2).sum(-1), -1)
        counts += np.bincount(nearest, minlength=313)
    p = counts / counts.sum()
    kernel = np.exp(-((centers[:, None] - centers[None]) ** 2).sum(-1) / (2 * sigma**2))
    smooth = kernel @ p
    smooth /= smooth.sum()
    w = 1.0 / ((1 - mix_lambda) * smooth + mix_lambda / 313)
    w /= (smooth * w).sum()
    return counts, smooth, w


def _dataset(images):
    return tf.data.Dataset.from_tensor_slices(np.stack(images).astype(np.float32))


def test_priors_match_numpy_on_small_set():
    rng = np.random.default_rng(0)
    images = [rng.random((12, 12, 3)) for _ in range(4)]
    got = priors.compute_priors(_dataset(images), metadata={"dataset": "random"})
    counts, smooth, weights = _numpy_priors(images)
    np.testing.assert_array_equal(got.counts, counts)
    np.testing.assert_allclose(got.smoothed_probs, smooth, rtol=1e-9)
    np.testing.assert_allclose(got.weights, weights, rtol=1e-9)
    assert got.metadata["num_images"] == 4 and got.metadata["num_pixels"] == 4 * 144


def test_normalisation_invariant():
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 1000, size=313)
    for mix_lambda in (0.0, 0.5, 1.0):
        result = priors.priors_from_counts(counts, mix_lambda=mix_lambda)
        assert np.isclose(np.sum(result.smoothed_probs * result.weights), 1.0)
        assert np.isclose(result.smoothed_probs.sum(), 1.0)
    # lambda = 1 ignores the data: every weight is 1.
    np.testing.assert_allclose(priors.priors_from_counts(counts, mix_lambda=1.0).weights, 1.0)


def test_flat_colour_gives_a_spike_at_its_bin():
    red = np.zeros((16, 16, 3))
    red[..., 0] = 1.0
    result = priors.compute_priors(_dataset([red, red]))
    ab_red = skcolor.rgb2lab(red[:1, :1])[0, 0, 1:]
    expected_bin = int(np.argmin(((bins.bin_centers() - ab_red) ** 2).sum(-1)))
    assert result.counts[expected_bin] == 2 * 256
    assert result.counts.sum() == 2 * 256
    assert np.argmax(result.smoothed_probs) == expected_bin
    # The rarest colours get the largest weights; the spike's bin gets the smallest.
    assert np.argmin(result.weights) == expected_bin


def test_save_and_load_round_trip(tmp_path):
    result = priors.priors_from_counts(np.arange(313), metadata={"dataset": "x"})
    path = tmp_path / "priors.npz"
    result.save(path)
    loaded = priors.Priors.load(path)
    for name in ("counts", "probs", "smoothed_probs", "weights"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(result, name))
    assert loaded.metadata == result.metadata


def test_load_rejects_other_files(tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"not an npz")
    with pytest.raises(ValueError, match="Cannot read priors"):
        priors.Priors.load(bad)
    with pytest.raises(ValueError, match="Cannot read priors"):
        priors.Priors.load(tmp_path / "missing.npz")


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="lambda"):
        priors.rebalancing_weights(np.full(313, 1 / 313), mix_lambda=2.0)
    with pytest.raises(ValueError, match="no pixels"):
        priors.priors_from_counts(np.zeros(313))
