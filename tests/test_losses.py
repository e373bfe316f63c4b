"""colorization.model.losses against NumPy computations done by hand; gradients; training."""

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorization.core import bins, gamut
from colorization.core.config import ModelConfig
from colorization.model import losses
from colorization.model.network import build_model


def _log_softmax(x):
    x = x.astype(np.float64)
    x = x - x.max(-1, keepdims=True)
    return x - np.log(np.exp(x).sum(-1, keepdims=True))


def _numpy_color_loss(logits, dense_target, weight):
    per_pixel = -(dense_target * _log_softmax(logits)).sum(-1)
    return (weight * per_pixel).mean()


def test_hard_color_loss_equals_numpy():
    rng = np.random.default_rng(0)
    logits = rng.normal(size=(2, 3, 3, 313)).astype(np.float32)
    indices = rng.integers(0, 313, (2, 3, 3, 1))
    weight = rng.uniform(0.5, 3, (2, 3, 3)).astype(np.float32)
    packed = losses.pack_color_target(indices, np.ones((2, 3, 3, 1)), weight)
    got = float(losses.RebalancedColorLoss(1)(packed, logits))
    one_hot = np.eye(313)[indices[..., 0]]
    np.testing.assert_allclose(got, _numpy_color_loss(logits, one_hot, weight), rtol=1e-5)


def test_soft_color_loss_equals_numpy_with_weights():
    rng = np.random.default_rng(1)
    ab = rng.uniform(-80, 80, (2, 4, 4, 2)).astype(np.float32)
    indices, probs = bins.soft_encode(ab, num_neighbors=5)
    weight = rng.uniform(0.5, 3, (2, 4, 4)).astype(np.float32)
    logits = rng.normal(size=(2, 4, 4, 313)).astype(np.float32)
    packed = losses.pack_color_target(indices, probs, weight)
    got = float(losses.RebalancedColorLoss(5)(packed, logits))
    dense = np.zeros((2, 4, 4, 313))
    idx, p = indices.numpy(), probs.numpy()
    for pos in np.ndindex(2, 4, 4):
        for j in range(5):
            dense[pos][idx[pos][j]] += p[pos][j]
    np.testing.assert_allclose(got, _numpy_color_loss(logits, dense, weight), rtol=1e-5)


def _numpy_decoded_terms(logits, indices, probs, temperature, ab_weight, chroma_weight):
    """The ab and chroma terms of the colour loss, per pixel, in float64."""
    centers = gamut.bin_centers().astype(np.float64)
    target = (centers[indices] * probs[..., None]).sum(-2) / probs.sum(-1, keepdims=True)
    scaled = logits.astype(np.float64) / temperature
    weights = np.exp(scaled - scaled.max(-1, keepdims=True))
    weights /= weights.sum(-1, keepdims=True)
    decoded = weights @ centers
    error = np.abs(decoded - target)
    huber = np.where(error <= 10, 0.5 * error**2 / 10, error - 5).sum(-1)
    missing = np.maximum(
        np.hypot(*np.moveaxis(target, -1, 0)) - np.hypot(*np.moveaxis(decoded, -1, 0)), 0
    )
    return (ab_weight * huber + chroma_weight * missing) / 110


def test_decoded_colour_terms_equal_numpy():
    rng = np.random.default_rng(4)
    ab = rng.uniform(-80, 80, (2, 4, 4, 2)).astype(np.float32)
    ab[0, 0, 0] = 0  # a grey target pixel: no chroma is missing there
    indices, probs = bins.soft_encode(ab, num_neighbors=5)
    weight = rng.uniform(0.5, 3, (2, 4, 4)).astype(np.float32)
    logits = 3 * rng.normal(size=(2, 4, 4, 313)).astype(np.float32)
    packed = losses.pack_color_target(indices, probs, weight)
    plain = float(losses.RebalancedColorLoss(5)(packed, logits))
    idx, p = indices.numpy(), probs.numpy()
    for ab_weight, chroma_weight in ((10.0, 0.0), (0.0, 0.5), (10.0, 0.5)):
        loss = losses.RebalancedColorLoss(5, ab_weight, chroma_weight, temperature=0.5)
        extra = _numpy_decoded_terms(logits, idx, p, 0.5, ab_weight, chroma_weight)
        np.testing.assert_allclose(float(loss(packed, logits)) - plain, extra.mean(), rtol=1e-4)
    # Its gradient is finite and moves the decoded colour towards the target.
    logits = tf.Variable(logits)
    loss = losses.RebalancedColorLoss(5, ab_weight=10.0, temperature=0.5)
    with tf.GradientTape() as tape:
        value = loss(packed, logits)
    step = tape.gradient(value, logits)
    assert np.all(np.isfinite(step.numpy()))
    before = bins.annealed_mean_from_logits(logits, 0.5)
    after = bins.annealed_mean_from_logits(logits - 50.0 * step, 0.5)
    mean_ab = (gamut.bin_centers()[idx] * p[..., None]).sum(-2) / p.sum(-1, keepdims=True)
    assert np.abs(after - mean_ab).mean() < np.abs(before - mean_ab).mean()
    # Saved and loaded with its settings.
    again = losses.RebalancedColorLoss.from_config(loss.get_config())
    assert (again.ab_weight, again.chroma_weight, again.temperature) == (10.0, 0.0, 0.5)
    with pytest.raises(ValueError, match="ab_weight and chroma_weight must be >= 0"):
        losses.RebalancedColorLoss(5, ab_weight=-1.0)


def test_a_crop_left_out_of_the_colour_loss_counts_in_no_term():
    """--min_mean_chroma packs weight 0 for a crop it leaves out: the decoded-colour terms
    drop it as the cross-entropy does (the mean still runs over every pixel)."""
    rng = np.random.default_rng(5)
    ab = rng.uniform(-80, 80, (2, 4, 4, 2)).astype(np.float32)
    indices, probs = bins.soft_encode(ab, num_neighbors=5)
    weight = rng.uniform(0.5, 3, (2, 4, 4)).astype(np.float32)
    weight[1] = 0.0  # the second crop is left out
    logits = 3 * rng.normal(size=(2, 4, 4, 313)).astype(np.float32)
    packed = losses.pack_color_target(indices, probs, weight)
    loss = losses.RebalancedColorLoss(5, 10.0, 0.5, temperature=0.5)
    got = float(loss(packed, logits))
    first = losses.pack_color_target(indices[:1], probs[:1], weight[:1])
    np.testing.assert_allclose(got, float(loss(first, logits[:1])) / 2, rtol=1e-5)


def test_color_loss_rejects_wrong_packing():
    with pytest.raises(ValueError, match="2k \\+ 1 = 11"):
        losses.RebalancedColorLoss(5)(np.zeros((1, 2, 2, 3), np.float32), np.zeros((1, 2, 2, 313)))


def test_softmax_class_loss_ignores_unlabelled_images():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(4, 6)).astype(np.float32)
    labels = np.array([2, -1, 0, 5])
    got = float(losses.MaskedClassLoss()(labels, logits))
    log_p = _log_softmax(logits)
    expected = sum(-log_p[i, labels[i]] for i in (0, 2, 3)) / 4
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_sigmoid_class_loss_equals_numpy():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(3, 4)).astype(np.float32)
    targets = np.array([[1, 0, 1, 0], [0, 0, 0, 0], [0, 1, 0, 0]], np.float32)
    got = float(losses.MaskedClassLoss(multi_label=True)(targets, logits))
    sig = 1 / (1 + np.exp(-logits.astype(np.float64)))
    bce = -(targets * np.log(sig) + (1 - targets) * np.log(1 - sig)).mean(-1)
    expected = (bce * np.array([1, 0, 1])).sum() / 3
    np.testing.assert_allclose(got, expected, rtol=1e-5)


def test_masked_accuracy():
    metric = losses.MaskedClassAccuracy()
    logits = np.eye(4, dtype=np.float32)[[0, 1, 2, 3]]
    metric.update_state(np.array([0, 2, -1, 3]), logits)
    assert float(metric.result()) == pytest.approx(2 / 3)


def _tiny_batch(seed=0, size=32, batch=4, k=5):
    rng = np.random.default_rng(seed)
    x = rng.uniform(0, 100, (batch, size, size, 1)).astype(np.float32)
    ab = rng.uniform(-60, 60, (batch, size // 4, size // 4, 2)).astype(np.float32)
    indices, probs = bins.soft_encode(ab, num_neighbors=k)
    weight = np.ones((batch, size // 4, size // 4), np.float32)
    y = {
        "color_logits": losses.pack_color_target(indices, probs, weight).numpy(),
        "class_logits": rng.integers(0, 5, batch),
    }
    return x, y


def test_gradients_reach_the_trunk_from_both_losses():
    config = ModelConfig(image_size=32, width_multiplier=0.125, fc_units=(16, 16, 8), num_classes=5)
    model = build_model(config)
    x, y = _tiny_batch()
    trunk = model.get_layer("conv1_1").kernel
    for name, loss in (
        ("color_logits", losses.RebalancedColorLoss(5)),
        ("class_logits", losses.MaskedClassLoss()),
    ):
        with tf.GradientTape() as tape:
            value = loss(y[name], model(x, training=True)[name])
        grad = tape.gradient(value, trunk.value)
        assert grad is not None and float(tf.reduce_max(tf.abs(grad))) > 0, name


@pytest.mark.slow
def test_fifty_adam_steps_lower_both_losses():
    keras.utils.set_random_seed(0)
    config = ModelConfig(image_size=32, width_multiplier=0.125, fc_units=(16, 16, 8), num_classes=5)
    model = build_model(config)
    loss, loss_weights, metrics = losses.build_losses(config, num_neighbors=5, class_loss_weight=1)
    model.compile(keras.optimizers.Adam(3e-3), loss=loss, loss_weights=loss_weights)
    x, y = _tiny_batch()
    history = model.fit(x, y, batch_size=4, epochs=50, verbose=0).history
    color, klass = history["color_logits_loss"], history["class_logits_loss"]
    assert color[-1] < 0.8 * color[0], color
    assert klass[-1] < 0.5 * klass[0], klass
