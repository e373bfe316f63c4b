"""ImageNet MobileNetV2 weights from TFLite files: checked against the TFLite interpreter
running the same file, and against the float Keras model the file was made from.

The tests make their own small quantized MobileNetV2 files with the TFLite converter
(never the real ImageNet files)."""

import dataclasses

import numpy as np
import pytest

from tests import helpers

SIZE = 96
SMALL_ALPHA = 0.35


# Built once per test run (helpers.built_once): xdist workers interleave modules, and a
# module-scoped fixture would be rebuilt each time a worker came back to this module.
@pytest.fixture(scope="session")
def dynamic_range_file(tmp_path_factory):
    return helpers.shared_mobilenet_v2_tflite(
        tmp_path_factory, "mnv2_dynamic", alpha=SMALL_ALPHA, size=SIZE, full_integer=False
    )


@pytest.fixture(scope="session")
def full_integer_file(tmp_path_factory):
    return helpers.shared_mobilenet_v2_tflite(
        tmp_path_factory, "mnv2_int8", alpha=SMALL_ALPHA, size=SIZE, full_integer=True
    )


def _loaded_trunk(path, alpha=SMALL_ALPHA):
    import keras

    from colorization.model import imagenet_weights

    weights = imagenet_weights.read_mobilenet_v2_tflite(str(path))
    trunk = keras.applications.MobileNetV2(
        input_shape=(SIZE, SIZE, 3), alpha=alpha, include_top=False, weights=None, pooling="avg"
    )
    loaded = imagenet_weights.apply_mobilenet_v2(trunk, weights)
    assert len(loaded) == 104  # 52 convolutions and their batch norms
    return trunk, weights


def _photos(count=40):
    return np.stack([helpers.photo(1000 + i, SIZE, SIZE) for i in range(count)])


def _tflite_top1(path, images):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    inp = interpreter.get_input_details()[0]
    out = interpreter.get_output_details()[0]
    top1 = []
    for image in images:
        x = image[None]
        if inp["dtype"] == np.float32:
            x = x.astype(np.float32) / 127.5 - 1.0
        interpreter.set_tensor(inp["index"], x)
        interpreter.invoke()
        top1.append(int(np.argmax(interpreter.get_tensor(out["index"])[0])))
    return np.array(top1)


@pytest.mark.slow
def test_loaded_trunk_and_classifier_agree_with_the_tflite_file(dynamic_range_file):
    path, _ = dynamic_range_file
    trunk, weights = _loaded_trunk(path)
    images = _photos()
    kernel, bias = weights["classifier"]
    keras_top1 = (trunk(images.astype(np.float32) / 127.5 - 1.0).numpy() @ kernel + bias).argmax(-1)
    agreement = float((keras_top1 == _tflite_top1(path, images)).mean())
    assert agreement >= 0.95, agreement


@pytest.mark.slow
def test_loaded_trunk_reproduces_the_float_model_the_file_came_from(dynamic_range_file):
    import keras

    path, source = dynamic_range_file
    trunk, _ = _loaded_trunk(path)
    x = _photos(8).astype(np.float32) / 127.5 - 1.0
    reference = keras.Model(source.input, source.layers[-2].output)  # pooled features
    expected = reference(x).numpy()
    got = trunk(x).numpy()
    # int8 weights through 17 blocks: features agree closely, not bit for bit (measured:
    # correlation 0.994, mean absolute difference 5 % of the mean feature).
    assert np.corrcoef(expected.ravel(), got.ravel())[0, 1] > 0.98
    assert np.abs(got - expected).mean() < 0.1 * np.abs(expected).mean()


@pytest.mark.slow
def test_full_integer_file_dequantizes_per_channel(full_integer_file):
    import keras

    path, source = full_integer_file
    trunk, weights = _loaded_trunk(path)
    assert weights["input"][1] == 128.0  # uint8 input, zero point 128: pixels map to [-1, 1)
    x = _photos(4).astype(np.float32) / 127.5 - 1.0
    # The first convolution with its batch norm folded: the float model's Conv1_relu output.
    expected = keras.Model(source.input, source.get_layer("Conv1_relu").output)(x).numpy()
    got = keras.Model(trunk.input, trunk.get_layer("Conv1_relu").output)(x).numpy()
    assert np.abs(got - expected).max() < 0.02 * np.abs(expected).max()


@pytest.mark.slow
def test_colorizer_trunk_takes_width_one_files_only(mobilenet_tflite, full_integer_file):
    import keras

    from colorization.core.config import ModelConfig
    from colorization.model import backbones, imagenet_weights
    from colorization.model.network import build_model

    model = build_model(ModelConfig(image_size=64, backbone="mobilenet_v2", width_multiplier=0.25))
    assert len(backbones.mobilenet_conv_layers(model)) == 52
    # The colorizer's trunk is width 1.0: a width-0.35 file is refused with the layer named.
    small = imagenet_weights.read_mobilenet_v2_tflite(str(full_integer_file[0]))
    with pytest.raises(imagenet_weights.PretrainedError, match="Conv1.*width-1.0"):
        imagenet_weights.apply_mobilenet_v2(model, small)
    # A width-1.0 file loads, and the colorizer's first convolution then computes what the
    # file's float source computes on the grey photo.
    path, source = mobilenet_tflite
    imagenet_weights.apply_mobilenet_v2(model, imagenet_weights.read_mobilenet_v2_tflite(str(path)))
    grey = helpers.photo(7, 64, 64).mean(-1, keepdims=True).astype(np.uint8)
    lightness = color_lightness(grey)
    ours = keras.Model(model.input, model.get_layer("Conv1_relu").output)(lightness).numpy()
    rgb = np.repeat(grey, 3, -1)[None].astype(np.float32) / 127.5 - 1.0
    theirs = keras.Model(source.input, source.get_layer("Conv1_relu").output)(rgb).numpy()
    assert np.abs(ours - theirs).max() < 0.02 * np.abs(theirs).max()


@pytest.mark.slow
def test_a_trunk_without_the_class_branch_takes_the_first_convolutions(mobilenet_tflite):
    from colorization.core.config import ModelConfig
    from colorization.model import backbones, imagenet_weights
    from colorization.model.network import build_model

    config = ModelConfig(
        image_size=64,
        backbone="mobilenet_v2",
        width_multiplier=0.25,
        use_class_branch=False,
        use_fusion=False,
    )
    model = build_model(config)
    layers = backbones.mobilenet_conv_layers(model)
    # The colour path reads the trunk up to its stride-16 features only.
    assert 0 < len(layers) < 52
    path, _ = mobilenet_tflite
    weights = imagenet_weights.read_mobilenet_v2_tflite(str(path))
    imagenet_weights.apply_mobilenet_v2(model, weights)
    full = build_model(dataclasses.replace(config, use_class_branch=True, use_fusion=True))
    imagenet_weights.apply_mobilenet_v2(full, weights)
    for layer in layers:
        np.testing.assert_array_equal(
            layer.kernel.numpy(), full.get_layer(layer.name).kernel.numpy()
        )


def color_lightness(grey_u8):
    """L (1, H, W, 1) of a grey uint8 photo (H, W, 1)."""
    from colorization.core import color

    rgb = np.repeat(grey_u8, 3, -1)[None].astype(np.float32) / 255.0
    return color.rgb_to_lightness(rgb).numpy()


def test_bad_files_fail_with_a_clear_error(tmp_path):
    from colorization.model import imagenet_weights

    with pytest.raises(imagenet_weights.PretrainedError, match="does not exist"):
        imagenet_weights.read_mobilenet_v2_tflite(str(tmp_path / "missing.tflite"))
    not_tflite = tmp_path / "photo.tflite"
    not_tflite.write_bytes(b"\xff\xd8\xff\xe0 not a flatbuffer at all")
    with pytest.raises(imagenet_weights.PretrainedError, match="not a TFLite flatbuffer"):
        imagenet_weights.read_mobilenet_v2_tflite(str(not_tflite))


def test_lightness_to_grey_rgb_matches_skimage():
    from skimage import color as skcolor

    from colorization.model.backbones import LightnessToGreyRGB

    lightness = np.linspace(0, 100, 41, dtype=np.float32)
    lab = np.stack([lightness, np.zeros_like(lightness), np.zeros_like(lightness)], -1)
    expected = skcolor.lab2rgb(lab[None])[0]  # (41, 3), the grey sRGB colour of each L
    got = np.asarray(LightnessToGreyRGB()(lightness[None, :, None, None]))[0, :, 0]
    np.testing.assert_allclose(got, expected * 2.0 - 1.0, atol=2e-3)


def test_vgg16_weights_fold_into_the_grey_paper_trunk():
    """keras.applications' VGG16 (random weights here; ImageNet's with a network) onto the
    paper's trunk: conv1_1 on L equals VGG16's block1_conv1 on the grey photo g = L / 100,
    BGR, mean-subtracted, away from the zero-padded border; later kernels are copied."""
    import keras

    from colorization.core.config import ModelConfig
    from colorization.model import imagenet_weights
    from colorization.model.network import build_model

    keras.utils.set_random_seed(0)
    vgg = keras.applications.VGG16(include_top=False, weights=None, input_shape=(32, 32, 3))
    model = build_model(ModelConfig(image_size=32, fc_units=(16, 16, 8)))
    loaded = imagenet_weights.apply_vgg16(model, vgg)
    assert loaded[0] == "conv1_1" and loaded[-1] == "conv5_3" and len(loaded) == 13
    lightness = np.random.default_rng(0).uniform(0, 100, (1, 32, 32, 1)).astype(np.float32)
    ours = keras.Model(model.input, model.get_layer("conv1_1").output)(lightness).numpy()
    means = np.asarray(imagenet_weights.VGG16_MEANS_BGR, np.float32)
    bgr = 255.0 * np.repeat(lightness / 100.0, 3, -1) - means
    theirs = keras.Model(vgg.input, vgg.get_layer("block1_conv1").output)(bgr).numpy()
    np.testing.assert_allclose(ours[:, 1:-1, 1:-1], theirs[:, 1:-1, 1:-1], rtol=1e-4, atol=1e-3)
    np.testing.assert_array_equal(
        model.get_layer("conv4_2").kernel.numpy(), vgg.get_layer("block4_conv2").kernel.numpy()
    )
    narrow = build_model(ModelConfig(image_size=32, width_multiplier=0.5, fc_units=(16, 16, 8)))
    with pytest.raises(imagenet_weights.PretrainedError, match="width_multiplier 1.0"):
        imagenet_weights.apply_vgg16(narrow, vgg)


def test_imagenet_download_failure_names_the_offline_way(monkeypatch):
    import keras

    from colorization.model import imagenet_weights

    def no_network(**kwargs):
        raise OSError("URL fetch failure: [Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(keras.applications, "VGG16", no_network)
    with pytest.raises(imagenet_weights.PretrainedError, match="mobilenet_v2:PATH.tflite"):
        imagenet_weights.fetch_keras_imagenet("vgg16")
