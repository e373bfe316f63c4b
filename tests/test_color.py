"""colorization.core.color against skimage.color, eagerly, in tf.data, in tf.function."""

import numpy as np
import pytest
import tensorflow as tf
from skimage import color as skcolor

from colorization.core import color

EDGE_COLORS = np.array(
    [
        [0, 0, 0],
        [1, 1, 1],
        [1, 0, 0],
        [0, 1, 0],
        [0, 0, 1],
        [1, 1, 0],
        [0, 1, 1],
        [1, 0, 1],
        [0.5, 0.5, 0.5],
        [0.2, 0.2, 0.2],
        [0.04045, 0.04045, 0.04045],  # the sRGB companding knee
        [0.01, 0.01, 0.01],  # below the Lab linear threshold
    ],
    np.float64,
)


def _random_colors(n=100_000, seed=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.random((n, 3)), EDGE_COLORS])


def test_rgb_to_lab_matches_skimage():
    rgb = _random_colors()
    expected = skcolor.rgb2lab(rgb[None])[0]
    got = color.rgb_to_lab(rgb.astype(np.float32)).numpy()
    assert np.max(np.abs(got - expected), axis=0).max() <= 0.05


def test_lab_to_rgb_matches_skimage():
    lab = skcolor.rgb2lab(_random_colors()[None])[0]
    expected = skcolor.lab2rgb(lab[None])[0]
    got = color.lab_to_rgb(lab.astype(np.float32)).numpy()
    assert np.max(np.abs(got - expected)) <= 1e-3


def test_round_trip_within_one_level():
    rgb = _random_colors().astype(np.float32)
    back = color.lab_to_rgb(color.rgb_to_lab(rgb)).numpy()
    assert np.max(np.abs(back - rgb)) <= 1.0 / 255.0


def test_uint8_round_trip_is_exact_for_every_grey_and_primary():
    levels = np.arange(256, dtype=np.uint8)
    greys = np.stack([levels] * 3, axis=-1)
    primaries = (EDGE_COLORS[:8] * 255).astype(np.uint8)
    rgb = np.concatenate([greys, primaries])
    lab = color.rgb_to_lab(rgb.astype(np.float32) / 255.0)
    np.testing.assert_array_equal(color.to_uint8(color.lab_to_rgb(lab)).numpy(), rgb)


def test_edge_cases_have_expected_lab():
    lab = color.rgb_to_lab(EDGE_COLORS[:2].astype(np.float32)).numpy()
    np.testing.assert_allclose(lab[0], [0, 0, 0], atol=1e-4)
    # D65 white in skimage's constants is neutral to within 0.01 in a and b.
    np.testing.assert_allclose(lab[1], [100, 0, 0], atol=1e-2)


def test_out_of_gamut_lab_is_clipped_and_finite():
    lab = np.array(
        [[50, 200, -200], [100, 128, 128], [0, -128, 128], [150, 0, 0], [-10, 50, 50]],
        np.float32,
    )
    rgb = color.lab_to_rgb(lab).numpy()
    assert np.all(np.isfinite(rgb))
    assert rgb.min() >= 0.0 and rgb.max() <= 1.0
    # These inputs are out of gamut on purpose: scikit-image warns that it clips negative Z.
    with pytest.warns(UserWarning, match="negative Z values"):
        expected = np.clip(skcolor.lab2rgb(lab[None].astype(np.float64))[0], 0, 1)
    np.testing.assert_allclose(rgb, expected, atol=2e-3)


@pytest.mark.parametrize("shape", [(3,), (7, 3), (2, 5, 4, 3), (1, 2, 3, 4, 3)])
def test_any_leading_shape(shape):
    rgb = np.random.default_rng(1).random(shape).astype(np.float32)
    lab = color.rgb_to_lab(rgb)
    assert lab.shape == shape and lab.dtype == tf.float32
    expected = skcolor.rgb2lab(rgb.reshape(1, -1, 3).astype(np.float64)).reshape(shape)
    np.testing.assert_allclose(lab.numpy(), expected, atol=0.05)


def test_wrong_channel_count_is_a_clear_error():
    with pytest.raises(ValueError, match="3 channels"):
        color.rgb_to_lab(np.zeros((4, 4, 2), np.float32))


def test_same_result_eager_in_tf_function_and_in_dataset_map():
    rgb = np.random.default_rng(2).random((4, 8, 8, 3)).astype(np.float32)
    eager = color.rgb_to_lab(rgb).numpy()
    traced = tf.function(color.rgb_to_lab)(rgb).numpy()
    mapped = np.stack(
        list(tf.data.Dataset.from_tensor_slices(rgb).map(color.rgb_to_lab).as_numpy_iterator())
    )
    np.testing.assert_allclose(traced, eager, atol=1e-4)
    np.testing.assert_allclose(mapped, eager, atol=1e-4)
    back_eager = color.lab_to_rgb(eager).numpy()
    back_mapped = np.stack(
        list(tf.data.Dataset.from_tensor_slices(eager).map(color.lab_to_rgb).as_numpy_iterator())
    )
    np.testing.assert_allclose(back_mapped, back_eager, atol=1e-5)


def test_converts_to_builtin_only_tflite_graph(tmp_path):
    """Both directions convert to TFLite with builtin ops only and agree with eager TF."""
    from ai_edge_litert.interpreter import Interpreter

    module = tf.Module()

    @tf.function(input_signature=[tf.TensorSpec([1, 8, 8, 3], tf.float32)])
    def round_trip(rgb):
        lab = color.rgb_to_lab(rgb)
        return {"lab": lab, "rgb": color.lab_to_rgb(lab)}

    module.round_trip = round_trip
    tf.saved_model.save(module, str(tmp_path), signatures={"serving_default": round_trip})
    converter = tf.lite.TFLiteConverter.from_saved_model(str(tmp_path))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS]
    interpreter = Interpreter(model_content=converter.convert())
    runner = interpreter.get_signature_runner()
    rgb = np.random.default_rng(3).random((1, 8, 8, 3)).astype(np.float32)
    out = runner(rgb=rgb)
    np.testing.assert_allclose(out["lab"], color.rgb_to_lab(rgb).numpy(), atol=1e-3)
    np.testing.assert_allclose(out["rgb"], rgb, atol=1.0 / 255.0)
