"""colorization.model.deeplab: the Keras DeepLabV3-MobileNetV2 against the TFLite
interpreter running the file its weights were read from, and the semantic prior in the
colorizer (built, trained frozen, exported).

The tests make their own DeepLabV3 file (random weights, through the TFLite converter),
never the released one; benchmarks/deeplab_port.py checks the released file on photos."""

import numpy as np
import pytest

from tests import helpers

pytestmark = pytest.mark.slow

SIZE = 65


@pytest.fixture(scope="session")
def standin_file(tmp_path_factory):
    """A float DeepLabV3 TFLite file with random weights, and the Keras model it came from."""
    return helpers.shared_deeplab_tflite(tmp_path_factory)


def _interpreter_logits(path, images):
    from ai_edge_litert.interpreter import Interpreter

    interpreter = Interpreter(model_path=str(path))
    interpreter.allocate_tensors()
    index = interpreter.get_input_details()[0]["index"]
    logits = next(d for d in interpreter.get_output_details() if d["shape"][-1] == 21)
    out = []
    for image in images:
        interpreter.set_tensor(index, image[None])
        interpreter.invoke()
        out.append(interpreter.get_tensor(logits["index"])[0])
    return np.stack(out)


def test_weights_read_from_the_file_reproduce_the_interpreter(standin_file):
    from colorization.model import deeplab

    path, source = standin_file
    weights = deeplab.read_deeplab_v3_tflite(str(path))
    assert list(weights) == deeplab.conv_layer_names() and len(weights) == 55
    model = deeplab.build_deeplab_v3(SIZE)
    assert len(deeplab.apply_deeplab_v3(model, weights)) == 55
    for name, (kernel, bias) in weights.items():
        layer = source.get_layer(deeplab.PREFIX + name)
        np.testing.assert_array_equal(kernel, layer.kernel.numpy(), err_msg=name)
        np.testing.assert_array_equal(bias, layer.bias.numpy(), err_msg=name)
    images = np.stack([helpers.photo(40 + i, SIZE, SIZE) for i in range(3)])
    images = images.astype(np.float32) / 127.5 - 1.0
    ours = model(images)["logits"].numpy()
    theirs = _interpreter_logits(path, images)
    scale = np.abs(theirs).max()
    assert np.abs(ours - theirs).max() <= 1e-4 * scale + 1e-5
    assert (ours.argmax(-1) == theirs.argmax(-1)).mean() > 0.99


def test_bad_files_are_refused(tmp_path, standin_file):
    from colorization.model import deeplab

    with pytest.raises(deeplab.DeepLabError, match="does not exist"):
        deeplab.read_deeplab_v3_tflite(str(tmp_path / "missing.tflite"))
    junk = tmp_path / "junk.tflite"
    junk.write_bytes(b"not a flatbuffer at all")
    with pytest.raises(deeplab.DeepLabError, match="TFL3"):
        deeplab.read_deeplab_v3_tflite(str(junk))
    model = deeplab.build_deeplab_v3(SIZE)
    weights = deeplab.read_deeplab_v3_tflite(str(standin_file[0]))
    kernel, bias = weights["aspp0"]
    with pytest.raises(deeplab.DeepLabError, match="aspp0"):
        deeplab.apply_deeplab_v3(model, {**weights, "aspp0": (kernel[..., :8], bias[:8])})


def test_the_semantic_prior_trains_frozen_from_the_file_and_exports(standin_file, tmp_path):
    """train_main with --semantic_prior --semantic_from=FILE: the run starts the prior from
    the file and leaves it there (frozen) while the colour path trains; the model exports to
    TFLite and colours as in Keras."""
    import keras

    from colorization.model import deeplab

    path, source = standin_file
    model_dir = tmp_path / "run"
    result = helpers.run_module(
        "train_main",
        "--config=smoke",
        "--dataset=skimage",
        f"--model_dir={model_dir}",
        "--backbone=mobilenet_v2",
        "--freeze_backbone",
        "--width_multiplier=0.25",
        "--image_size=64",
        "--batch_size=2",
        "--steps=2",
        "--checkpoint_every=2",
        "--eval_every=2",
        "--eval_examples=2",
        "--learning_rate=1e-2",
        "--semantic_prior",
        f"--semantic_from={path}",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "DeepLabV3 semantic prior from" in result.stdout
    trained = keras.saving.load_model(model_dir / "model.keras", compile=False)
    for name in ("Conv", "expanded_conv_16_project", "aspp0", "logits_semantic"):
        np.testing.assert_array_equal(
            trained.get_layer(deeplab.PREFIX + name).kernel.numpy(),
            source.get_layer(deeplab.PREFIX + name).kernel.numpy(),
        )
    from colorization.inference import Colorizer

    out = tmp_path / "exported"
    result = helpers.run_module(
        "export",
        f"--model={model_dir}",
        f"--output_dir={out}",
        "--formats=tflite",
        "--tflite_variants=float32",
    )
    assert result.returncode == 0, result.stderr[-3000:]
    image = helpers.photo(5, 48, 80)
    reference = Colorizer(str(model_dir)).colorize(image).astype(int)
    lite = Colorizer(str(out / "tflite" / "colorizer_float32.tflite")).colorize(image)
    assert np.abs(lite.astype(int) - reference).max() <= 2


def test_semantic_settings_are_checked_before_any_work(tmp_path):
    from colorization.core.config import ModelConfig, TrainConfig

    with pytest.raises(ValueError, match="backbone=mobilenet_v2"):
        ModelConfig(semantic_prior=True)
    mobile = ModelConfig(backbone="mobilenet_v2", semantic_prior=True)
    with pytest.raises(ValueError, match="semantic_from"):
        TrainConfig(model=mobile, model_dir=str(tmp_path))
    with pytest.raises(ValueError, match="needs semantic_prior=True"):
        TrainConfig(model_dir=str(tmp_path), semantic_from="deeplab.tflite")
    config = TrainConfig(model=mobile, model_dir=str(tmp_path), semantic_from="x/none.tflite")
    with pytest.raises(ValueError, match="semantic_from 'x/none.tflite' does not exist"):
        config.check_files()
    with pytest.raises(ValueError, match="semantic_input='scores' .* needs semantic_prior=True"):
        ModelConfig(backbone="mobilenet_v2", semantic_input="scores")
    with pytest.raises(ValueError, match="semantic_input"):
        ModelConfig(backbone="mobilenet_v2", semantic_prior=True, semantic_input="classes")


def test_the_prior_passes_on_its_features_its_class_scores_or_both(standin_file):
    """semantic_input: the projection reads DeepLab's features (256 channels at full width)
    and its 21 class scores, or either alone; the network takes the same inputs and gives
    the same outputs, and its DeepLab layers are set from the file (without the class-score
    convolution where the features alone are read)."""
    import dataclasses

    from colorization.core.config import ModelConfig
    from colorization.model import deeplab, network

    config = ModelConfig(
        backbone="mobilenet_v2",
        freeze_backbone=True,
        image_size=64,
        width_multiplier=0.25,
        fc_units=(16, 16, 8),
        semantic_prior=True,
    )
    channels = {}
    for read in ("both", "features", "scores"):
        model = network.build_model(dataclasses.replace(config, semantic_input=read))
        channels[read] = model.get_layer("semantic_proj").kernel.shape[2]
        loaded = deeplab.load_deeplab_v3(model, standin_file[0])
        assert (deeplab.PREFIX + deeplab.CLASS_SCORES_LAYER in loaded) == (read != "features")
        out = model(np.zeros((1, 64, 64, 1), np.float32))
        assert out["color_logits"].shape == (1, 16, 16, 313)
    assert channels == {"both": 277, "features": 256, "scores": 21}
