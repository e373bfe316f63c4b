"""data_prep: sources (mocked TFDS VOC, generated VOCdevkit, image folder), the pipeline's
map functions eagerly and in Dataset.map, skip counting, and the priors CLI."""

import logging
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_datasets as tfds
from PIL import Image

from colorization.core import bins, color
from colorization.core.config import VOC_CLASSES
from data_prep import (
    audit,
    build_tfds,
    file_sources,
    mixing,
    pipeline,
    priors,
    source_types,
    sources,
)
from tests.helpers import photo as _photo
from tests.helpers import run_module, write_vocdevkit
from tests.helpers import voc_xml as _voc_xml

# Dominant class = largest TOTAL area: two dogs (2 x 300) beat one big cat (500).
VOC_IMAGES = {
    "img_a": ([("cat", (0, 0, 25, 20)), ("dog", (0, 0, 20, 15)), ("dog", (30, 20, 50, 35))], "dog"),
    "img_b": ([("person", (0, 0, 50, 38)), ("horse", (0, 0, 10, 10))], "person"),
    "img_c": ([("sheep", (5, 5, 15, 15))], "sheep"),
    "img_d": ([], None),
}


@pytest.fixture(scope="module")
def voc_dir(tmp_path_factory):
    images = {
        image_id: (_photo(i), objects)
        for i, (image_id, (objects, _)) in enumerate(VOC_IMAGES.items())
    }
    root = tmp_path_factory.mktemp("VOCdevkit") / "VOC2012"
    return write_vocdevkit(root, images, {"train": list(VOC_IMAGES), "val": ["img_a", "img_c"]})


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("photos")
    (root / "sub").mkdir()
    Image.fromarray(_photo(10)).save(root / "good.jpg")
    Image.fromarray(_photo(11)).convert("RGBA").save(root / "sub" / "alpha.png")
    sixteen = (_photo(12).astype(np.uint16) * 257)[..., 0]
    Image.fromarray(sixteen).save(root / "sub" / "sixteen.png")  # 16-bit grey (a colour test
    # for the decoder only; it is also grey, so it is counted as grey)
    with open(root / "colour16.png", "wb") as f:
        f.write(tf.io.encode_png(tf.constant(_photo(13).astype(np.uint16) * 257)).numpy())
    Image.fromarray(_photo(14)).convert("L").save(root / "grey.jpg")
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 definitely not a jpeg")
    (root / "empty.png").write_bytes(b"")
    Image.fromarray(_photo(15)).save(root / "photo.bmp")
    (root / "notes.txt").write_text("not an image")
    return root


def test_parse_voc_annotation_dominant_class_by_total_area():
    for objects, expected in VOC_IMAGES.values():
        label, present = file_sources.parse_voc_annotation(_voc_xml(objects))
        assert label == (VOC_CLASSES.index(expected) if expected else -1)
        names = {VOC_CLASSES[i] for i in np.flatnonzero(present)}
        assert names == {name for name, _ in objects}


def test_voc_dir_source(voc_dir):
    source = sources.load_source(f"voc_dir:{voc_dir}", "train")
    elements = list(source.dataset.as_numpy_iterator())
    assert source.num_examples == 4 and len(elements) == 4 and source.has_labels
    for element, (objects, expected) in zip(elements, VOC_IMAGES.values(), strict=True):
        assert element["label"] == (VOC_CLASSES.index(expected) if expected else -1)
        assert element["labels"].shape == (20,) and element["labels"].sum() == len(
            {n for n, _ in objects}
        )
        assert element["image_bytes"][:2] == b"\xff\xd8"
    # The VOCdevkit parent folder works too.
    assert sources.load_source(f"voc_dir:{voc_dir.parent}", "val").num_examples == 2


def test_voc_dir_missing_split_is_a_clear_error(voc_dir):
    with pytest.raises(source_types.SourceError, match="test.txt"):
        sources.load_source(f"voc_dir:{voc_dir}", "test")


def test_image_folder_skips_and_counts_bad_files(image_folder, caplog):
    with caplog.at_level(logging.WARNING):
        source = sources.load_source(f"folder:{image_folder}")
    assert source.skipped == {"empty file": 1, "unreadable": 1, "grey": 2}
    assert source.num_examples == 4  # good.jpg, alpha.png, colour16.png, photo.bmp
    assert not source.has_labels
    assert "corrupt.jpg" in caplog.text and "grey.jpg" in caplog.text
    images = [audit.decode_image(e["image_bytes"]).numpy() for e in source.dataset]
    assert all(image.dtype == np.uint8 and image.shape == (40, 56, 3) for image in images)


def test_a_second_audit_decodes_only_new_or_changed_files(tmp_path, monkeypatch):
    """Reading the same photos again (the priors, then the training) keeps each file's
    verdict; a file written since is checked again, and the counts are the same as a first
    audit's."""
    for i in range(3):
        Image.fromarray(_photo(20 + i)).save(tmp_path / f"p{i}.jpg")
    (tmp_path / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 not a jpeg")
    paths = sorted(str(p) for p in tmp_path.iterdir())
    checked = []
    audit_pass = audit._audit_pass

    def counting(files, grey_chroma):
        checked.append(sorted(os.path.basename(f) for f in files))
        return audit_pass(files, grey_chroma)

    monkeypatch.setattr(audit, "_audit_pass", counting)
    first = audit.audit_files(paths)
    assert checked == [["corrupt.jpg", "p0.jpg", "p1.jpg", "p2.jpg"]]
    assert first[0] == [1, 2, 3] and first[1] == {"empty file": 0, "unreadable": 1, "grey": 0}
    assert audit.audit_files(paths)[:2] == first[:2] and len(checked) == 1
    # p1 becomes grey and corrupt.jpg a photo: only they are decoded again.
    Image.fromarray(_photo(21)).convert("L").save(tmp_path / "p1.jpg")
    Image.fromarray(_photo(30, 24, 20)).save(tmp_path / "corrupt.jpg")
    good, skipped, bad = audit.audit_files(paths)
    assert checked[1] == ["corrupt.jpg", "p1.jpg"]
    assert good == [0, 1, 3] and skipped == {"empty file": 0, "unreadable": 0, "grey": 1}
    assert [os.path.basename(p) for p in bad["grey"]] == ["p1.jpg"]


def test_sixteen_bit_and_alpha_decode_to_the_same_pixels(image_folder):
    colour16 = audit.decode_image(tf.io.read_file(str(image_folder / "colour16.png"))).numpy()
    np.testing.assert_array_equal(colour16, _photo(13))
    alpha = audit.decode_image(tf.io.read_file(str(image_folder / "sub" / "alpha.png"))).numpy()
    np.testing.assert_array_equal(alpha, _photo(11))


def test_source_without_usable_images_fails_clearly(tmp_path):
    (tmp_path / "bad.jpg").write_bytes(b"junk")
    with pytest.raises(source_types.SourceError, match="no usable image"):
        sources.load_source(f"folder:{tmp_path}")
    with pytest.raises(source_types.SourceError, match="not a directory"):
        sources.load_source(f"folder:{tmp_path / 'nope'}")
    with pytest.raises(source_types.SourceError, match="Unknown data set spec"):
        sources.load_source("ftp:somewhere")


def _mock_voc_as_dataset(builder, split, decoders=None, read_config=None, **kwargs):
    """VOC-shaped examples with known boxes, encoded as TFDS stores them."""
    del builder, decoders, read_config, kwargs
    # (label ids, normalised boxes): total area decides the dominant class.
    specs = [
        ([11, 7, 11], [[0, 0, 0.5, 0.5], [0, 0, 0.6, 0.6], [0.5, 0.5, 1, 1]]),  # dog 0.5 > cat 0.36
        ([14], [[0.1, 0.1, 0.9, 0.9]]),
    ]
    if split == "validation":
        specs = specs[:1]

    def gen():
        for i, (labels, boxes) in enumerate(specs):
            yield {
                "image": tf.io.encode_jpeg(tf.constant(_photo(20 + i))).numpy(),
                "objects": {
                    "bbox": np.asarray(boxes, np.float32),
                    "label": np.asarray(labels, np.int64),
                },
            }

    return tf.data.Dataset.from_generator(
        gen,
        output_signature={
            "image": tf.TensorSpec([], tf.string),
            "objects": {
                "bbox": tf.TensorSpec([None, 4], tf.float32),
                "label": tf.TensorSpec([None], tf.int64),
            },
        },
    )


def test_tfds_voc_source_with_mock_data():
    with tfds.testing.mock_data(as_dataset_fn=_mock_voc_as_dataset):
        source = sources.load_source("voc/2007", "train")
        elements = list(source.dataset.as_numpy_iterator())
        assert [e["label"] for e in elements] == [11, 14]
        assert set(np.flatnonzero(elements[0]["labels"])) == {7, 11}
        assert source.has_labels and not source.audited
        batch = next(
            iter(
                pipeline.build_dataset(source, pipeline.PipelineConfig(image_size=32, batch_size=2))
            )
        )
        assert batch[0]["L"].shape == (2, 32, 32, 1)
        assert sorted(batch[1]["class_logits"].numpy().tolist()) == [11, 14]


def test_tfds_not_prepared_names_offline_alternatives(tmp_path):
    with pytest.raises(source_types.SourceError, match="voc_dir:PATH.*folder:PATH.*build_tfds"):
        sources.load_source("voc/2007", "train", data_dir=str(tmp_path))


def test_offline_tfds_build_checks_archives(tmp_path):
    (tmp_path / "VOCtrainval_06-Nov-2007.tar").write_bytes(b"")
    assert build_tfds.missing_archives("voc/2007", str(tmp_path)) == ["VOCtest_06-Nov-2007.tar"]
    with pytest.raises(ValueError, match="VOCtest_06-Nov-2007.tar"):
        build_tfds.build("voc/2007", str(tmp_path), str(tmp_path / "tfds"))
    config = build_tfds.download_config(str(tmp_path))
    assert str(config.manual_dir) == str(tmp_path)


def _element(seed=0, label=3):
    return {
        "image": tf.constant(_photo(seed, 50, 70)),
        "label": tf.constant(label, tf.int32),
        "labels": tf.one_hot(label, 20),
    }


def test_near_grey_crops_give_no_colour_loss():
    weights = tf.constant(np.linspace(0.5, 2.0, 313, dtype=np.float32))
    # A dull photo (a faint warm tint on grey) and a colourful one.
    grey = np.tile(np.linspace(30, 220, 48, dtype=np.float32)[:, None, None], (1, 48, 3))
    dull = np.clip(grey + np.array([6.0, 3.0, -4.0]), 0, 255).astype(np.uint8)
    colourful = _photo(5, 48, 48)

    def example(image, threshold):
        config = pipeline.PipelineConfig(image_size=32, training=False, min_mean_chroma=threshold)
        element = {"image": tf.constant(image), "label": tf.constant(-1), "labels": tf.zeros(20)}
        return pipeline.make_example(element, tf.constant(0, tf.int64), config, weights)[1]

    def mean_chroma(image):
        rgb = pipeline.target_rgb(pipeline.center_resize(tf.constant(image), 32), 32)
        return float(tf.reduce_mean(tf.norm(color.rgb_to_lab(rgb)[..., 1:], axis=-1)))

    assert mean_chroma(dull) < 8 < mean_chroma(colourful)
    for image in (dull, colourful):
        kept = example(image, 0.0)["color_logits"]
        masked = example(image, 8.0)["color_logits"]
        # Only the weight channel changes, and only for the dull photo, to zero.
        np.testing.assert_array_equal(masked[..., :-1], kept[..., :-1])
        expected = np.zeros_like(kept[..., -1]) if image is dull else kept[..., -1]
        np.testing.assert_array_equal(masked[..., -1], expected)
    assert float(tf.reduce_min(example(dull, 0.0)["color_logits"][..., -1])) > 0
    with pytest.raises(ValueError, match="min_mean_chroma must be >= 0"):
        pipeline.PipelineConfig(min_mean_chroma=-1.0)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("encoding", ["soft", "hard"])
def test_make_example_eager_equals_dataset_map(training, encoding):
    config = pipeline.PipelineConfig(
        image_size=32, training=training, encoding=encoding, with_rgb=True
    )
    weights = tf.constant(np.linspace(0.5, 2.0, 313, dtype=np.float32))
    eager = pipeline.make_example(_element(), tf.constant(7, tf.int64), config, weights)
    mapped = next(
        iter(
            tf.data.Dataset.from_tensors(_element()).map(
                lambda e: pipeline.make_example(e, tf.constant(7, tf.int64), config, weights)
            )
        )
    )
    for part in (0, 1):
        for key in eager[part]:
            np.testing.assert_allclose(
                eager[part][key].numpy(), mapped[part][key].numpy(), atol=1e-5
            )
    features, targets = eager
    k = 1 if encoding == "hard" else 5
    assert features["L"].shape == (32, 32, 1) and features["L"].dtype == tf.float32
    L = features["L"].numpy()
    assert 0 <= L.min() and L.max() <= 100
    packed = targets["color_logits"].numpy()
    assert packed.shape == (8, 8, 2 * k + 1)
    indices = packed[..., :k]
    assert np.all((indices >= 0) & (indices < 313)) and np.all(indices == np.round(indices))
    np.testing.assert_allclose(packed[..., k : 2 * k].sum(-1), 1.0, atol=1e-5)
    # The weight is that of the nearest bin, which hard-encodes the area-averaged target RGB.
    ab = color.rgb_to_lab(pipeline.target_rgb(features["rgb"], 32))[..., 1:]
    nearest = bins.hard_encode(ab).numpy()
    np.testing.assert_array_equal(indices[..., 0].astype(int), nearest)
    np.testing.assert_allclose(packed[..., -1], weights.numpy()[nearest], rtol=1e-6)
    assert int(targets["class_logits"]) == 3


def test_evaluation_crop_is_the_centre_and_deterministic():
    image = tf.constant(_photo(5, 40, 80))
    a = pipeline.center_resize(image, 32).numpy()
    b = pipeline.center_resize(image, 32).numpy()
    np.testing.assert_array_equal(a, b)
    # Shorter side 40 -> 32: width 80 -> 64, centre 32 columns = original columns 20..60.
    expected = tf.image.resize(tf.cast(image, tf.float32) / 255.0, [32, 64], antialias=True)[
        :, 16:48
    ]
    np.testing.assert_allclose(a, np.clip(expected.numpy(), 0, 1), atol=1e-6)


def test_training_augmentation_is_seeded():
    config = pipeline.PipelineConfig(image_size=32)
    weights = tf.ones([313])
    one = pipeline.make_example(_element(1), tf.constant(3, tf.int64), config, weights)[0]["L"]
    same = pipeline.make_example(_element(1), tf.constant(3, tf.int64), config, weights)[0]["L"]
    other = pipeline.make_example(_element(1), tf.constant(4, tf.int64), config, weights)[0]["L"]
    np.testing.assert_array_equal(one.numpy(), same.numpy())
    assert np.abs(one.numpy() - other.numpy()).max() > 0


def test_build_dataset_batches(voc_dir):
    source = sources.load_source(f"voc_dir:{voc_dir}", "train")
    train = pipeline.build_dataset(
        source, pipeline.PipelineConfig(image_size=32, batch_size=3, cache=True)
    )
    features, targets = next(iter(train))
    assert features["L"].shape == (3, 32, 32, 1)
    assert targets["color_logits"].shape == (3, 8, 8, 11)
    evaluation = pipeline.build_dataset(
        source,
        pipeline.PipelineConfig(image_size=32, batch_size=3, training=False, multi_label=True),
    )
    batches = list(evaluation)
    assert [b[0]["L"].shape[0] for b in batches] == [3, 1]  # no drop_remainder, no repeat
    assert batches[0][1]["class_logits"].shape == (3, 20)


def test_grey_images_are_dropped_for_unaudited_sources():
    grey = np.repeat(_photo(3)[..., :1], 3, axis=-1)
    encoded = [tf.io.encode_png(x).numpy() for x in (_photo(1), grey, _photo(2))]
    source = source_types.Source(
        "test",
        tf.data.Dataset.from_tensor_slices(
            {"image_bytes": encoded, "label": [0, 1, 2], "labels": np.zeros((3, 20), np.float32)}
        ),
        3,
        True,
        {},
        audited=False,
    )
    config = pipeline.PipelineConfig(image_size=32, batch_size=8, training=False)
    labels = next(iter(pipeline.build_dataset(source, config)))[1]["class_logits"].numpy()
    assert labels.tolist() == [0, 2]


@pytest.mark.slow
def test_priors_cli_on_an_image_folder(image_folder, tmp_path):
    # Into a folder that does not exist yet (runs/ on a fresh checkout).
    output = tmp_path / "runs" / "priors.npz"
    result = run_module(
        "data_prep.priors",
        f"--dataset=folder:{image_folder}",
        "--image_size=32",
        f"--output={output}",
    )
    assert result.returncode == 0, result.stderr
    loaded = priors.Priors.load(output)
    assert loaded.metadata["num_images"] == 4 and loaded.metadata["num_pixels"] == 4 * 64
    assert np.isclose((loaded.smoothed_probs * loaded.weights).sum(), 1.0)
    bad = run_module(
        "data_prep.priors",
        "--dataset=skimage",
        "--image_size=30",
        "--output=x",
    )
    assert bad.returncode != 0 and "image_size" in bad.stderr


def test_folder_names_that_are_voc_classes_become_labels(tmp_path):
    for folder, seed in (("dog", 1), ("tench", 2), ("Person", 3)):
        (tmp_path / folder).mkdir()
        Image.fromarray(_photo(seed)).save(tmp_path / folder / f"{folder}.jpg")
    source = file_sources.from_image_folder(str(tmp_path))
    labels = [int(e["label"]) for e in source.dataset]
    # Sorted paths: Person/, dog/, tench/.
    assert labels == [
        VOC_CLASSES.index("person"),
        VOC_CLASSES.index("dog"),
        -1,
    ]
    assert source.has_labels


def test_combined_sources_mix_every_photo_once_per_epoch(voc_dir, image_folder):
    spec = f"voc_dir:{voc_dir},folder:{image_folder}"
    voc = sources.load_source(f"voc_dir:{voc_dir}", "train")
    folder = sources.load_source(f"folder:{image_folder}")
    combined = sources.load_source(spec, "train", seed=3)
    assert combined.num_examples == voc.num_examples + folder.num_examples
    assert combined.audited and combined.has_labels
    assert combined.skipped == folder.skipped  # the generated VOC folder has no bad file

    def contents(source):
        return sorted(
            (e["image_bytes"], int(e["label"])) for e in source.dataset.as_numpy_iterator()
        )

    got = contents(combined)
    assert got == sorted(contents(voc) + contents(folder))
    # Mixed photo by photo: the order is not "all VOC, then the folder".
    order = [int(e["label"]) >= 0 for e in combined.dataset.as_numpy_iterator()]
    assert order != sorted(order, reverse=True)
    # Seeded: the same seed gives the same order.
    again = sources.load_source(spec, "train", seed=3)
    first = [e["image_bytes"] for e in combined.dataset.as_numpy_iterator()]
    assert first == [e["image_bytes"] for e in again.dataset.as_numpy_iterator()]


def test_folder_val_split_is_a_fixed_tenth_whatever_the_root(tmp_path):
    names = [f"photo_{i:03d}.jpg" for i in range(200)]
    sides = {n: file_sources.folder_split_of(os.path.join("anywhere", n)) for n in names}
    # The side depends on the file name only, and about one photo in ten is held out.
    assert all(
        file_sources.folder_split_of(os.path.join("x", "y", n)) == s for n, s in sides.items()
    )
    assert 10 <= sum(s == "val" for s in sides.values()) <= 30
    for i, name in enumerate(names[:40]):
        folder = tmp_path / ("dog" if i % 2 else "things")
        folder.mkdir(exist_ok=True)
        Image.fromarray(_photo(i)).save(folder / name)
    every = {file_sources.folder_split_of(n) for n in names[:40]}
    assert every == {"train", "val"}, "the 40 names must fall on both sides for this test"
    got = {}
    for split in file_sources.FOLDER_SPLITS:
        source = file_sources.from_image_folder(str(tmp_path), split, audit=False)
        got[split] = sorted(os.path.basename(p) for p in source.files[0])
    assert sorted(got["train"] + got["val"]) == got["all"] == sorted(names[:40])
    assert got["val"] == sorted(n for n in names[:40] if sides[n] == "val")
    # Reading a subfolder keeps each photo on its side.
    sub = sources.load_source(f"folder:{tmp_path / 'dog'}", "val", audit=False)
    assert {os.path.basename(p) for p in sub.files[0]} <= set(got["val"])
    with pytest.raises(source_types.SourceError, match="no split 'test'"):
        file_sources.from_image_folder(str(tmp_path), "test")


def test_folder_aliases_and_ancestor_folders_give_labels(tmp_path):
    for folder in ("human_seg/flat", "imagenette/english_springer", "pacs/horse/sub", "coco/flat"):
        (tmp_path / folder).mkdir(parents=True)
        Image.fromarray(_photo(len(folder))).save(tmp_path / folder / "a.jpg")
    source = file_sources.from_image_folder(str(tmp_path), audit=False)
    got = {
        os.path.relpath(p, tmp_path): int(label)
        for p, label in zip(source.files[0], source.files[1], strict=True)
    }
    voc = VOC_CLASSES.index
    assert got == {
        "coco/flat/a.jpg": -1,
        "human_seg/flat/a.jpg": voc("person"),
        "imagenette/english_springer/a.jpg": voc("dog"),
        "pacs/horse/sub/a.jpg": voc("horse"),
    }


def _photo_tree(root, folders, per_folder=3):
    for folder in folders:
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(per_folder):
            Image.fromarray(_photo(len(folder) + 7 * i)).save(
                root / folder / f"{folder[:3]}{i}.jpg"
            )


def test_folder_labels_do_not_depend_on_where_the_spec_starts(tmp_path):
    _photo_tree(tmp_path / "photos", ["human_seg/flat", "pacs/horse", "coco/flat"], 1)
    voc = VOC_CLASSES.index

    def labels(spec):
        source = sources.load_source(spec, "all", data_root=str(tmp_path), audit=False)
        return {
            os.path.relpath(p, tmp_path / "photos"): int(label)
            for p, label in zip(source.files[0], source.files[1], strict=True)
        }

    whole = labels("folder:photos")
    assert whole["human_seg/flat/hum0.jpg"] == voc("person")
    assert whole["pacs/horse/pac0.jpg"] == voc("horse") and whole["coco/flat/coc0.jpg"] == -1
    # Each subfolder as its own root (what folder:photos/* expands to) labels alike.
    for sub in ("human_seg", "pacs", "coco", "pacs/horse"):
        assert labels(f"folder:photos/{sub}").items() <= whole.items(), sub


def test_source_counts_move_each_share_towards_equal():
    sizes = [3000, 900, 100]
    # balance 1: every photo once; 0: every source alike; counts always fill the epoch.
    assert mixing.source_counts(sizes, 1.0).tolist() == sizes
    assert mixing.source_counts(sizes, 0.0).tolist() == [1334, 1333, 1333]
    half = mixing.source_counts(sizes, 0.5)
    assert half.sum() == 4000
    # Shares proportional to the square roots of the sizes (54.77 : 30 : 10), to a photo.
    expected = 4000 * np.sqrt(sizes) / np.sqrt(sizes).sum()
    assert np.all(np.abs(half - expected) < 1), (half, expected)
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="balance must be in"):
            mixing.source_counts(sizes, bad)


def test_a_folder_star_spec_trains_on_every_subfolder_balanced(tmp_path):
    from colorization.core.config import TrainConfig

    _photo_tree(tmp_path / "photos", ["big/a", "big/b", "small/c"], 1)
    _photo_tree(tmp_path / "photos", ["big/d"], 9)  # big: 11 photos, small: 1
    spec = "folder:photos/*"
    assert sources.expand_spec(spec, str(tmp_path)) == ["folder:photos/big", "folder:photos/small"]
    whole = sources.load_source("folder:photos", "all", data_root=str(tmp_path), audit=False)
    each = sources.load_source(spec, "all", data_root=str(tmp_path), audit=False)
    key = lambda e: e["image_bytes"]  # noqa: E731
    assert sorted(map(key, each.dataset.as_numpy_iterator())) == sorted(
        map(key, whole.dataset.as_numpy_iterator())
    )

    def drawn(balance, seed=0):
        config = TrainConfig(
            dataset=spec, data_root=str(tmp_path), source_balance=balance, seed=seed
        )
        source = sources.load_train_source(config)
        return [e["image_bytes"] for e in source.dataset.as_numpy_iterator()], source

    small = {
        e["image_bytes"]
        for e in sources.load_source(
            f"folder:{tmp_path}/photos/small", "all", audit=False
        ).dataset.as_numpy_iterator()
    }
    train_small = small & set(drawn(1.0)[0])
    assert len(train_small) == 1, "the small source's one photo must be in train"
    for balance, small_count in ((1.0, 1), (0.0, 6), (0.5, 3)):
        got, source = drawn(balance)
        # The epoch keeps its length; the small source is drawn as source_counts says.
        assert source.num_examples == len(got) == 12
        assert sum(b in small for b in got) == small_count, balance
        assert sum(b in small for b in got) == mixing.source_counts([11, 1], balance)[1]
        # Seeded: the same seed gives the same epoch.
        assert got == drawn(balance)[0]
    # A source cut to 6 of its 11 photos gives 6 different ones.
    got = drawn(0.0, seed=5)[0]
    large = [b for b in got if b not in small]
    assert len(large) == len(set(large)) == 6
    with pytest.raises(source_types.SourceError, match="is not a directory"):
        sources.expand_spec("folder:nowhere/*", str(tmp_path))
    with pytest.raises(ValueError, match="source_balance must be in"):
        TrainConfig(source_balance=2.0)


def test_training_specs_are_read_under_data_root(tmp_path, monkeypatch):
    from colorization.core.config import TrainConfig

    root = tmp_path / "data"
    _photo_tree(root / "pics", ["dog", "things"], 12)
    monkeypatch.chdir(tmp_path / "..")  # anywhere but the data root
    config = TrainConfig(dataset="folder:pics", data_root=str(root))
    train = sources.load_train_source(config)
    val = sources.load_val_source(config)
    everything = file_sources.list_images(str(root / "pics"))
    assert train.num_examples + val.num_examples == len(everything) == 24
    assert train.name == f"folder:{root / 'pics'} [train]" and train.has_labels


def test_a_bad_or_empty_val_dataset_is_an_error_naming_it(tmp_path):
    from colorization.core.config import TrainConfig

    _photo_tree(tmp_path / "pics", ["dog"], 12)
    _photo_tree(tmp_path / "few", ["cat"], 1)
    names = [os.path.basename(p) for p in file_sources.list_images(str(tmp_path / "few"))]
    assert all(file_sources.folder_split_of(n) == "train" for n in names), "pick other names"
    for bad, message in [
        ("folder:nowhere", "not a directory"),
        ("folder:few", "its 'val' split is empty"),
    ]:
        config = TrainConfig(dataset="folder:pics", val_dataset=bad, data_root=str(tmp_path))
        with pytest.raises(source_types.SourceError, match=f"val_dataset='{bad}': .*{message}"):
            sources.load_val_source(config)
    # The empty split says what to do about it.
    with pytest.raises(source_types.SourceError, match="split 'all' to use every photo"):
        sources.load_source("folder:few", "val", data_root=str(tmp_path))
