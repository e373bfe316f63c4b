"""export/: SavedModel signatures and parity, TFLite variants, device script, serving client."""

import base64
import json
import os
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image

from colorization.core import color
from colorization.inference import tflite_runner as tflite_colorize
from colorization.inference.colorizer import Colorizer
from colorization.model import model_files
from export import serving_client
from tests.helpers import ROOT, built_once, photo, run_command, run_module

pytestmark = pytest.mark.slow


# Built once per test run (helpers.built_once): xdist workers interleave modules, and a
# module-scoped fixture would be rebuilt each time a worker came back to this module.
@pytest.fixture(scope="session")
def source_model_dir(tiny_model_dir, tmp_path_factory):
    """The tiny trained model with its colour logits made 8x larger (after 6 steps its colour
    distributions are nearly flat)."""
    import shutil

    import keras

    def make(folder):
        shutil.copytree(tiny_model_dir, folder / "model")
        model = keras.saving.load_model(folder / "model" / "model.keras", compile=False)
        layer = model.get_layer("color_logits")
        layer.set_weights([8.0 * w for w in layer.get_weights()])
        model.save(folder / "model" / "model.keras")

    return built_once(tmp_path_factory, "sharp", make) / "model"


@pytest.fixture(scope="session")
def exported(source_model_dir, tmp_path_factory):
    def make(out):
        result = run_module(
            "export",
            f"--model={source_model_dir}",
            f"--output_dir={out}",
            "--formats=saved_model,tflite",
            "--saved_model_precisions=float32,bfloat16",
            # int8 (full-integer) is no longer a default variant but stays available.
            "--tflite_variants=float32,float16,dynamic_int8,int8",
            "--calibration_images=8",
        )
        assert result.returncode == 0, result.stderr[-3000:]

    return built_once(tmp_path_factory, "exported", make)


def _saved_model_dir(exported):
    return str(exported / "saved_model" / "colorizer" / "1")


def test_tf_serving_layout_and_signatures(exported):
    path = _saved_model_dir(exported)
    assert tf.saved_model.contains_saved_model(path)
    shown = run_command(
        ["-m", "tensorflow.python.tools.saved_model_cli", "show", "--dir", path, "--all"]
    )
    assert shown.returncode == 0, shown.stderr[-2000:]
    for name in ("serving_default", "colorize_with_temperature", "colorize_bytes", "logits"):
        assert f"signature_def['{name}']" in shown.stdout
    for tensor in ("image", "rgb", "class_probs", "image_bytes", "png_bytes", "temperature"):
        assert f"['{tensor}']" in shown.stdout


def test_saved_model_cli_run(exported, tmp_path):
    image = photo(3, 20, 28)[None]
    np.save(tmp_path / "image.npy", image)
    result = run_command(
        [
            "-m",
            "tensorflow.python.tools.saved_model_cli",
            "run",
            "--dir",
            _saved_model_dir(exported),
            "--tag_set",
            "serve",
            "--signature_def",
            "serving_default",
            "--inputs",
            f"image={tmp_path / 'image.npy'}",
            "--outdir",
            str(tmp_path / "out"),
        ]
    )
    assert result.returncode == 0, result.stderr[-2000:]
    rgb = np.load(tmp_path / "out" / "rgb.npy")
    assert rgb.shape == (1, 20, 28, 3) and rgb.dtype == np.uint8


def test_saved_model_parity_with_keras_and_python_path(exported, source_model_dir):
    model, _ = model_files.load_model_dir(str(source_model_dir))
    loaded = tf.saved_model.load(_saved_model_dir(exported))
    lightness = np.random.default_rng(0).uniform(0, 100, (2, 32, 32, 1)).astype(np.float32)
    ours = model(lightness, training=False)
    theirs = loaded.signatures["logits"](L=tf.constant(lightness))
    for key in ("color_logits", "class_logits"):
        np.testing.assert_allclose(theirs[key].numpy(), ours[key].numpy(), atol=1e-4)
    image = np.stack([photo(5, 45, 61), photo(6, 45, 61)])
    served = loaded.signatures["serving_default"](image=tf.constant(image))
    python = Colorizer(str(source_model_dir)).colorize_batch(image)
    assert served["rgb"].shape == (2, 45, 61, 3) and served["class_probs"].shape == (2, 20)
    assert np.abs(served["rgb"].numpy().astype(int) - python["rgb"]).max() <= 1
    # Colour input is made grey first: the 1-channel photo of its L alone gives the same
    # result (up to the uint8 rounding of that grey photo).
    lab = color.rgb_to_lab(tf.cast(image, tf.float32) / 255.0)
    grey = color.to_uint8(
        color.lab_to_rgb(tf.concat([lab[..., :1], tf.zeros_like(lab[..., 1:])], -1))
    )
    from_grey = loaded.signatures["serving_default"](image=grey[..., :1])["rgb"].numpy()
    difference = np.abs(from_grey.astype(int) - served["rgb"].numpy())
    assert from_grey.shape == (2, 45, 61, 3) and difference.mean() < 0.5 and difference.max() <= 3
    # The temperature input reaches the decoder, as in the Python path.
    hotter = loaded.signatures["colorize_with_temperature"](
        image=tf.constant(image), temperature=tf.constant(1.0)
    )["rgb"].numpy()
    python_hot = Colorizer(str(source_model_dir), temperature=1.0).colorize_batch(image)["rgb"]
    assert np.abs(hotter.astype(int) - python_hot).max() <= 1
    assert np.abs(hotter.astype(int) - served["rgb"].numpy()).max() > 0


def test_rest_request_round_trip_against_the_saved_model(exported):
    """The REST body a client builds, fed as TF Serving would feed it, gives a PNG back."""
    loaded = tf.saved_model.load(_saved_model_dir(exported))
    encoded = [tf.io.encode_jpeg(photo(i, 30, 40)).numpy() for i in (7, 8)]
    body = serving_client.rest_request(encoded)
    assert body["signature_name"] == "colorize_bytes"
    assert json.loads(json.dumps(body)) == body  # valid JSON
    # TF Serving decodes {"b64": ...} into the string tensor image_bytes.
    inputs = [base64.b64decode(instance["image_bytes"]["b64"]) for instance in body["instances"]]
    outputs = loaded.signatures["colorize_bytes"](image_bytes=tf.constant(inputs))
    # ...and encodes *_bytes outputs back as {"b64": ...}, one prediction per instance.
    response = {
        "predictions": [
            {"png_bytes": {"b64": base64.b64encode(p).decode()}, "class_probs": c.tolist()}
            for p, c in zip(
                outputs["png_bytes"].numpy(), outputs["class_probs"].numpy(), strict=True
            )
        ]
    }
    results = serving_client.parse_rest_response(json.dumps(response))
    assert len(results) == 2
    png, probs = results[0]
    decoded = tf.io.decode_png(png).numpy()
    assert decoded.shape == (30, 40, 3)
    assert len(probs) == 20 and abs(sum(probs) - 1) < 1e-4
    assert (
        serving_client.rest_url("h", 8501, "colorizer")
        == "http://h:8501/v1/models/colorizer:predict"
    )


def test_grpc_request_round_trip_against_the_saved_model(exported):
    from tensorflow_serving.apis import predict_pb2

    loaded = tf.saved_model.load(_saved_model_dir(exported))
    encoded = [tf.io.encode_png(photo(9, 24, 24)).numpy()]
    request = serving_client.grpc_request(encoded, "colorizer")
    request = predict_pb2.PredictRequest.FromString(request.SerializeToString())  # over the wire
    assert (
        request.model_spec.name == "colorizer"
        and request.model_spec.signature_name == "colorize_bytes"
    )
    inputs = tf.make_ndarray(request.inputs["image_bytes"])
    outputs = loaded.signatures["colorize_bytes"](image_bytes=tf.constant(inputs))
    response = predict_pb2.PredictResponse()
    for key, value in outputs.items():
        response.outputs[key].CopyFrom(tf.make_tensor_proto(value.numpy()))
    response = predict_pb2.PredictResponse.FromString(response.SerializeToString())
    [(png, probs)] = serving_client.parse_grpc_response(response)
    assert tf.io.decode_png(png).numpy().shape == (24, 24, 3) and len(probs) == 20


@pytest.mark.parametrize("variant", ["float32", "float16", "dynamic_int8", "int8"])
def test_tflite_variants_load_and_agree_with_keras(exported, source_model_dir, variant):
    path = exported / "tflite" / f"colorizer_{variant}.tflite"
    assert path.exists() and path.stat().st_size > 0
    image = photo(11, 48, 80)
    keras_rgb = Colorizer(str(source_model_dir)).colorize(image).astype(np.float64)
    lite = tflite_colorize.TFLiteColorizer(str(path))
    rgb, probs = lite.colorize(image)
    assert rgb.shape == (48, 80, 3) and probs.shape == (20,)
    mse = ((rgb.astype(np.float64) - keras_rgb) ** 2).mean()
    psnr = 10 * np.log10(255**2 / max(mse, 1e-10))
    assert psnr > (40 if variant in ("float32", "float16") else 25), psnr


def _export_saved_model_and_tflite_float32(model_dir, out, *flags):
    """`python -m export` of a model directory to a SavedModel and a float32 TFLite file."""
    result = run_module(
        "export",
        f"--model={model_dir}",
        f"--output_dir={out}",
        "--formats=saved_model,tflite",
        "--tflite_variants=float32",
        *flags,
    )
    assert result.returncode == 0, result.stderr[-3000:]


def test_every_format_colours_at_the_model_s_own_temperature(source_model_dir, tmp_path):
    """Keras model directory, SavedModel, TFLite float32 and the TensorFlow-free runner, each
    given no temperature, colour a photo alike: at the model's T (0.15, not the 0.38 a format
    would fall back to), with its class names. The logits are made 5x more peaked still, so
    that the temperature shows in the colours."""
    import shutil

    import keras

    model_dir = tmp_path / "peaked"
    shutil.copytree(source_model_dir, model_dir)
    model = keras.saving.load_model(model_dir / "model.keras", compile=False)
    layer = model.get_layer("color_logits")
    layer.set_weights([5.0 * w for w in layer.get_weights()])
    model.save(model_dir / "model.keras")
    out = tmp_path / "exported"
    _export_saved_model_and_tflite_float32(model_dir, out)
    image = photo(13, 50, 70)
    keras_colorizer = Colorizer(str(model_dir))
    assert keras_colorizer.temperature == 0.15
    reference = keras_colorizer.colorize(image).astype(int)
    at_default = Colorizer(str(model_dir), temperature=0.38).colorize(image).astype(int)
    assert np.abs(at_default - reference).max() > 6  # the temperature shows in the colours
    lite_path = str(out / "tflite" / "colorizer_float32.tflite")
    for path in (str(out / "saved_model" / "colorizer" / "1"), lite_path):
        other = Colorizer(path)
        assert other.temperature == 0.15 and other.class_names == keras_colorizer.class_names
        assert np.abs(other.colorize(image).astype(int) - reference).max() <= 2, path
    runner = tflite_colorize.TFLiteColorizer(lite_path)
    assert runner.temperature == 0.15
    assert np.abs(runner.colorize(image)[0].astype(int) - reference).max() <= 2


def test_every_format_decodes_edge_aware_alike_on_and_off(source_model_dir, tmp_path):
    """Exported with --edge_radius=2: the SavedModel, the TFLite file (through the Colorizer
    and the TensorFlow-free runner) colour as the Keras model with edge-aware decoding, the
    config.json beside them records it, the runner can turn it off (then it colours as
    bilinear Keras), and asking an export for another decoding is an error."""
    import shutil

    import keras

    model_dir = tmp_path / "peaked"
    shutil.copytree(source_model_dir, model_dir)
    model = keras.saving.load_model(model_dir / "model.keras", compile=False)
    layer = model.get_layer("color_logits")
    # Random colour weights: the tiny model paints every pixel alike; these make the
    # colour change across the photo, so that its edges matter.
    kernel, bias = layer.get_weights()
    kernel = np.random.default_rng(0).normal(0.0, 16.0, kernel.shape).astype(np.float32)
    layer.set_weights([kernel, bias])
    model.save(model_dir / "model.keras")
    out = tmp_path / "exported"
    _export_saved_model_and_tflite_float32(
        model_dir, out, "--edge_radius=2", "--edge_epsilon=0.02", "--temperature=0.1"
    )
    # What is baked into the exports is what the config.json beside them says (the model
    # itself was trained at T 0.15).
    recorded = model_files.read_config(str(out))
    assert (recorded.edge_radius, recorded.edge_epsilon, recorded.temperature) == (2, 0.02, 0.1)
    image = photo(21, 60, 84)
    keras_on = Colorizer(str(model_dir), temperature=0.1, edge_radius=2, edge_epsilon=0.02)
    on = keras_on.colorize(image).astype(int)
    off = Colorizer(str(model_dir), temperature=0.1).colorize(image).astype(int)
    assert np.abs(on - off).max() > 6  # the decoding shows in the colours
    lite_path = str(out / "tflite" / "colorizer_float32.tflite")
    for path in (str(out / "saved_model" / "colorizer" / "1"), lite_path):
        other = Colorizer(path)
        assert other.edge == keras_on.edge and other.temperature == 0.1
        assert np.abs(other.colorize(image).astype(int) - on).max() <= 2, path
        assert np.array_equal(other.colorize(image, hints=[]), other.colorize(image))
        with pytest.raises(ValueError, match="decodes ab as it was exported"):
            Colorizer(path, edge_radius=0)
    runner = tflite_colorize.TFLiteColorizer(lite_path)
    assert np.abs(runner.colorize(image)[0].astype(int) - on).max() <= 2
    plain = tflite_colorize.TFLiteColorizer(lite_path, edge_aware=False)
    assert np.abs(plain.colorize(image)[0].astype(int) - off).max() <= 2


_HUGE_REQUEST = r"""
import io, re, sys
import numpy as np, tensorflow as tf
from PIL import Image

def peak_mb():
    return int(re.search(r"VmHWM:\s+(\d+)", open("/proc/self/status").read())[1]) / 1024

signature = tf.saved_model.load(sys.argv[1]).signatures["colorize_bytes"]
small = io.BytesIO()
Image.fromarray(np.full((48, 64, 3), 120, np.uint8)).save(small, "PNG")
signature(image_bytes=tf.constant([small.getvalue()]))
before = peak_mb()
huge = io.BytesIO()
Image.new("L", (8000, 8000)).save(huge, "PNG")
try:
    signature(image_bytes=tf.constant([huge.getvalue()]))
    print("ANSWERED")
except tf.errors.InvalidArgumentError as e:
    print("REFUSED", " ".join(e.message.split())[-600:])
print(f"GROWTH_MB {peak_mb() - before:.0f}")
"""


def test_the_bytes_signature_refuses_a_huge_photo_from_its_header(exported):
    """A PNG of 8,000 x 8,000 pixels (a few hundred KB) is refused with InvalidArgument
    naming its size and the limit, before it is decoded: the serving process does not
    grow by the gigabytes decoding it would take."""
    result = run_command(["-c", _HUGE_REQUEST, _saved_model_dir(exported)], env=dict(os.environ))
    assert result.returncode == 0, result.stderr[-3000:]
    assert "REFUSED" in result.stdout, result.stdout
    assert "8000 x 8000 pixels is larger than the limit of 40000000" in result.stdout
    growth = float(result.stdout.split("GROWTH_MB")[1])
    assert growth < 150, result.stdout


def test_the_app_files_run_copied_alone_without_tensorflow_or_the_package(exported, tmp_path):
    """The TFLite runner and the serving client, each copied alone into a folder, run with
    TensorFlow and this package made unimportable."""
    import shutil

    Image.fromarray(photo(12, 33, 71)).save(tmp_path / "in.jpg")
    app = tmp_path / "app"
    app.mkdir()
    shutil.copy(os.path.join(ROOT, "colorization", "inference", "tflite_runner.py"), app)
    shutil.copy(os.path.join(ROOT, "export", "serving_client.py"), app)
    blocker = tmp_path / "block"
    blocker.mkdir()
    for name in ("tensorflow", "colorization"):
        (blocker / f"{name}.py").write_text(f"raise ImportError('{name} is not installed here')\n")
    env = dict(os.environ, PYTHONPATH=str(blocker))

    def run(*args):
        return subprocess.run(
            [sys.executable, *map(str, args)], cwd=app, env=env, capture_output=True, text=True
        )

    model = exported / "tflite" / "colorizer_float32.tflite"
    result = run(app / "tflite_runner.py", model, tmp_path / "in.jpg", tmp_path / "out.png")
    assert result.returncode == 0, result.stderr[-2000:]
    assert Image.open(tmp_path / "out.png").size == (71, 33)
    # The client reads its hints file itself and fails only where no server answers.
    hints = tmp_path / "hints.json"
    hints.write_text('[{"x": 3, "y": 4, "rgb": [200, 10, 30]}]')
    result = run(
        app / "serving_client.py",
        tmp_path / "in.jpg",
        tmp_path / "served.png",
        f"--hints={hints}",
        "--port=9",
    )
    assert result.returncode == 2 and "cannot reach TF Serving" in result.stderr, result.stderr
    hints.write_text('[{"x": 3, "y": 4, "rgb": "red"}]')
    result = run(
        app / "serving_client.py", tmp_path / "in.jpg", tmp_path / "s.png", f"--hints={hints}"
    )
    assert result.returncode == 2 and "entry 0" in result.stderr, result.stderr


def test_numpy_colour_maths_match_tensorflow():
    from colorization.core import color

    rgb = (np.random.default_rng(0).random((20, 30, 3)) * 255).astype(np.uint8)
    lab = color.rgb_to_lab(tf.cast(rgb, tf.float32) / 255.0).numpy()
    np.testing.assert_allclose(tflite_colorize.lightness(rgb), lab[..., 0], atol=0.01)
    np.testing.assert_array_equal(
        tflite_colorize.lab_to_rgb_u8(lab.astype(np.float64)),
        color.to_uint8(color.lab_to_rgb(lab)).numpy(),
    )
    grey = tflite_colorize.grey_with_lightness(lab[..., 0])
    np.testing.assert_allclose(
        tflite_colorize.lightness(np.repeat(grey[..., None], 3, -1)), lab[..., 0], atol=0.5
    )


def test_export_cli_rejects_bad_flags(tmp_path):
    result = run_module(
        "export",
        f"--checkpoint={tmp_path / 'none'}",
        f"--output_dir={tmp_path}",
    )
    assert result.returncode == 2 and "does not exist" in result.stderr


def test_calibration_photos_are_read_under_data_root_before_anything_is_written(
    source_model_dir, tmp_path
):
    out = tmp_path / "out"
    result = run_module(
        "export",
        f"--model={source_model_dir}",
        f"--output_dir={out}",
        "--tflite_variants=int8",
        "--calibration_dataset=folder:photos",
        f"--data_root={tmp_path}",
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert f"--calibration_dataset='folder:photos': folder:{tmp_path / 'photos'}" in result.stderr
    assert not out.exists()  # no SavedModel was written before the bad flag was found


def test_bfloat16_saved_model_agrees_with_float(exported, source_model_dir):
    """--saved_model_precisions=bfloat16 writes saved_model/colorizer_bf16: the network under
    mixed_bfloat16 (bfloat16 convolutions, float32 outputs), same signatures."""
    model, _ = model_files.load_model_dir(str(source_model_dir))
    loaded = tf.saved_model.load(str(exported / "saved_model" / "colorizer_bf16" / "1"))
    lightness = np.random.default_rng(1).uniform(0, 100, (2, 32, 32, 1)).astype(np.float32)
    reference = model(lightness, training=False)["color_logits"].numpy()
    logits = loaded.signatures["logits"](L=tf.constant(lightness))["color_logits"].numpy()
    assert logits.dtype == np.float32
    # bfloat16 keeps 8 bits of mantissa: close to float32, but not equal to it.
    relative = np.abs(logits - reference).max() / np.abs(reference).max()
    assert 1e-5 < relative < 0.05, relative
    image = np.stack([photo(11, 40, 50)])
    served = loaded.signatures["serving_default"](image=tf.constant(image))["rgb"].numpy()
    expected = Colorizer(str(source_model_dir)).colorize_batch(image)["rgb"]
    assert np.abs(served.astype(int) - expected).mean() < 2.0


def test_xla_network_in_the_saved_model_gives_the_same_photos(source_model_dir, tmp_path):
    from export import saved_model

    model, _ = model_files.load_model_dir(str(source_model_dir))
    image = tf.constant(np.stack([photo(12, 37, 53), photo(13, 37, 53)]))
    outputs = {}
    for xla in (False, True):
        path = saved_model.export_saved_model(model, str(tmp_path / str(xla)), xla=xla)
        signature = tf.saved_model.load(path).signatures["serving_default"]
        outputs[xla] = signature(image=image)["rgb"].numpy().astype(int)
    assert np.abs(outputs[True] - outputs[False]).max() <= 1


def test_ship_writes_a_model_dir_that_colours_as_the_run_at_the_chosen_size(
    source_model_dir, tmp_path
):
    import shutil

    from export.ship import ship

    # A run that read its photos under /mnt/photos.
    run = tmp_path / "run"
    shutil.copytree(source_model_dir, run)
    trained = json.loads((run / "config.json").read_text())
    trained["data_root"] = "/mnt/photos"
    (run / "config.json").write_text(json.dumps(trained))
    summary = json.loads((run / "summary.json").read_text())
    summary["train_source"] = "voc_dir:/mnt/photos/voc2012_animals [train]: 9 usable images"
    (run / "summary.json").write_text(json.dumps(summary))
    out = tmp_path / "pretrained"
    ship(str(run), str(out), image_size=64, temperature=0.3, data_root="data")
    config = json.loads((out / "config.json").read_text())
    # The chosen temperature and data root, everything else as trained.
    assert config["temperature"] == 0.3 and config["data_root"] == "data"
    assert {k: v for k, v in config.items() if k not in ("temperature", "data_root")} == {
        k: v for k, v in trained.items() if k not in ("temperature", "data_root")
    }
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["data_root"] == "data"
    assert summary["train_source"] == "voc_dir:data/voc2012_animals [train]: 9 usable images"
    assert summary["shipped"]["inference_image_size"] == 64
    assert summary["shipped"]["trained_image_size"] == trained["model"]["image_size"]
    # The same weights at S = 64 colour as the run rebuilt at 64, at T = 0.3.
    image = photo(11, 50, 70)
    expected = Colorizer(str(source_model_dir), temperature=0.3, image_size=64).colorize(image)
    np.testing.assert_array_equal(Colorizer(str(out)).colorize(image), expected)


def test_film_and_probability_fusion_export_like_the_keras_model(tmp_path):
    """The stronger fusions of the instance-aware study (FiLM at the fusion and at S/8, the
    class probabilities as the fused vector) survive export: the SavedModel, TFLite float32
    and the TensorFlow-free runner colour a photo as the Keras model directory does, with the
    FiLM layers active (not at their identity start)."""
    import keras

    from colorization.core.config import ModelConfig
    from colorization.model.network import build_model
    from data_prep import priors
    from tests.conftest import TINY_MODEL_FLAGS, tiny_train_config

    flags = dict(TINY_MODEL_FLAGS, backbone="mobilenet_v2", image_size=64)
    model_config = ModelConfig(**flags, fusion_mode="film", fusion_input="probs")
    keras.utils.set_random_seed(3)
    model = build_model(model_config)
    layer = model.get_layer("color_logits")
    layer.set_weights([8.0 * w for w in layer.get_weights()])

    def save(name):
        folder = tmp_path / name
        folder.mkdir()
        model.save(folder / model_files.MODEL_FILE)
        config = tiny_train_config("voc_dir:unused", folder, model=model_config)
        model_files.write_config(str(folder), config)
        priors.uniform_priors().save(str(folder / "priors.npz"))
        return folder

    identity_dir = save("identity")  # the FiLM layers at their zero start
    rng = np.random.default_rng(3)
    for name in ("fusion_film", "conv7_film"):
        layer = model.get_layer(name)
        layer.set_weights([0.5 * rng.normal(size=w.shape) for w in layer.get_weights()])
    model_dir = save("film")
    out = tmp_path / "exported"
    _export_saved_model_and_tflite_float32(model_dir, out)
    image = photo(21, 60, 80)
    reference = Colorizer(str(model_dir)).colorize(image).astype(int)
    # The FiLM layers shape the colours: at their identity start the photo comes out otherwise.
    identity = Colorizer(str(identity_dir)).colorize(image).astype(int)
    assert np.abs(identity - reference).max() > 6
    lite_path = str(out / "tflite" / "colorizer_float32.tflite")
    for path in (str(out / "saved_model" / "colorizer" / "1"), lite_path):
        assert np.abs(Colorizer(path).colorize(image).astype(int) - reference).max() <= 2, path
    runner = tflite_colorize.TFLiteColorizer(lite_path)
    assert np.abs(runner.colorize(image)[0].astype(int) - reference).max() <= 2
