"""The colorizer that ships with the package: loads with no argument and no network,
colours photos from outside the training data, and exports with no --checkpoint."""

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf

from colorization.core import color
from colorization.inference import colorizer as inference
from tests.helpers import run_module

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def chelsea():
    """scikit-image's photo of a cat (bundled, not in any training set), 300 x 451."""
    import skimage.data

    return np.asarray(skimage.data.chelsea())


# Built once per worker process: xdist workers interleave modules, and a module-scoped
# fixture would be rebuilt each time a worker came back to this module.
@pytest.fixture(scope="session")
def colorizer():
    return inference.Colorizer()


def _lab(rgb_u8):
    return color.rgb_to_lab(rgb_u8[None].astype(np.float32) / 255.0).numpy()[0]


def test_shipped_model_is_a_complete_model_dir():
    root = inference.DEFAULT_MODEL
    for name in (
        "model.keras",
        "config.json",
        "priors.npz",
        "summary.json",
        "LICENSE-MobileNetV2.txt",
    ):
        assert (pathlib.Path(root) / name).is_file(), name
    config = json.loads((pathlib.Path(root) / "config.json").read_text())
    assert config["model"]["backbone"] == "mobilenet_v2"


def test_colours_a_photo_in_one_line_keeping_its_size_and_lightness(colorizer, chelsea):
    grey = np.asarray(tf.image.rgb_to_grayscale(chelsea))
    coloured = colorizer.colorize(grey)
    assert coloured.shape == chelsea.shape and coloured.dtype == np.uint8
    lab = _lab(coloured)
    # The photo's own L is kept (up to uint8 rounding and gamut clipping)...
    assert np.abs(lab[..., 0] - _lab(np.repeat(grey, 3, -1))[..., 0]).mean() < 1.0
    # ...and it is no longer grey: a real chroma, as in a colour photo.
    chroma = np.hypot(lab[..., 1], lab[..., 2])
    assert chroma.mean() > 8.0
    # The colours are closer to the truth than the grey photo's (none) are: ab error.
    true_ab = _lab(chelsea)[..., 1:]
    assert np.abs(lab[..., 1:] - true_ab).mean() < np.abs(true_ab).mean()


def test_class_branch_recognises_the_cat(colorizer, chelsea):
    from colorization.core.config import VOC_CLASSES

    probs = colorizer.colorize_batch(chelsea[None])["class_probs"][0]
    assert VOC_CLASSES[int(np.argmax(probs))] == "cat"


def test_colorize_cli_needs_no_model_flag(chelsea, tmp_path):
    photo = tmp_path / "chelsea.png"
    tf.io.write_file(str(photo), tf.io.encode_png(chelsea))
    result = run_module("colorization.colorize", str(photo), f"--output_dir={tmp_path / 'out'}")
    assert result.returncode == 0, result.stderr[-2000:]
    out = tf.io.decode_png(tf.io.read_file(str(tmp_path / "out" / "chelsea.png"))).numpy()
    assert out.shape == chelsea.shape


def test_colours_at_the_trained_size_when_asked(colorizer):
    # The shipped model.keras is built at 224 while its config says it was trained at 160:
    # asking for 160 must rebuild it at 160, not keep 224.
    assert colorizer.image_size == 224
    trained = inference.Colorizer(image_size=160)
    assert trained.image_size == 160
    assert inference.Colorizer(image_size=224).image_size == 224


def test_follows_a_colour_hint(colorizer, chelsea):
    """The shipped colorizer takes hints: one saturated blue point on the cat's cheek pulls
    the colour around it towards blue, and leaves the far corner of the photo as it was."""
    grey = np.asarray(tf.image.rgb_to_grayscale(chelsea))
    target = np.array([40, 70, 220])
    automatic = colorizer.colorize(grey)
    hinted = colorizer.colorize(grey, hints=[(150, 150, tuple(target))])
    target_ab = _lab(target[None, None].astype(np.uint8))[0, 0, 1:]

    def distance(image, rows, cols):
        return np.hypot(*(_lab(image[rows, cols])[..., 1:].reshape(-1, 2).mean(0) - target_ab))

    near = (slice(143, 158), slice(143, 158))
    assert distance(hinted, *near) < 0.5 * distance(automatic, *near)
    far = (slice(0, 40), slice(400, 451))
    change = np.abs(_lab(hinted[far]) - _lab(automatic[far]))[..., 1:].mean()
    assert change < 3.0, change
