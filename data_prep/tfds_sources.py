"""Sources from TensorFlow Datasets (voc/2007, voc/2012 or any TFDS name with an image),
prepared beforehand in --data_dir."""

import logging

import tensorflow as tf

from data_prep.source_types import NUM_VOC_CLASSES, Source, SourceError

log = logging.getLogger(__name__)


def _tfds_voc_labels(objects, num_classes):
    """Dominant label by box area and multi-hot, from TFDS VOC `objects` (normalised boxes)."""
    boxes = objects["bbox"]  # (n, 4): ymin, xmin, ymax, xmax in [0, 1]
    ids = tf.cast(objects["label"], tf.int32)
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    per_class = tf.math.unsorted_segment_sum(areas, ids, num_classes)
    present = tf.cast(
        tf.math.bincount(ids, minlength=num_classes, maxlength=num_classes) > 0, tf.float32
    )
    label = tf.where(tf.size(ids) > 0, tf.cast(tf.argmax(per_class), tf.int32), -1)
    return label, present


def tfds_offline_help(name):
    return (
        f"The TFDS data set {name!r} is not prepared in --data_dir and cannot be downloaded "
        "here. Offline alternatives: (1) point --dataset at a VOCdevkit folder you already "
        "have, as voc_dir:PATH/VOCdevkit/VOC2012; (2) use any folder of photos as folder:PATH; "
        "(3) build the TFDS data set from the official tar files with "
        "`python -m data_prep.build_tfds --name=voc/2012 --manual_dir=DIR --data_dir=DIR` "
        "(DIR holding VOCtrainval_11-May-2012.tar and VOC2012test.tar, or for voc/2007 "
        "VOCtrainval_06-Nov-2007.tar and VOCtest_06-Nov-2007.tar, under those names)."
    )


def from_tfds(name, split="train", data_dir=None, download=False):
    """A TFDS image data set. VOC gives labels; other data sets give none (label -1).

    Raises SourceError, naming the offline alternatives, when the data set is not prepared
    and `download` is False.
    """
    import tensorflow_datasets as tfds

    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # TFDS raises several types for unknown names.
        raise SourceError(f"Unknown TFDS data set {name!r}: {e}") from e
    if download and not builder.is_prepared():
        builder.download_and_prepare()
    features = builder.info.features
    if "image" not in features:
        raise SourceError(f"TFDS data set {name!r} has no 'image' feature: {list(features)}")
    try:
        dataset = builder.as_dataset(
            split=split,
            shuffle_files=False,
            decoders={"image": tfds.decode.SkipDecoding()},
        )
    except AssertionError as e:
        # TFDS asserts when the data set was never prepared in data_dir.
        raise SourceError(tfds_offline_help(name)) from e
    except (KeyError, ValueError) as e:
        raise SourceError(
            f"TFDS data set {name!r} has no split {split!r} ({e}). "
            f"Known splits: {list(builder.info.splits) or 'none prepared'}"
        ) from e
    splits = builder.info.splits
    num_examples = splits[split].num_examples if split in splits else None
    is_voc = "objects" in features and "label" in features["objects"]
    num_classes = features["objects"]["label"].num_classes if is_voc else NUM_VOC_CLASSES

    def to_element(example):
        if is_voc:
            label, present = _tfds_voc_labels(example["objects"], num_classes)
        else:
            label, present = tf.constant(-1, tf.int32), tf.zeros([num_classes], tf.float32)
        return {"image_bytes": example["image"], "label": label, "labels": present}

    dataset = dataset.map(
        tf.autograph.experimental.do_not_convert(to_element),
        num_parallel_calls=tf.data.AUTOTUNE,
    )
    return Source(
        name=f"{name} [{split}]",
        dataset=dataset,
        num_examples=num_examples,
        has_labels=is_voc,
        skipped={},
        audited=False,
    )
