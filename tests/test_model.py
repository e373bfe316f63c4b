"""colorization.model: shapes, parameter count, ablations, save/load, JAX backend."""

import os
import subprocess
import sys
import textwrap

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorization.core.config import ModelConfig
from colorization.model.network import build_model, count_flops
from tests.helpers import ROOT

TINY = dict(image_size=32, width_multiplier=0.125, fc_units=(16, 16, 8), num_classes=5)

# Documented in the README; printed by `python -m benchmarks.model_size`.
FULL_MODEL_PARAMS = 36_182_541
ZHANG_BASELINE_PARAMS = 32_240_377


@pytest.mark.parametrize("size, width", [(32, 0.125), (64, 0.25), (48, 0.25), (96, 0.125)])
def test_output_shapes(size, width):
    model = build_model(ModelConfig(image_size=size, width_multiplier=width, fc_units=(16, 16, 8)))
    outputs = model(np.zeros((2, size, size, 1), np.float32))
    assert outputs["color_logits"].shape == (2, size // 4, size // 4, 313)
    assert outputs["class_logits"].shape == (2, 20)


def test_full_model_parameter_count_and_flops():
    full = build_model(ModelConfig())
    assert full.count_params() == FULL_MODEL_PARAMS
    zhang = build_model(ModelConfig(use_class_branch=False, use_fusion=False))
    assert zhang.count_params() == ZHANG_BASELINE_PARAMS
    # FLOPs scale with pixels: 256^2 / 224^2 of the trunk.
    assert 85e9 < count_flops(build_model(ModelConfig(image_size=256))) < 86e9


def test_ablation_switches_change_the_graph():
    names = lambda m: {layer.name for layer in m.layers}  # noqa: E731
    full = build_model(ModelConfig(**TINY))
    no_fusion = build_model(ModelConfig(**TINY, use_fusion=False))
    no_branch = build_model(ModelConfig(**TINY, use_class_branch=False, use_fusion=False))
    assert {"fc1", "fc2", "fc3", "class_logits", "fusion_tile", "fusion_conv"} <= names(full)
    assert "fc3" in names(no_fusion) and "fusion_conv" not in names(no_fusion)
    assert not {"fc1", "class_logits", "fusion_conv"} & names(no_branch)
    assert set(no_branch.output.keys()) == {"color_logits"}
    # With fusion the colour path depends on fc3: changing fc3's weights changes the colours.
    x = np.random.default_rng(0).uniform(0, 100, (1, 32, 32, 1)).astype(np.float32)
    for model, should_change in ((full, True), (no_fusion, False)):
        before = model(x)["color_logits"].numpy()
        fc3 = model.get_layer("fc3")
        fc3.set_weights([w + 1.0 for w in fc3.get_weights()])
        after = model(x)["color_logits"].numpy()
        assert (np.abs(after - before).max() > 1e-6) == should_change
    with pytest.raises(ValueError, match="use_fusion"):
        ModelConfig(use_class_branch=False, use_fusion=True)


@pytest.mark.parametrize("backbone", ["vgg16", "mobilenet_v2"])
def test_film_and_probability_fusion(backbone):
    names = lambda m: {layer.name for layer in m.layers}  # noqa: E731
    tiny = dict(TINY, backbone=backbone, image_size=64)
    x = np.random.default_rng(1).uniform(0, 100, (2, 64, 64, 1)).astype(np.float32)
    film = build_model(ModelConfig(**tiny, fusion_mode="film"))
    expected = {"fusion_film", "conv7_film"} if backbone == "mobilenet_v2" else {"fusion_film"}
    assert {n for n in names(film) if n.endswith("_film")} == expected
    assert "fusion_tile" not in names(film)
    # The modulation starts as the identity: fc3 does not reach the colours...
    before = film(x)["color_logits"].numpy()
    fc3 = film.get_layer("fc3")
    fc3.set_weights([w + 1.0 for w in fc3.get_weights()])
    np.testing.assert_array_equal(film(x)["color_logits"].numpy(), before)
    # ...until the scale and shift layers learn: then it does, as features * (1 + g) + b.
    rng = np.random.default_rng(2)
    for name in expected:
        layer = film.get_layer(name)
        layer.set_weights([0.01 * rng.normal(size=w.shape) for w in layer.get_weights()])
    assert np.abs(film(x)["color_logits"].numpy() - before).max() > 1e-4
    apply = film.get_layer("fusion_film_apply")
    features = rng.normal(size=(2, 3, 3, 4)).astype(np.float32)
    scale_shift = rng.normal(size=(2, 1, 1, 8)).astype(np.float32)
    np.testing.assert_allclose(
        apply([features, scale_shift]).numpy(),
        features * (1 + scale_shift[..., :4]) + scale_shift[..., 4:],
        rtol=1e-6,
    )
    # Probability fusion tiles the num_classes probabilities, which sum to one.
    probs = build_model(ModelConfig(**tiny, fusion_input="probs"))
    tiled = probs.get_layer("fusion_tile").output
    assert tiled.shape[-1] == TINY["num_classes"]
    probe = keras.Model(probs.input, tiled)
    np.testing.assert_allclose(probe(x).numpy().sum(-1), 1.0, rtol=1e-5)
    with pytest.raises(ValueError, match="fusion_mode must be one of"):
        ModelConfig(fusion_mode="add")
    with pytest.raises(ValueError, match="fusion_input must be one of"):
        ModelConfig(fusion_input="fc2")


def test_invalid_config_is_a_clear_error():
    with pytest.raises(ValueError, match="image_size=30"):
        ModelConfig(image_size=30)
    with pytest.raises(ValueError, match="dtype_policy='float64'"):
        ModelConfig(dtype_policy="float64")
    assert ModelConfig.from_dict(ModelConfig(**TINY).to_dict()) == ModelConfig(**TINY)


def test_mixed_precision_keeps_logits_in_float32():
    model = build_model(ModelConfig(**TINY, dtype_policy="mixed_bfloat16"))
    outputs = model(np.zeros((1, 32, 32, 1), np.float32))
    assert outputs["color_logits"].dtype == tf.float32
    assert outputs["class_logits"].dtype == tf.float32
    assert model.get_layer("conv3_1").compute_dtype == "bfloat16"


def test_config_round_trip_and_keras_file_reload(tmp_path):
    model = build_model(ModelConfig(**TINY))
    x = np.random.default_rng(1).uniform(0, 100, (2, 32, 32, 1)).astype(np.float32)
    clone = keras.Model.from_config(model.get_config())
    assert clone.count_params() == model.count_params()
    path = tmp_path / "model.keras"
    model.save(path)
    reloaded = keras.saving.load_model(path)
    for key in ("color_logits", "class_logits"):
        np.testing.assert_allclose(reloaded(x)[key], model(x)[key], atol=1e-6)


@pytest.mark.slow
def test_trains_under_the_jax_backend():
    """Builds and trains one step with KERAS_BACKEND=jax: any tf. call would fail there."""
    script = textwrap.dedent(
        """
        import sys
        import numpy as np
        import keras
        from colorization.core.config import ModelConfig
        from colorization.model.network import build_model
        from colorization.model import losses
        assert keras.backend.backend() == "jax", keras.backend.backend()
        config = ModelConfig(image_size=32, width_multiplier=0.125, fc_units=(16, 16, 8),
                             num_classes=5)
        model = build_model(config)
        loss, loss_weights, metrics = losses.build_losses(config, num_neighbors=5,
                                                          class_loss_weight=0.1)
        model.compile(optimizer=keras.optimizers.Adam(1e-3), loss=loss,
                      loss_weights=loss_weights, metrics=metrics)
        rng = np.random.default_rng(0)
        idx = rng.integers(0, 313, (4, 8, 8, 5)).astype(np.float32)
        probs = np.full((4, 8, 8, 5), 0.2, np.float32)
        weight = np.ones((4, 8, 8, 1), np.float32)
        y = {"color_logits": np.concatenate([idx, probs, weight], -1),
             "class_logits": np.array([0, 1, -1, 4])}
        x = rng.uniform(0, 100, (4, 32, 32, 1)).astype(np.float32)
        history = model.fit(x, y, batch_size=4, epochs=1, verbose=0)
        assert np.isfinite(history.history["loss"][0])
        assert "tensorflow" not in sys.modules, "tensorflow was imported under JAX"
        print("jax ok", history.history["loss"][0])
        """
    )
    env = dict(os.environ, KERAS_BACKEND="jax", JAX_PLATFORMS="cpu")
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "jax ok" in result.stdout


@pytest.mark.parametrize("backbone", ["vgg16", "mobilenet_v2"])
def test_fusion_dropout_acts_only_while_training(backbone):
    small = dict(image_size=64, width_multiplier=0.125, fc_units=(16, 16, 8), backbone=backbone)
    if backbone == "mobilenet_v2":
        small["freeze_backbone"] = True
    keras.utils.set_random_seed(3)
    dropped = build_model(ModelConfig(**small, fusion_dropout=0.5))
    plain = build_model(ModelConfig(**small))
    plain.set_weights(dropped.get_weights())  # a layer without weights: the same layout
    lightness = np.random.default_rng(0).uniform(0, 100, (2, 64, 64, 1)).astype(np.float32)
    np.testing.assert_allclose(
        dropped(lightness, training=False)["color_logits"],
        plain(lightness, training=False)["color_logits"],
        atol=1e-5,
    )
    # While training, about half of fc3's active units reach the colour path.
    fc3 = keras.Model(dropped.input, dropped.get_layer("fusion_dropout").output)
    active = fc3(lightness, training=False).numpy() != 0
    kept = fc3(lightness, training=True).numpy() != 0
    assert active.sum() >= 4 and 0.2 < (kept & active).sum() / active.sum() < 0.8
    with pytest.raises(ValueError, match=r"fusion_dropout must be in \[0, 1\). Received: "):
        ModelConfig(**small, fusion_dropout=1.0)
