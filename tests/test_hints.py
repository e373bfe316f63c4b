"""Colour hints: the hint maps (against a NumPy reference), their simulation, the network's
hint input, and hints through Colorizer."""

import dataclasses

import keras
import numpy as np
import pytest
import tensorflow as tf

from colorization.core import bins, hints
from colorization.core.config import ModelConfig
from colorization.inference.colorizer import Colorizer, parse_hints
from colorization.model import model_files
from colorization.model.network import HINT_SIGMA, build_model, model_inputs
from data_prep import pipeline, sources
from tests import helpers
from tests.conftest import tiny_train_config


def _reference_map(centers, ab, sizes, size):
    """Patches painted in order with plain loops: the later one wins where they overlap."""
    out = np.zeros((size, size, 3), np.float32)
    for (row, col), colour, side in zip(centers, ab, sizes, strict=True):
        top, left = int(row) - (side - 1) // 2, int(col) - (side - 1) // 2
        for r in range(max(top, 0), min(top + side, size)):
            for c in range(max(left, 0), min(left + side, size)):
                out[r, c] = [colour[0], colour[1], 1.0]
    return out


def test_hint_map_paints_patches_like_a_loop():
    rng = np.random.default_rng(0)
    centers = rng.integers(0, 24, (7, 2)).astype(np.float32)
    centers[0] = [0, 23]  # a patch cut by the border
    ab = rng.uniform(-80, 80, (7, 2)).astype(np.float32)
    sizes = rng.integers(1, 10, 7).astype(np.int32)
    got = hints.hint_map(centers, ab, sizes, 24).numpy()
    np.testing.assert_allclose(got, _reference_map(centers, ab, sizes, 24), atol=1e-5)
    # No points: the all-zero map of automatic colour.
    empty = hints.hint_map(np.zeros((0, 2), np.float32), np.zeros((0, 2), np.float32), [], 8)
    assert not empty.numpy().any()


def test_patch_means_are_the_mean_true_colour():
    ab = np.random.default_rng(1).uniform(-60, 60, (16, 16, 2)).astype(np.float32)
    means = hints.patch_means(tf.constant(ab), tf.constant([[5.0, 6.0], [0.0, 0.0]]), [3, 4])
    np.testing.assert_allclose(means[0], ab[4:7, 5:8].mean((0, 1)), atol=1e-4)
    np.testing.assert_allclose(means[1], ab[0:3, 0:3].mean((0, 1)), atol=1e-4)  # clipped


def test_simulated_points_follow_zhang_et_al():
    counts = np.array(
        [int(hints.simulated_count(tf.constant([3, i], tf.int64))) for i in range(4000)]
    )
    # Geometric with stop probability 1/8: P(0) = 1/8, mean 7 (a little less, cut at 32).
    assert abs((counts == 0).mean() - 1 / 8) < 0.02
    assert 6.3 < counts.mean() < 7.3 and counts.max() <= hints.MAX_SIMULATED_POINTS
    # A flat-coloured photo: every hinted pixel carries that colour, and photos differ.
    flat = tf.fill([32, 32, 2], 25.0)
    maps = [hints.simulate_hints(flat, tf.constant([0, i], tf.int64)).numpy() for i in range(40)]
    for hint in maps:
        mask = hint[..., 2] > 0
        np.testing.assert_allclose(hint[mask][:, :2], 25.0, atol=1e-4)
        assert not hint[~mask].any()
    assert sum(not m.any() for m in maps) < 20 and len({m.tobytes() for m in maps}) > 30


def test_a_raised_no_hint_share_keeps_the_others_geometric():
    seeds = [tf.constant([5, i], tf.int64) for i in range(4000)]
    # The default is Zhang et al.'s draw, checked against the plain geometric inversion of the
    # same uniform number.
    uniforms = np.array([1.0 - float(tf.random.stateless_uniform([], s)) for s in seeds])
    expected = np.minimum(
        np.floor(np.log(uniforms) / np.log(1.0 - hints.STOP_PROBABILITY)),
        hints.MAX_SIMULATED_POINTS,
    )
    default = np.array([int(hints.simulated_count(s)) for s in seeds])
    assert (default == expected).mean() > 0.999
    # Half without hints; the others 1 + geometric(1/8): mean 8, less the cut at 32.
    half = np.array([int(hints.simulated_count(s, 0.5)) for s in seeds])
    assert abs((half == 0).mean() - 0.5) < 0.03
    tail = half[half > 0]
    truncated_mean = sum(
        min(n + 1, hints.MAX_SIMULATED_POINTS) * (7 / 8) ** n / 8 for n in range(400)
    )
    assert abs(tail.mean() - truncated_mean) < 0.5 and tail.min() == 1
    assert abs((tail == 1).mean() - 1 / 8) < 0.03
    assert not any(int(hints.simulated_count(s, 1.0)) for s in seeds[:50])
    assert all(int(hints.simulated_count(s, 0.0)) for s in seeds[:200])


def test_no_hint_share_is_checked_and_reaches_the_pipeline():
    from colorization.core.config import TrainConfig
    from colorization.training import trainer

    with pytest.raises(ValueError, match="no_hint_share must be in"):
        TrainConfig(model=ModelConfig(hints=True), no_hint_share=1.5)
    with pytest.raises(ValueError, match="needs hints=True"):
        TrainConfig(no_hint_share=0.5)
    assert TrainConfig.no_hint_share == hints.STOP_PROBABILITY
    config = TrainConfig(model=ModelConfig(hints=True), no_hint_share=0.5)
    assert trainer._pipeline_config(config, training=True).no_hint_share == 0.5


def test_simulation_is_the_same_eagerly_and_in_dataset_map():
    ab = tf.random.stateless_uniform([32, 32, 2], [0, 1], -50, 50)
    seeds = tf.constant([[0, i] for i in range(5)], tf.int64)
    eager = [hints.simulate_hints(ab, s).numpy() for s in seeds]
    mapped = tf.data.Dataset.from_tensor_slices(seeds).map(lambda s: hints.simulate_hints(ab, s))
    for a, b in zip(eager, mapped, strict=True):
        np.testing.assert_array_equal(a, b.numpy())


def test_pipeline_yields_seeded_training_hints_and_none_for_evaluation(tmp_path):
    from PIL import Image

    from tests.helpers import photo

    for i in range(6):
        Image.fromarray(photo(i)).save(tmp_path / f"p{i}.png")
    source = sources.load_source(f"folder:{tmp_path}", "all", audit=False)
    config = pipeline.PipelineConfig(image_size=32, batch_size=3, hints=True, seed=4)
    first = next(iter(pipeline.build_dataset(source, config)))[0]["hints"].numpy()
    again = next(iter(pipeline.build_dataset(source, config)))[0]["hints"].numpy()
    assert first.shape == (3, 32, 32, 3) and first[..., 2].any()
    np.testing.assert_array_equal(first, again)
    evaluation = dataclasses.replace(config, training=False)
    batch = next(iter(pipeline.build_dataset(source, evaluation)))[0]
    assert batch["hints"].shape == (3, 32, 32, 3) and not batch["hints"].numpy().any()
    # The share of photos without hints: all of them, or none.
    for share, hinted in ((1.0, 0), (0.0, 3)):
        shared = dataclasses.replace(config, no_hint_share=share)
        maps = next(iter(pipeline.build_dataset(source, shared)))[0]["hints"].numpy()
        assert sum(m[..., 2].any() for m in maps) == hinted, share


@pytest.mark.parametrize(
    "config",
    [
        ModelConfig(image_size=32, width_multiplier=0.125, fc_units=(16, 16, 8)),
        ModelConfig(
            image_size=64,
            width_multiplier=0.25,
            fc_units=(16, 16, 8),
            backbone="mobilenet_v2",
            freeze_backbone=True,
        ),
    ],
    ids=["vgg16", "mobilenet_v2"],
)
def test_a_hint_network_warm_started_from_one_without_hints_colours_as_it_did(config, tmp_path):
    keras.utils.set_random_seed(0)
    base = build_model(config)
    base.save(tmp_path / "base.keras")
    hinted = build_model(dataclasses.replace(config, hints=True))
    loaded, skipped = model_files.warm_start(hinted, str(tmp_path / "base.keras"))
    new = {layer.name for layer in hinted.layers if layer.weights} - set(loaded)
    assert new == set(skipped) and new and all(name.endswith("_hints") for name in new)
    size = config.image_size
    lightness = np.random.default_rng(2).uniform(0, 100, (2, size, size, 1)).astype(np.float32)
    expected = base(lightness)["color_logits"].numpy()
    # Six single-pixel hints, all of colour (40, 40).
    centers = np.random.default_rng(1).integers(0, size, (6, 2)).astype(np.float32)
    some = np.stack(
        [hints.hint_map(centers, tf.fill([6, 2], 40.0), tf.ones([6], tf.int32), size)] * 2
    )
    # With no hint: the colours of the model it came from.
    got = hinted(model_inputs(hinted, lightness))["color_logits"].numpy()
    np.testing.assert_allclose(got, expected, atol=1e-5)
    # With hints, at the start only the direct path acts: every S/4 cell holding a hint
    # (all of colour (40, 40) here) gets the log of a Gaussian of width HINT_SIGMA around
    # it added to its logits (up to a constant per cell), every other cell is unchanged.
    got = hinted(model_inputs(hinted, lightness, some))["color_logits"].numpy()
    hinted_cells = some[..., 2].reshape(2, size // 4, 4, size // 4, 4).max((2, 4)) > 0
    centers = bins.bin_centers()
    gaussian = -((centers - 40.0) ** 2).sum(1) / (2 * HINT_SIGMA**2)
    change = got - expected
    change -= change.mean(-1, keepdims=True)
    np.testing.assert_allclose(change[~hinted_cells], 0.0, atol=1e-4)
    np.testing.assert_allclose(
        change[hinted_cells],
        np.broadcast_to(gaussian - gaussian.mean(), change[hinted_cells].shape),
        atol=1e-3,
    )
    # Trained (here: set at random), hints move the colours; no hint still changes nothing,
    # since the hint layers have no bias.
    for layer in hinted.layers:
        if layer.name.endswith("_hints"):
            layer.set_weights(
                [np.random.default_rng(3).normal(0, 1, w.shape) for w in layer.get_weights()]
            )
    moved = hinted(model_inputs(hinted, lightness, some))["color_logits"].numpy()
    assert np.abs(moved - expected).max() > 1e-2
    plain = hinted(model_inputs(hinted, lightness))["color_logits"].numpy()
    np.testing.assert_allclose(plain, expected, atol=1e-5)


def test_colorizer_places_hints_in_photo_pixels(hint_model_dir):
    colorizer = Colorizer(str(hint_model_dir))
    assert colorizer.takes_hints
    photo = np.random.default_rng(0).integers(0, 255, (40, 60, 3), np.uint8)
    plain = colorizer.colorize(photo).astype(int)
    np.testing.assert_array_equal(colorizer.colorize(photo, hints=[]).astype(int), plain)
    hinted = colorizer.colorize(photo, hints=[(50, 30, (220, 20, 30))]).astype(int)
    change = np.abs(hinted - plain).sum(-1)
    # The colours move most around the hint (x = 50, y = 30), least in the far corner
    # (the head's convolutions after the S/8 injection spread some of it everywhere).
    assert change[25:36, 45:56].mean() > 3 * max(change[:10, :10].mean(), 0.1)


@pytest.mark.parametrize(
    "bad, message",
    [
        ([(60, 5, (1, 2, 3))], r"point \(60, 5\) is outside the 60 x 40 photo"),
        ([(3, -1, (1, 2, 3))], r"outside the 60 x 40 photo"),
        ([(3, 4, (1, 2, 300))], r"colour \[1, 2, 300\] is not three integers 0-255"),
        ([(3, 4)], r"is not \(x, y, \(r, g, b\)\)"),
        ([(3, 4, "red")], r"is not \(x, y, \(r, g, b\)\)"),
        # A string of digits is not read digit by digit, a fraction is not truncated.
        ([(3, 4, "200")], r"is not \(x, y, \(r, g, b\)\)"),
        ([(3, 4, (10.5, 2, 3))], r"is not \(x, y, \(r, g, b\)\)"),
        ([(3, 4, (True, 2, 3))], r"is not \(x, y, \(r, g, b\)\)"),
    ],
)
def test_bad_hints_name_what_is_wrong(bad, message):
    with pytest.raises(ValueError, match=message):
        parse_hints(bad, 40, 60)


def test_whole_numbers_of_any_type_are_colours():
    points, colours = parse_hints([(3, 4, (np.uint8(200), 10.0, np.int64(3)))], 40, 60)
    assert colours.tolist() == [[200, 10, 3]] and points.tolist() == [[3.0, 4.0]]


def test_hints_need_a_model_that_takes_them(model_dir):
    with pytest.raises(ValueError, match="takes no colour hints"):
        Colorizer(str(model_dir)).colorize(np.zeros((8, 8, 3), np.uint8), hints=[(1, 1, (9, 9, 9))])


def test_an_empty_hint_list_is_automatic_colour(model_dir, hint_model_dir):
    """hints=[] colours as no hints at all, from a model with or without hint inputs."""
    image = helpers.photo(31, 40, 56)
    for path in (model_dir, hint_model_dir):
        colorizer = Colorizer(str(path))
        np.testing.assert_array_equal(
            colorizer.colorize(image, hints=[]), colorizer.colorize(image)
        )


def test_the_hint_curve_scores_every_count_on_the_same_points(hint_model_dir, tmp_path):
    from PIL import Image

    from colorization.evaluation.protocols import run_full
    from colorization.evaluation.settings import EvalConfig
    from tests.helpers import photo

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(photo(40 + i, 36, 50)).save(folder / f"p{i}.png")
    config = EvalConfig(
        models=(("hinted", str(hint_model_dir)),),
        output_dir=str(tmp_path / "eval"),
        dataset=f"folder:{folder}",
        split="all",
        hint_counts=(0, 5),
        num_bootstrap=20,
        report_images=1,
    )
    result = run_full(config)
    summary = result["per_set"][f"folder:{folder}"]
    assert set(summary["metrics"]) == {"grey", "hinted", "hinted+0h", "hinted+5h"}
    # No hint is the automatic colour exactly; five move it.
    assert summary["differences"]["hinted+0h - hinted"]["psnr"] == 0.0
    assert summary["differences"]["hinted+5h - hinted"]["psnr"] != 0.0
    # The same photo gets the same points each time it is scored.
    again = run_full(config)["per_set"][f"folder:{folder}"]
    assert again["metrics"]["hinted+5h"] == summary["metrics"]["hinted+5h"]
    # The points are pixels of the photo holding its own colour, the same for each call.
    from colorization.evaluation.protocols import drawn_hints

    image = photo(40, 36, 50)
    drawn = drawn_hints(image, 5)
    assert drawn == drawn_hints(image, 5) and len(drawn) == 5
    for x, y, rgb in drawn:
        assert 0 <= x < 50 and 0 <= y < 36 and rgb == tuple(image[y, x].tolist())


@pytest.mark.slow
def test_a_hint_network_trains_from_one_without_hints(generated_voc, tiny_model_dir, tmp_path):
    from colorization.training import trainer

    config = tiny_train_config(f"voc_dir:{generated_voc}", tmp_path / "hints", steps=3)
    config = dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, hints=True),
        init_from=str(tiny_model_dir / "model.keras"),
        checkpoint_every=3,
        eval_every=3,
    )
    summary = trainer.train(config)
    assert summary["steps"] == 3 and np.isfinite(summary["final_losses"]["loss"])
    model, saved = model_files.load_model_dir(str(tmp_path / "hints"))
    assert saved.model.hints and set(model.input) == {"L", "hints"}
    # Three steps on simulated hints moved the hint layers off zero.
    assert np.abs(model.get_layer("conv8_hints").get_weights()[0]).max() > 0


@pytest.mark.slow
def test_training_only_the_hint_layers_keeps_the_automatic_colours(
    generated_voc, tiny_model_dir, tmp_path
):
    from colorization.training import trainer

    config = tiny_train_config(f"voc_dir:{generated_voc}", tmp_path / "hints_only", steps=3)
    config = dataclasses.replace(
        config,
        model=dataclasses.replace(config.model, hints=True),
        init_from=str(tiny_model_dir / "model.keras"),
        trainable="hints",
        checkpoint_every=3,
        eval_every=3,
    )
    trainer.train(config)
    model, _ = model_files.load_model_dir(str(tmp_path / "hints_only"))
    source, _ = model_files.load_model_dir(str(tiny_model_dir))
    # Every layer the two networks share, batch-norm statistics included, is as it was.
    for layer in source.layers:
        after = model.get_layer(layer.name).get_weights()
        for old, new in zip(layer.get_weights(), after, strict=True):
            np.testing.assert_array_equal(new, old, err_msg=layer.name)
    # The hint layers learned...
    assert np.abs(model.get_layer("conv8_hints").get_weights()[0]).max() > 0
    # ...and without hints the network colours exactly as the one it started from.
    size = config.model.image_size
    lightness = np.random.default_rng(4).uniform(0, 100, (2, size, size, 1)).astype(np.float32)
    np.testing.assert_allclose(
        model(model_inputs(model, lightness))["color_logits"].numpy(),
        source(lightness)["color_logits"].numpy(),
        atol=1e-5,
    )


def test_training_only_the_hint_layers_needs_a_hint_network():
    with pytest.raises(ValueError, match="trainable=hints .* needs hints=True"):
        tiny_train_config("voc_dir:unused", "runs/x", trainable="hints")
    with pytest.raises(ValueError, match="trainable must be one of .* Received: trainable='head'"):
        tiny_train_config("voc_dir:unused", "runs/x", trainable="head")
    # Trained alone, the hint layers need the rest of a trained network to start from.
    from colorization.core.config import ModelConfig
    from tests.conftest import TINY_MODEL_FLAGS

    hinted = ModelConfig(**{**TINY_MODEL_FLAGS, "hints": True})
    with pytest.raises(ValueError, match="trainable=hints needs init_from"):
        tiny_train_config("voc_dir:unused", "runs/x", trainable="hints", model=hinted)


@pytest.mark.slow
def test_colorize_cli_takes_a_hints_file(hint_model_dir, model_dir, tmp_path):
    import json

    from PIL import Image

    from tests.helpers import photo, run_module

    Image.fromarray(photo(3, 40, 60)).save(tmp_path / "in.png")
    good = tmp_path / "good.json"
    good.write_text(json.dumps([{"x": 50, "y": 30, "rgb": [220, 20, 30]}]))
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps([{"x": 60, "y": 3, "rgb": [1, 2, 3]}]))
    (tmp_path / "broken.json").write_text("[{")
    out = tmp_path / "out"

    def run(hints_file, model=hint_model_dir):
        return run_module(
            "colorization.colorize",
            str(tmp_path / "in.png"),
            f"--model={model}",
            f"--hints={hints_file}",
            f"--output_dir={out}",
            "--overwrite",
        )

    assert run(good).returncode == 0 and (out / "in.png").exists()
    for hints_file, model, message in [
        (outside, hint_model_dir, "point (60, 3) is outside the 60 x 40 photo"),
        (tmp_path / "broken.json", hint_model_dir, "not JSON"),
        (tmp_path / "missing.json", hint_model_dir, "cannot read it"),
        (good, model_dir, "takes no colour hints"),
    ]:
        result = run(hints_file, model)
        assert result.returncode == 2 and message in result.stderr, result.stderr[-500:]


@pytest.mark.slow
def test_every_format_follows_the_same_hints(hint_model_dir, tmp_path):
    """Keras, the exported SavedModel (colorize_with_hints), TFLite through the Colorizer,
    the TensorFlow-free runner and both CLIs colour one photo with the same hints alike; a
    batch whose photos carry different numbers of hints matches the photos one by one."""
    import json

    from PIL import Image

    from colorization.inference import tflite_runner
    from tests.helpers import ROOT, photo, run_command, run_module

    out = tmp_path / "exported"
    result = run_module(
        "export",
        f"--model={hint_model_dir}",
        f"--output_dir={out}",
        "--formats=saved_model,tflite",
        "--tflite_variants=float32",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    saved = out / "saved_model" / "colorizer" / "1"
    tflite = out / "tflite" / "colorizer_float32.tflite"
    image = photo(7, 40, 60)
    marks = [(50, 30, (220, 20, 30)), (4.5, 6, (20, 40, 200)), (59, 39, (30, 200, 40))]

    keras_colorizer = Colorizer(str(hint_model_dir))
    plain = keras_colorizer.colorize(image).astype(int)
    reference = keras_colorizer.colorize(image, hints=marks).astype(int)
    assert np.abs(reference - plain).max() > 30  # the hints change the photo
    runner = tflite_runner.TFLiteColorizer(str(tflite))
    assert runner.takes_hints and runner.max_hints == hints.MAX_USER_POINTS
    coloured = {
        "saved_model": Colorizer(str(saved)).colorize(image, hints=marks),
        "tflite": Colorizer(str(tflite)).colorize(image, hints=marks),
        "runner": runner.colorize(image, hints=marks)[0],
    }
    # Both CLIs with a hints file.
    Image.fromarray(image).save(tmp_path / "in.png")
    hint_file = tmp_path / "hints.json"
    hint_file.write_text(json.dumps([{"x": x, "y": y, "rgb": list(c)} for x, y, c in marks]))
    result = run_module(
        "colorization.colorize",
        str(tmp_path / "in.png"),
        f"--model={saved}",
        f"--hints={hint_file}",
        f"--output_dir={tmp_path / 'cli'}",
    )
    assert result.returncode == 0, result.stderr[-2000:]
    coloured["colorize CLI (SavedModel)"] = np.asarray(Image.open(tmp_path / "cli" / "in.png"))
    script = run_command(
        [
            ROOT / "colorization" / "tflite_colorize.py",
            tflite,
            tmp_path / "in.png",
            tmp_path / "script.png",
            f"--hints={hint_file}",
        ]
    )
    assert script.returncode == 0, script.stderr[-2000:]
    coloured["tflite script"] = np.asarray(Image.open(tmp_path / "script.png"))
    for name, rgb in coloured.items():
        difference = np.abs(rgb.astype(int) - reference)
        assert difference.mean() < 0.5 and np.percentile(difference, 99) <= 2, name
    # Without hints every format colours as the automatic path does.
    for path in (saved, tflite):
        difference = np.abs(Colorizer(str(path)).colorize(image).astype(int) - plain)
        assert np.percentile(difference, 99) <= 2, path

    # A batch: the first photo with three hints, the second with one (padded in the graph).
    second = photo(8, 40, 60)
    batch = Colorizer(str(saved)).colorize_batch(
        np.stack([image, second]), hints=[marks, marks[:1]]
    )["rgb"]
    alone = keras_colorizer.colorize(second, hints=marks[:1]).astype(int)
    assert np.abs(batch[0].astype(int) - reference).max() <= 2
    assert np.abs(batch[1].astype(int) - alone).max() <= 2
    # TF Serving clients: the REST body and the gRPC request, fed as TF Serving feeds them
    # (row instances stacked per input), give the same photo back as PNG.
    import base64

    from export import serving_client

    loaded = tf.saved_model.load(str(saved)).signatures["colorize_bytes_with_hints"]
    encoded = tf.io.encode_png(image).numpy()
    body = json.loads(
        json.dumps(serving_client.rest_request([encoded, encoded], hints=[marks, []]))
    )
    assert body["signature_name"] == "colorize_bytes_with_hints"
    rows = body["instances"]
    served = loaded(
        image_bytes=tf.constant([base64.b64decode(r["image_bytes"]["b64"]) for r in rows]),
        hint_points=tf.constant([r["hint_points"] for r in rows], tf.float32),
        hint_rgb=tf.constant([r["hint_rgb"] for r in rows], tf.uint8),
    )["png_bytes"].numpy()
    assert np.abs(tf.io.decode_png(served[0]).numpy().astype(int) - reference).max() <= 2
    assert np.abs(tf.io.decode_png(served[1]).numpy().astype(int) - plain).max() <= 2
    request = serving_client.grpc_request([encoded], "colorizer", hints=[marks])
    assert request.model_spec.signature_name == "colorize_bytes_with_hints"
    served = loaded(**{k: tf.make_ndarray(v) for k, v in request.inputs.items()})
    png = served["png_bytes"].numpy()[0]
    assert np.abs(tf.io.decode_png(png).numpy().astype(int) - reference).max() <= 2

    # Hints at another temperature than the exported one: every format takes this call's.
    warm = keras_colorizer.colorize(image, temperature=0.9, hints=marks).astype(int)
    assert np.abs(warm - reference).max() > 10
    for path in (saved, tflite):
        got = Colorizer(str(path)).colorize(image, temperature=0.9, hints=marks).astype(int)
        assert np.percentile(np.abs(got - warm), 99) <= 2, path
    # A point outside its photo is refused by the serving graph itself (a client that does
    # not check, as TF Serving's REST API allows, gets InvalidArgument naming it).
    with pytest.raises(tf.errors.InvalidArgumentError, match="outside the photo"):
        loaded(
            image_bytes=tf.constant([encoded]),
            hint_points=tf.constant([[[60.0, 5.0]]]),
            hint_rgb=tf.constant([[[1, 2, 3]]], tf.uint8),
        )

    # Evaluation's hint counts go through the same path for every format: the exports
    # score the hinted photos as the Keras model does.
    from colorization.evaluation.protocols import run_full
    from colorization.evaluation.settings import EvalConfig

    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(2):
        Image.fromarray(photo(50 + i, 36, 50)).save(folder / f"p{i}.png")
    scored = run_full(
        EvalConfig(
            models=(("keras", str(hint_model_dir)), ("sm", str(saved)), ("lite", str(tflite))),
            output_dir=str(tmp_path / "eval"),
            dataset=f"folder:{folder}",
            split="all",
            hint_counts=(3,),
            num_bootstrap=10,
            report_images=1,
        )
    )["per_set"][f"folder:{folder}"]["metrics"]
    assert scored["keras+3h"]["psnr"] != scored["keras"]["psnr"]
    for name in ("sm+3h", "lite+3h"):
        assert abs(scored[name]["psnr"] - scored["keras+3h"]["psnr"]) < 0.1, name

    # Bad hints get the same message from every way in.
    for colorizer in (Colorizer(str(saved)), Colorizer(str(tflite))):
        with pytest.raises(ValueError, match=r"point \(60, 5\) is outside the 60 x 40 photo"):
            colorizer.colorize(image, hints=[(60, 5, (1, 2, 3))])
    with pytest.raises(ValueError, match="takes at most 32"):
        runner.colorize(image, hints=[(1, 1, (1, 2, 3))] * 33)


@pytest.mark.parametrize(
    "value, rgb",
    [("#d01c1c", (208, 28, 28)), ("#0F0", (0, 255, 0)), ("rgba(10, 20, 30, 1)", (10, 20, 30))],
)
def test_the_demo_reads_the_colour_picker(value, rgb):
    from colorization.inference import demo

    assert demo.parse_colour(value) == rgb


@pytest.mark.parametrize("value", ["", "red", "#12345", "rgb(300, 0, 0)"])
def test_the_demo_names_a_colour_it_cannot_read(value):
    from colorization.inference import demo

    with pytest.raises(demo.PhotoError, match="is not a colour; expected #rrggbb"):
        demo.parse_colour(value)


def test_the_demo_backend_colours_with_hints(hint_model_dir, model_dir, tmp_path):
    from PIL import Image

    from colorization.inference import demo
    from tests.helpers import photo

    path = tmp_path / "p.png"
    Image.fromarray(photo(4, 40, 60)).save(path)
    backend = demo.DemoBackend(str(hint_model_dir), output_dir=str(tmp_path / "out"))
    marks = [(50, 30, (220, 20, 30)), (10, 5, (20, 40, 200))]
    result = backend.colorize_file(str(path), hints=marks)
    assert "with 2 hints" in result["message"]
    # The page shows exactly what the Colorizer makes of the same hints.
    np.testing.assert_array_equal(
        result["coloured"], Colorizer(str(hint_model_dir)).colorize(photo(4, 40, 60), hints=marks)
    )
    assert demo.describe_hints(marks).splitlines() == [
        "2 hints (latest last):",
        "1. x = 50, y = 30: #dc141e",
        "2. x = 10, y = 5: #1428c8",
    ]
    with pytest.raises(demo.PhotoError, match=r"point \(70, 5\) is outside the 60 x 40 photo"):
        backend.colorize_file(str(path), hints=[(70, 5, (1, 2, 3))])
    plain = demo.DemoBackend(str(model_dir), output_dir=str(tmp_path / "out2"))
    with pytest.raises(demo.PhotoError, match="takes no colour hints"):
        plain.colorize_file(str(path), hints=marks)


def test_user_points_are_scaled_to_the_network_and_padding_is_ignored():
    size = 32
    points = np.array([[59.0, 39.0], [-1.0, -1.0], [0.0, 20.0], [-1.0, 3.0]], np.float32)
    colours = np.array([[220, 20, 30], [9, 9, 9], [20, 40, 200], [9, 9, 9]], np.uint8)
    painted = hints.user_hint_map(points, colours, 40, 60, size).numpy()
    ab = skimage_ab(colours[[0, 2]])
    # (x, y) in the 60 x 40 photo -> (row, column) = (floor(y * 32 / 40), floor(x * 32 / 60)).
    expected = _reference_map([(31, 31), (16, 0)], ab, [hints.USER_PATCH] * 2, size)
    np.testing.assert_allclose(painted, expected, atol=0.05)


def skimage_ab(rgb_u8):
    """ab of sRGB colours by scikit-image (the independent reference)."""
    import skimage.color

    return skimage.color.rgb2lab(rgb_u8[None].astype(np.float64) / 255.0)[0, :, 1:]


def test_hint_pooling_keeps_a_single_click_at_full_colour():
    """HintPooling against a NumPy loop: per cell the mean ab of its hinted pixels / 110 and
    a flag; a one-pixel hint keeps its colour at S/16, and no hint stays exactly zero."""
    from colorization.model.network import HintPooling

    rng = np.random.default_rng(0)
    maps = np.zeros((2, 32, 32, 3), np.float32)
    for _ in range(12):
        b, r, c = rng.integers(0, 2), rng.integers(0, 32), rng.integers(0, 32)
        maps[b, r, c] = [*rng.uniform(-100, 100, 2), 1.0]
    for factor in (4, 8, 16):
        got = HintPooling(factor)(maps).numpy()
        cells = maps.reshape(2, 32 // factor, factor, 32 // factor, factor, 3)
        mask = cells[..., 2].sum((2, 4))
        ab = cells[..., :2].sum((2, 4)) / np.maximum(mask, 1)[..., None] / 110.0
        expected = np.concatenate([ab, (mask > 0)[..., None]], -1)
        np.testing.assert_allclose(got, expected, atol=1e-5)
    single = np.zeros((1, 32, 32, 3), np.float32)
    single[0, 5, 9] = [55.0, -22.0, 1.0]
    np.testing.assert_allclose(HintPooling(16)(single)[0, 0, 0], [0.5, -0.2, 1.0], atol=1e-6)
    assert not HintPooling(8)(np.zeros((1, 32, 32, 3), np.float32)).numpy().any()


@pytest.mark.slow
def test_hint_showcase_draws_grey_automatic_hinted_and_truth(hint_model_dir, model_dir, tmp_path):
    from PIL import Image

    from benchmarks import hint_showcase
    from tests.helpers import run_module

    # The hints go where the automatic colour is furthest from the truth.
    truth = np.zeros((30, 30, 3), np.uint8)
    truth[20:30, 0:10] = (200, 30, 40)
    (x, y, rgb), *_ = hint_showcase.worst_points(np.zeros_like(truth), truth, grid=3, count=1)
    assert 0 <= x < 10 and 20 <= y < 30 and rgb == (200, 30, 40)

    out = tmp_path / "sheet" / "hints.png"
    result = run_module(
        "benchmarks.hint_showcase", f"--model={hint_model_dir}", f"--output={out}", "--height=40"
    )
    assert result.returncode == 0, result.stderr[-2000:]
    sheet = np.asarray(Image.open(out))
    # One row of 40 pixels per scikit-image photo, four pictures in each.
    assert sheet.shape[0] >= 6 * 40 and "with 3 hints" in result.stdout
    refused = run_module("benchmarks.hint_showcase", f"--model={model_dir}", f"--output={out}")
    assert refused.returncode == 2 and "takes no colour hints" in refused.stderr
