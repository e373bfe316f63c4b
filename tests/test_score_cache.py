"""The score cache: a model scored again on the same photos is read, not run, and gives the
scores of a run without the cache; anything that changes the colours changes the key."""

import json
import shutil

import numpy as np
import pytest

from colorization.evaluation import score_cache
from colorization.evaluation.protocols import run_full
from colorization.evaluation.settings import EvalConfig
from colorization.inference import Colorizer
from tests import helpers


def _config(tmp_path, name, models, data, cache):
    return EvalConfig(
        models=models,
        output_dir=str(tmp_path / name),
        dataset=f"voc_dir:{data}",
        num_bootstrap=20,
        report_images=0,
        hint_counts=(2,),
        score_cache=str(cache) if cache else "",
    )


@pytest.mark.slow
def test_scores_from_the_cache_equal_scores_coloured_afresh(hint_model_dir, tmp_path, monkeypatch):
    data = helpers.small_vocdevkit(tmp_path / "d" / "VOC2012", count=12, height=36, width=44)
    models = (("hinted", str(hint_model_dir)),)
    cache = tmp_path / "cache"
    fresh = run_full(_config(tmp_path, "fresh", models, data, None))
    first = run_full(_config(tmp_path, "first", models, data, cache))
    # One entry per photo and method (automatic, 2 hints): 3 val photos.
    assert len(list(cache.glob("*/*.npz"))) == 6
    # Read back, nothing is coloured: a colorizer that would colour fails the run.
    monkeypatch.setattr(
        Colorizer, "colorize_batch", lambda *a, **k: pytest.fail("coloured a cached photo")
    )
    again = run_full(_config(tmp_path, "again", models, data, cache))
    for result in (first, again):
        assert result["per_image"] == fresh["per_image"]
        assert result["all"] == fresh["all"]
        assert json.dumps(result["per_set"]) == json.dumps(fresh["per_set"])
    monkeypatch.undo()
    # An unreadable entry is coloured again, and written whole.
    entry = sorted(cache.glob("*/*.npz"))[0]
    entry.write_bytes(b"not an npz")
    mended = run_full(_config(tmp_path, "mended", models, data, cache))
    assert mended["per_image"] == fresh["per_image"]
    with np.load(entry) as f:
        assert f["rgb"].dtype == np.uint8
    assert not list(cache.glob("*/*.partial"))


def test_the_key_follows_the_model_files_and_the_decoding(model_dir, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(model_dir, copy)
    base = Colorizer(str(model_dir))
    # The same bytes elsewhere: the same key; a .keras file without its config.json: another.
    assert score_cache.method_key(base) == score_cache.method_key(Colorizer(str(copy)))
    keys = {
        score_cache.method_key(base),
        score_cache.method_key(base, hint_count=2),
        score_cache.method_key(Colorizer(str(model_dir), temperature=0.5)),
        score_cache.method_key(Colorizer(str(model_dir), image_size=64)),
        score_cache.method_key(Colorizer(str(model_dir), edge_radius=2)),
    }
    assert len(keys) == 5
    # Other weights under the same name: another key.
    import keras

    model = keras.saving.load_model(copy / "model.keras", compile=False)
    model.set_weights([w + 0.01 for w in model.get_weights()])
    model.save(copy / "model.keras")
    assert score_cache.method_key(Colorizer(str(copy))) != score_cache.method_key(base)
    assert score_cache.model_files_of(str(copy)) == [
        str(copy / "config.json"),
        str(copy / "model.keras"),
    ]


def test_a_photo_key_is_its_pixels():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 256, (1, 8, 10, 3), dtype=np.uint8)
    changed = image.copy()
    changed[0, 3, 4, 1] ^= 1
    keys = {
        score_cache.photo_key(image),
        score_cache.photo_key(changed),
        score_cache.photo_key(image.reshape(1, 10, 8, 3)),
    }
    assert len(keys) == 3
    assert score_cache.photo_key(image.copy()) == score_cache.photo_key(image)


def test_the_crop_protocol_refuses_a_cache():
    with pytest.raises(ValueError, match="score_cache='c' needs --protocol=full"):
        EvalConfig(models=(("m", "x"),), output_dir="o", protocol="crop", score_cache="c")


@pytest.mark.slow
def test_the_evaluate_command_keeps_its_cache_where_the_environment_says(model_dir, tmp_path):
    import os

    data = helpers.small_vocdevkit(tmp_path / "d" / "VOC2012", count=8, height=36, width=44)
    cache = tmp_path / "from_env"
    result = helpers.run_module(
        "colorization.evaluate",
        f"--model={model_dir}",
        f"--dataset=voc_dir:{data}",
        f"--output_dir={tmp_path / 'eval'}",
        "--bootstrap=20",
        env=dict(os.environ, COLORIZATION_SCORE_CACHE=str(cache)),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert f"Score cache {cache}: 0 coloured photos read, 2 coloured and kept." in result.stdout
    assert len(list(cache.glob("*/*.npz"))) == 2
