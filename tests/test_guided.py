"""colorization.core.guided (edge-aware decoding) against a NumPy guided filter written with
loops, and the properties the decoding relies on."""

import numpy as np
import pytest
import tensorflow as tf

from colorization.core import guided
from colorization.inference import decoding


def _box_loop(x, radius):
    """Mean over the (2r+1)² window of each cell, counting only cells inside the grid."""
    height, width = x.shape[:2]
    out = np.zeros_like(x, np.float64)
    for i in range(height):
        for j in range(width):
            window = x[max(0, i - radius) : i + radius + 1, max(0, j - radius) : j + radius + 1]
            out[i, j] = window.reshape(-1, *x.shape[2:]).mean(0)
    return out


def _guided_loop(ab, guide, radius, epsilon):
    """He, Sun and Tang's guided filter coefficients, one window at a time."""
    guide = guide.astype(np.float64)
    mean_l = _box_loop(guide, radius)
    mean_ab = _box_loop(ab, radius)
    var = _box_loop(guide * guide, radius) - mean_l**2
    cov = _box_loop(guide * ab, radius) - mean_l * mean_ab
    slope = cov / (var + epsilon)
    offset = mean_ab - slope * mean_l
    return _box_loop(slope, radius), _box_loop(offset, radius)


def test_coefficients_match_a_loop_guided_filter():
    rng = np.random.default_rng(0)
    ab = rng.normal(0, 20, (1, 6, 7, 2)).astype(np.float32)
    lightness = rng.uniform(0, 100, (1, 24, 28, 1)).astype(np.float32)
    edge = guided.EdgeAware(radius=2, epsilon=0.01)
    slope, offset = (t.numpy()[0] for t in guided.coefficients(ab, lightness, edge))
    # The guide: L/100 averaged over each 4 x 4 block of the network's input.
    guide = lightness[0].reshape(6, 4, 7, 4, 1).mean((1, 3)) / 100.0
    want_slope, want_offset = _guided_loop(ab[0].astype(np.float64), guide, 2, 0.01)
    np.testing.assert_allclose(slope, want_slope, rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(offset, want_offset, rtol=1e-3, atol=1e-3)


def test_colour_that_follows_lightness_is_kept_at_full_resolution():
    """ab = 40 L/100 - 10 on the coarse grid: the fit recovers the line, so the full
    resolution ab follows the full resolution L (edges included), not the blurred grid."""
    rng = np.random.default_rng(1)
    full = np.zeros((1, 64, 64, 1), np.float32)
    full[:, :, 29:] = 80.0  # an edge that falls inside a coarse cell
    full += rng.uniform(0, 2, full.shape).astype(np.float32)
    small = tf.image.resize(full, [32, 32], antialias=True)
    grid = tf.nn.avg_pool2d(small / 100.0, 4, 4, "VALID")
    ab = tf.concat([40.0 * grid - 10.0, -20.0 * grid + 5.0], -1)
    edge = guided.EdgeAware(radius=1, epsilon=1e-4)
    got = guided.apply(*guided.coefficients(ab, small, edge), full).numpy()
    want = np.concatenate([40.0 * full / 100 - 10.0, -20.0 * full / 100 + 5.0], -1)
    # Within a flat region the 2-unit noise of L is below epsilon and is not followed:
    # at most 40 x 2/100 = 0.8 off there.
    assert np.abs(got - want).max() < 0.85
    bilinear = tf.image.resize(ab, [64, 64]).numpy()
    assert np.abs(bilinear - want).max() > 5  # plain upsampling blurs the edge


def test_off_is_plain_bilinear_upsampling():
    rng = np.random.default_rng(2)
    ab = rng.normal(0, 20, (2, 5, 6, 2)).astype(np.float32)
    full = rng.uniform(0, 100, (2, 37, 41, 1)).astype(np.float32)
    _, got = decoding.rgb_from_ab(full, ab)
    slope, offset = guided.coefficients(ab, full, guided.OFF)
    assert not np.any(slope.numpy())
    np.testing.assert_array_equal(guided.apply(slope, offset, full).numpy(), got.numpy())
    np.testing.assert_allclose(got.numpy(), tf.image.resize(ab, [37, 41]).numpy(), atol=1e-5)


def test_bad_settings_are_refused():
    with pytest.raises(ValueError, match="radius"):
        guided.EdgeAware(radius=-1)
    with pytest.raises(ValueError, match="epsilon"):
        guided.EdgeAware(radius=1, epsilon=0.0)
    with pytest.raises(ValueError, match="the L the network saw"):
        decoding.rgb_from_ab(
            np.zeros((1, 8, 8, 1)), np.zeros((1, 2, 2, 2)), None, guided.EdgeAware(1)
        )
