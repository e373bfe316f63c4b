"""colorization.core.bins: the 313-bin table, encodings against NumPy, annealed-mean decoding."""

import numpy as np
import pytest
import tensorflow as tf
from skimage import color as skcolor

from colorization.core import bins


def _numpy_sq_distances(ab):
    centers = bins.bin_centers().astype(np.float64)
    return ((ab.reshape(-1, 1, 2) - centers[None]) ** 2).sum(-1)


def test_table_has_313_distinct_multiples_of_ten():
    centers = bins.bin_centers()
    assert centers.shape == (313, 2)
    assert len({tuple(c) for c in centers}) == 313
    assert np.all(centers % 10 == 0)
    assert centers[:, 0].min() == -90 and centers[:, 0].max() == 100
    assert centers[:, 1].min() == -110 and centers[:, 1].max() == 100
    # Reference order: a ascending, then b ascending.
    order = np.lexsort((centers[:, 1], centers[:, 0]))
    np.testing.assert_array_equal(order, np.arange(313))


def test_every_srgb_colour_rounds_to_a_bin():
    # The saturated colours that bound the gamut lie on the faces of the RGB cube: take every
    # face at full 8-bit resolution, plus a coarse grid of the interior.
    levels = np.arange(256) / 255.0
    u, v = np.meshgrid(levels, levels, indexing="ij")
    u, v = u.ravel(), v.ravel()
    faces = []
    for axis in range(3):
        for value in (0.0, 1.0):
            face = np.empty((u.size, 3))
            others = [i for i in range(3) if i != axis]
            face[:, axis] = value
            face[:, others[0]] = u
            face[:, others[1]] = v
            faces.append(face)
    grid = np.stack(np.meshgrid(*[np.linspace(0, 1, 33)] * 3, indexing="ij"), -1).reshape(-1, 3)
    rgb = np.concatenate(faces + [grid])
    ab = skcolor.rgb2lab(rgb[None])[0][:, 1:]
    cells = {tuple(c) for c in (np.round(ab / 10.0) * 10).astype(int)}
    table = {tuple(c) for c in bins.bin_centers()}
    assert cells <= table
    assert 250 <= len(cells) < 313  # The gamut reaches most, not all, of the bins.


def test_hard_encode_is_the_nearest_bin():
    rng = np.random.default_rng(0)
    ab = rng.uniform(-120, 120, size=(2, 9, 7, 2)).astype(np.float32)
    got = bins.hard_encode(ab).numpy()
    dist = _numpy_sq_distances(ab.astype(np.float64))
    expected_dist = dist.min(-1)
    got_dist = dist[np.arange(dist.shape[0]), got.ravel()]
    # Same bin, or a tie at the same distance.
    np.testing.assert_allclose(got_dist, expected_dist, rtol=1e-5, atol=1e-3)
    assert got.shape == (2, 9, 7) and got.dtype == np.int32


def test_hard_encode_of_bin_centres_is_identity():
    centers = bins.bin_centers().astype(np.float32)
    np.testing.assert_array_equal(bins.hard_encode(centers).numpy(), np.arange(313))


@pytest.mark.parametrize("num_neighbors", [1, 5, 10])
def test_soft_encode_matches_numpy_gaussian(num_neighbors):
    rng = np.random.default_rng(1)
    ab = rng.uniform(-100, 100, size=(3, 5, 2)).astype(np.float32)
    indices, probs = bins.soft_encode(ab, num_neighbors=num_neighbors, sigma=5.0)
    indices, probs = indices.numpy(), probs.numpy()
    assert indices.shape == (3, 5, num_neighbors) and probs.shape == (3, 5, num_neighbors)
    dist = _numpy_sq_distances(ab.astype(np.float64))
    expected_idx = np.argsort(dist, axis=-1, kind="stable")[:, :num_neighbors]
    expected_d = np.take_along_axis(dist, expected_idx, -1)
    weights = np.exp(-expected_d / (2 * 25.0))
    expected_p = weights / weights.sum(-1, keepdims=True)
    np.testing.assert_allclose(probs.reshape(-1, num_neighbors), expected_p, atol=1e-5)
    got_d = np.take_along_axis(dist, indices.reshape(-1, num_neighbors), -1)
    np.testing.assert_allclose(got_d, expected_d, rtol=1e-5, atol=1e-3)


def test_soft_encode_is_finite_far_outside_the_gamut():
    ab = np.array([[500.0, -500.0], [0.0, 0.0]], np.float32)
    _, probs = bins.soft_encode(ab)
    assert np.all(np.isfinite(probs.numpy()))
    np.testing.assert_allclose(probs.numpy().sum(-1), 1.0, atol=1e-6)


def test_soft_encode_chunks_bound_memory_and_match_unchunked():
    """A (32, 64, 64) batch is encoded in chunks; results equal a single-chunk encode."""
    rng = np.random.default_rng(2)
    ab = rng.uniform(-100, 100, size=(32, 64, 64, 2)).astype(np.float32)
    small_chunks = bins.soft_encode(ab, chunk_size=1000)
    one_chunk = bins.soft_encode(ab[:1], chunk_size=64 * 64)
    np.testing.assert_array_equal(small_chunks[0].numpy()[:1], one_chunk[0].numpy())
    np.testing.assert_allclose(small_chunks[1].numpy()[:1], one_chunk[1].numpy(), atol=1e-6)


def test_soft_encode_rejects_bad_arguments():
    with pytest.raises(ValueError, match="num_neighbors"):
        bins.soft_encode(np.zeros((2, 2), np.float32), num_neighbors=0)
    with pytest.raises(ValueError, match="sigma"):
        bins.soft_encode(np.zeros((2, 2), np.float32), sigma=0.0)
    with pytest.raises(ValueError, match="2 channels"):
        bins.hard_encode(np.zeros((2, 3), np.float32))


def test_soft_targets_are_distributions_over_distinct_bins():
    ab = np.random.default_rng(3).uniform(-80, 80, size=(4, 4, 2)).astype(np.float32)
    indices, probs = (t.numpy() for t in bins.soft_encode(ab))
    assert indices.shape == probs.shape == (4, 4, 5)
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-6)
    assert all(len(set(row)) == 5 for row in indices.reshape(-1, 5).tolist())


def _numpy_annealed_mean(logits, temperature):
    logits = logits.astype(np.float64)
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    annealed = np.exp(np.log(probs) / temperature)
    annealed /= annealed.sum(-1, keepdims=True)
    return annealed @ bins.bin_centers().astype(np.float64)


@pytest.mark.parametrize("temperature", [1.0, 0.38, 0.1])
def test_annealed_mean_matches_numpy(temperature):
    logits = np.random.default_rng(4).normal(size=(2, 3, 3, 313)).astype(np.float32) * 3
    got = bins.annealed_mean_from_logits(logits, temperature).numpy()
    np.testing.assert_allclose(got, _numpy_annealed_mean(logits, temperature), atol=1e-3)


def test_temperature_one_is_the_mean_and_small_temperature_is_the_mode():
    logits = np.random.default_rng(5).normal(size=(10, 313)).astype(np.float32) * 2
    probs = tf.nn.softmax(logits).numpy().astype(np.float64)
    centers = bins.bin_centers().astype(np.float64)
    np.testing.assert_allclose(
        bins.annealed_mean_from_logits(logits, 1.0).numpy(), probs @ centers, atol=1e-3
    )
    # Lift each row's top logit clear of its runner-up, so the mode is well defined.
    top = np.argmax(logits, -1)
    logits[np.arange(10), top] += 0.5
    mode = centers[top]
    np.testing.assert_allclose(
        bins.annealed_mean_from_logits(logits, 0.01).numpy(), mode, atol=1e-2
    )


def test_annealed_mean_is_finite_for_extreme_logits():
    logits = np.zeros((3, 313), np.float32)
    logits[0, 7] = 1e30
    logits[1] = -1e30
    logits[1, 100] = 1e4
    logits[2, :] = 1e4
    got = bins.annealed_mean_from_logits(logits, 0.01).numpy()
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(got[0], bins.bin_centers()[7], atol=1e-4)
    np.testing.assert_allclose(got[1], bins.bin_centers()[100], atol=1e-4)


def test_encode_and_decode_inside_dataset_map_equal_eager():
    ab = np.random.default_rng(6).uniform(-80, 80, size=(3, 6, 6, 2)).astype(np.float32)
    eager_idx, eager_p = bins.soft_encode(ab)
    mapped = list(
        tf.data.Dataset.from_tensor_slices(ab).map(bins.soft_encode).batch(3).as_numpy_iterator()
    )[0]
    np.testing.assert_array_equal(mapped[0], eager_idx.numpy())
    np.testing.assert_allclose(mapped[1], eager_p.numpy(), atol=1e-6)
    logits = np.random.default_rng(7).normal(size=(3, 6, 6, 313)).astype(np.float32)
    eager = bins.annealed_mean_from_logits(logits).numpy()
    traced = tf.function(bins.annealed_mean_from_logits)(logits).numpy()
    np.testing.assert_allclose(traced, eager, atol=1e-4)
