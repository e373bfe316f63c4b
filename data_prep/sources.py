"""Data sources. Each returns a `Source` whose dataset yields the same element structure:

    {"image_bytes": tf.string (an encoded JPEG/PNG/BMP/GIF/WebP),
     "label":       tf.int32 (), the dominant class id (largest total box area), -1 = none,
     "labels":      tf.float32 (num_classes,), multi-hot over the classes present}

Decoding happens later, in the pipeline's map, so that shuffling moves bytes, not pixels.

Source specs, as the CLIs take them:
    voc/2007, voc/2012, any TFDS name    TFDS, from --data_dir (prepared beforehand)
    voc_dir:PATH                         a VOCdevkit folder (JPEGImages/, Annotations/, ImageSets/Main/)
    folder:PATH                          every image below PATH, recursively; a photo inside a
                                         folder named after a VOC class (dog/, person/) or an
                                         alias of one (FOLDER_CLASS_ALIASES) gets that label,
                                         any other none. Split "val" is every tenth photo by a
                                         seeded hash of its file name, "train" the rest, "all"
                                         every photo (see `folder_split_of`)
    skimage                              the colour photos bundled with scikit-image (no network)
    folder:PATH/*                        one folder: source per subfolder of PATH (sorted)
    SPEC,SPEC,...                        several sources as one (see `combine_sources`)

File sources are audited before use: empty, unreadable and already-grey files are skipped
and counted, and the counts are logged, so one bad file never stops a run.
"""

import dataclasses
import logging
import os
import xml.etree.ElementTree as ElementTree
import zlib

import numpy as np
import tensorflow as tf

from colorization.core import color
from colorization.core.config import VOC_CLASSES

NUM_VOC_CLASSES = len(VOC_CLASSES)
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
# An image whose every pixel (of a 64-pixel thumbnail) has chroma |ab| below this is grey.
DEFAULT_GREY_CHROMA = 5.0
_THUMBNAIL_SIZE = 64
# Folder names that stand for a VOC class without being its name.
FOLDER_CLASS_ALIASES = {"human_seg": "person", "people": "person", "english_springer": "dog"}
# A folder's val split: photos whose salted file-name hash is 0 modulo FOLDER_VAL_MODULUS.
FOLDER_SPLITS = ("train", "val", "all")
FOLDER_VAL_MODULUS = 10
_FOLDER_SPLIT_SALT = b"colorization-val-split-v1:"
# Photos from scikit-image that ship inside the package (no download needed).
_SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina")

log = logging.getLogger(__name__)


class SourceError(ValueError):
    """A data source that cannot be used, with what was expected."""


@dataclasses.dataclass
class Source:
    """A data set ready for the pipeline.

    Attributes:
      name: the spec it came from.
      dataset: elements {"image_bytes", "label", "labels"} as described in the module doc.
      num_examples: number of usable examples, when known.
      has_labels: whether any example carries a class label.
      skipped: reason -> number of files skipped ("empty file", "unreadable", "grey").
      audited: True when grey images were already removed (file sources); the pipeline then
        does not test for grey again.
      files: (paths, labels, multi_hot) of a file source, so that several file sources can be
        merged and mixed photo by photo; None for other sources.
    """

    name: str
    dataset: tf.data.Dataset
    num_examples: int | None
    has_labels: bool
    skipped: dict
    audited: bool
    files: tuple | None = None

    def summary(self):
        skipped = ", ".join(f"{n} {reason}" for reason, n in sorted(self.skipped.items()) if n)
        return (
            f"{self.name}: {self.num_examples if self.num_examples is not None else '?'} usable "
            f"images{'' if self.has_labels else ' (no labels)'}; skipped: {skipped or 'none'}"
        )


def decode_image(image_bytes):
    """Decodes any encoded image to uint8 RGB (H, W, 3).

    Grey images are replicated to 3 channels, alpha is dropped, 16-bit images are scaled to
    8 bits, CMYK JPEGs are converted, and a GIF gives its first frame.
    """
    image = tf.io.decode_image(image_bytes, channels=3, dtype=tf.uint8, expand_animations=False)
    image.set_shape([None, None, 3])
    return image


def is_grey(image, max_chroma=DEFAULT_GREY_CHROMA):
    """True when every pixel of a 64-pixel thumbnail of `image` (uint8, H x W x 3) has
    chroma sqrt(a^2 + b^2) below `max_chroma`. The thumbnail averages away JPEG noise."""
    thumbnail = tf.image.resize(
        tf.cast(image, tf.float32) / 255.0,
        [_THUMBNAIL_SIZE, _THUMBNAIL_SIZE],
        method="area",
        antialias=True,
    )
    ab = color.rgb_to_lab(thumbnail)[..., 1:]
    chroma = tf.sqrt(tf.reduce_sum(tf.square(ab), axis=-1))
    return tf.reduce_max(chroma) < max_chroma


# What the audit found per file in this process: (path, size, mtime, grey_chroma) -> "good",
# "grey" or "unreadable" (fails to decode, or decodes to no pixels). A command that reads the
# same photos twice (the priors, then the training) decodes them once; a changed file is
# checked again.
_AUDITED = {}


def _file_key(path, grey_chroma):
    try:
        stat = os.stat(path)
    except OSError:
        return None
    return (path, stat.st_size, stat.st_mtime_ns, float(grey_chroma))


def _audit_pass(paths, grey_chroma):
    """{index: "good" | "grey" | "unreadable"} of non-empty files, in one parallel tf.data
    pass."""

    def check(index):
        image = decode_image(tf.io.read_file(tf.gather(paths_tensor, index)))
        usable = tf.size(image) > 0
        return index, usable, is_grey(image, grey_chroma)

    paths_tensor = tf.constant(paths)
    # A file that fails to decode raises inside the map; ignore_errors drops exactly that
    # element, and the missing index tells which file it was.
    checks = (
        tf.data.Dataset.from_tensor_slices(np.arange(len(paths), dtype=np.int64))
        .map(tf.autograph.experimental.do_not_convert(check), num_parallel_calls=tf.data.AUTOTUNE)
        .ignore_errors()
    )
    found = {index: "unreadable" for index in range(len(paths))}
    for index, usable, grey in checks.as_numpy_iterator():
        found[int(index)] = "unreadable" if not usable else ("grey" if grey else "good")
    return found


def audit_files(paths, grey_chroma=DEFAULT_GREY_CHROMA):
    """Checks that every file decodes and is not grey, in one parallel tf.data pass over the
    files this process has not checked before (unchanged ones keep their verdict).

    Returns:
      (good_indices sorted list, skipped dict reason -> count, bad dict reason -> paths).
    """
    paths = list(paths)
    skipped = {"empty file": 0, "unreadable": 0, "grey": 0}
    bad = {reason: [] for reason in skipped}
    keys = [_file_key(path, grey_chroma) for path in paths]
    verdicts = [None] * len(paths)
    unchecked = []
    for i, key in enumerate(keys):
        if key is None or key[1] == 0:
            verdicts[i] = "empty file"
        elif key in _AUDITED:
            verdicts[i] = _AUDITED[key]
        else:
            unchecked.append(i)
    if unchecked:
        found = _audit_pass([paths[i] for i in unchecked], grey_chroma)
        for position, i in enumerate(unchecked):
            verdicts[i] = _AUDITED[keys[i]] = found[position]
    good = []
    for i, verdict in enumerate(verdicts):
        if verdict == "good":
            good.append(i)
        elif verdict in skipped:
            skipped[verdict] += 1
            bad[verdict].append(paths[i])
    for reason, files in bad.items():
        if files:
            shown = ", ".join(os.path.basename(f) for f in files[:5])
            more = f" and {len(files) - 5} more" if len(files) > 5 else ""
            log.warning("Skipped %d %s file(s): %s%s", len(files), reason, shown, more)
    return sorted(good), skipped, bad


def _file_source(name, paths, labels, multi_hot, audit, grey_chroma):
    skipped = {}
    if audit:
        good, skipped, _ = audit_files(paths, grey_chroma)
        paths = [paths[i] for i in good]
        labels = labels[good]
        multi_hot = multi_hot[good]
    if not paths:
        raise SourceError(
            f"{name}: no usable image (skipped: {skipped}). Expected JPEG, PNG, BMP, GIF or "
            "WebP files in colour."
        )
    source = Source(
        name=name,
        dataset=_files_dataset(paths, labels, multi_hot),
        num_examples=len(paths),
        has_labels=bool((labels >= 0).any()),
        skipped=skipped,
        audited=audit,
        files=(list(paths), np.asarray(labels), np.asarray(multi_hot)),
    )
    log.info("%s", source.summary())
    return source


def _files_dataset(paths, labels, multi_hot):
    return tf.data.Dataset.from_tensor_slices(
        {"path": paths, "label": labels.astype(np.int32), "labels": multi_hot.astype(np.float32)}
    ).map(
        tf.autograph.experimental.do_not_convert(
            lambda e: {
                "image_bytes": tf.io.read_file(e["path"]),
                "label": e["label"],
                "labels": e["labels"],
            }
        ),
        num_parallel_calls=tf.data.AUTOTUNE,
    )


def source_counts(sizes, balance=1.0):
    """How many photos each source gives one epoch of sum(sizes) photos.

    Each source's share is proportional to size ** balance: balance 1 gives every photo once
    (the sources in proportion to their size), 0 gives every source the same number (small
    ones repeated, large ones cut), values between move the large sources' share towards the
    small ones'. The counts are rounded by largest remainder, so they add up to the epoch.
    """
    sizes = np.asarray(sizes, np.float64)
    if not 0.0 <= balance <= 1.0:
        raise ValueError(f"balance must be in [0, 1]. Received: balance={balance!r}")
    if sizes.size == 0 or np.any(sizes < 1):
        raise ValueError(f"every source needs at least one photo. Received: sizes={sizes.tolist()}")
    total = int(sizes.sum())
    exact = total * sizes**balance / np.sum(sizes**balance)
    counts = np.floor(exact).astype(np.int64)
    largest_remainders = np.argsort(counts - exact, kind="stable")
    counts[largest_remainders[: total - int(counts.sum())]] += 1
    return counts


def _balanced_indices(size, count, rng):
    """`count` indices into a source of `size` photos: whole seeded permutations, repeated
    as often as the count needs, the last one cut."""
    rounds = -(-count // size)
    return np.concatenate([rng.permutation(size) for _ in range(rounds)])[:count]


def combine_sources(parts, seed=0, balance=1.0):
    """Several sources as one training source.

    The mixing rule: with balance 1 every photo of every source once per epoch, so each
    source is drawn in proportion to its size. With balance < 1 the file sources' shares of
    each epoch follow `source_counts` (the epoch keeps its length; a small source's photos
    come more than once, a large one's are a seeded subset). File sources are merged photo by
    photo and put in one seeded random order, so that even a small shuffle buffer sees all
    sources mixed; other sources (TFDS) are appended after them and rely on the pipeline's
    shuffle buffer. Photos without a VOC label (label -1, all-zero multi-hot) add no class
    loss (colorization.model.losses), only colour loss.
    """
    if len(parts) == 1:
        return parts[0]
    files = [p for p in parts if p.files is not None]
    others = [p for p in parts if p.files is None]
    datasets = []
    if files:
        paths = [path for p in files for path in p.files[0]]
        labels = np.concatenate([p.files[1] for p in files])
        multi_hot = np.concatenate([p.files[2] for p in files]).reshape(-1, NUM_VOC_CLASSES)
        if balance != 1.0:
            sizes = [len(p.files[0]) for p in files]
            counts = source_counts(sizes, balance)
            rng = np.random.default_rng([seed, 1])
            starts = np.cumsum([0, *sizes[:-1]])
            chosen = np.concatenate(
                [
                    start + _balanced_indices(n, c, rng)
                    for start, n, c in zip(starts, sizes, counts, strict=True)
                ]
            )
            for p, n, c in zip(files, sizes, counts, strict=True):
                log.info("%s: %d photos an epoch (%d held)", p.name, c, n)
            paths = [paths[i] for i in chosen]
            labels, multi_hot = labels[chosen], multi_hot[chosen]
        order = np.random.default_rng(seed).permutation(len(paths))
        paths = [paths[i] for i in order]
        datasets.append(_files_dataset(paths, labels[order], multi_hot[order]))
    datasets += [p.dataset for p in others]
    dataset = datasets[0]
    for more in datasets[1:]:
        dataset = dataset.concatenate(more)
    sizes = [p.num_examples for p in parts]
    skipped = {}
    for p in parts:
        for reason, n in p.skipped.items():
            skipped[reason] = skipped.get(reason, 0) + n
    return Source(
        name=" + ".join(p.name for p in parts),
        dataset=dataset,
        num_examples=None if None in sizes else sum(sizes),
        has_labels=any(p.has_labels for p in parts),
        skipped=skipped,
        # The pipeline's own grey test runs unless every part was audited.
        audited=all(p.audited for p in parts),
        files=None,
    )


def parse_voc_annotation(xml_text, class_names=VOC_CLASSES):
    """Dominant class id (largest total box area; -1 if no known object) and multi-hot.

    Args:
      xml_text: the contents of a VOC annotation XML file.

    Returns:
      (label int, multi_hot float32 (num_classes,)).
    """
    root = ElementTree.fromstring(xml_text)
    area = np.zeros(len(class_names), np.float64)
    present = np.zeros(len(class_names), np.float32)
    for obj in root.iter("object"):
        name = (obj.findtext("name") or "").strip().lower()
        if name not in class_names:
            continue
        box = obj.find("bndbox")
        if box is None:
            continue
        x0, y0, x1, y1 = (float(box.findtext(k, "0")) for k in ("xmin", "ymin", "xmax", "ymax"))
        class_id = class_names.index(name)
        area[class_id] += max(x1 - x0, 0.0) * max(y1 - y0, 0.0)
        present[class_id] = 1.0
    label = int(np.argmax(area)) if present.any() else -1
    return label, present


def from_voc_dir(path, split="train", audit=True, grey_chroma=DEFAULT_GREY_CHROMA):
    """A local VOCdevkit folder: JPEGImages/<id>.jpg, Annotations/<id>.xml,
    ImageSets/Main/<split>.txt. `path` may be the VOC20xx folder or a VOCdevkit holding one."""
    root = path
    if not os.path.isdir(os.path.join(root, "JPEGImages")) and os.path.isdir(root):
        candidates = sorted(d for d in os.listdir(root) if d.upper().startswith("VOC"))
        if candidates:
            root = os.path.join(root, candidates[-1])
    split_file = os.path.join(root, "ImageSets", "Main", f"{split}.txt")
    if not os.path.isfile(split_file):
        raise SourceError(
            f"voc_dir:{path}: no split file {split_file!r}. Expected a VOCdevkit folder with "
            f"JPEGImages/, Annotations/ and ImageSets/Main/{split}.txt."
        )
    with open(split_file) as f:
        ids = [line.split()[0] for line in f if line.strip()]
    paths, labels, multi_hot = [], [], []
    for image_id in ids:
        paths.append(os.path.join(root, "JPEGImages", f"{image_id}.jpg"))
        annotation = os.path.join(root, "Annotations", f"{image_id}.xml")
        try:
            with open(annotation, "rb") as f:
                label, present = parse_voc_annotation(f.read())
        except (OSError, ElementTree.ParseError):
            label, present = -1, np.zeros(NUM_VOC_CLASSES, np.float32)
        labels.append(label)
        multi_hot.append(present)
    return _file_source(
        f"voc_dir:{path} [{split}]",
        paths,
        np.asarray(labels, np.int64),
        np.asarray(multi_hot, np.float32).reshape(-1, NUM_VOC_CLASSES),
        audit,
        grey_chroma,
    )


def list_images(path, extensions=IMAGE_EXTENSIONS):
    """Every image file below `path` (names ending in one of `extensions`, any case),
    recursively, sorted."""
    found = []
    for directory, _, files in os.walk(path):
        for name in files:
            if name.lower().endswith(extensions):
                found.append(os.path.join(directory, name))
    return sorted(found)


def folder_split_of(path):
    """ "val" or "train" for an image file, from a salted CRC-32 of its file name alone.

    Only the name counts, not the folder it was found from, so a photo stays on the same side
    whether a run reads folder:photos or folder:photos/food101, and adding photos never moves
    another photo across the split.
    """
    name = os.path.basename(path).encode("utf-8")
    return "val" if zlib.crc32(_FOLDER_SPLIT_SALT + name) % FOLDER_VAL_MODULUS == 0 else "train"


def folder_class(path, root):
    """The VOC class id of an image below `root`, from the nearest folder between them (the
    folder `root` itself included) that is named after a VOC class or one of
    FOLDER_CLASS_ALIASES; -1 when none is."""
    # The named folder itself counts too, so that folder:photos and folder:photos/human_seg
    # give a photo in photos/human_seg/ the same label.
    below = os.path.relpath(os.path.dirname(path), root).split(os.sep)
    folders = [os.path.basename(os.path.abspath(root))] + [f for f in below if f != "."]
    for folder in reversed(folders):
        name = folder.lower()
        name = FOLDER_CLASS_ALIASES.get(name, name)
        if name in VOC_CLASSES:
            return VOC_CLASSES.index(name)
    return -1


def from_image_folder(path, split="all", audit=True, grey_chroma=DEFAULT_GREY_CHROMA):
    """Images below `path` (JPEG, PNG, BMP, GIF first frame, WebP) of one split.

    Args:
      path: a folder, searched recursively.
      split: "train", "val" (every tenth photo, `folder_split_of`) or "all".

    A photo below a folder named after a VOC class (dog/, horse/, person/) or an alias of one
    (human_seg/ holds people) is labelled with that class; every other photo has no label (-1).
    """
    if split not in FOLDER_SPLITS:
        raise SourceError(
            f"folder:{path}: no split {split!r}. Expected one of {', '.join(FOLDER_SPLITS)}."
        )
    if not os.path.isdir(path):
        raise SourceError(f"folder:{path}: not a directory. Expected a folder of images.")
    paths = list_images(path)
    if split != "all":
        paths = [p for p in paths if folder_split_of(p) == split]
        if not paths and list_images(path):
            raise SourceError(
                f"folder:{path}: its {split!r} split is empty (the val split holds one photo "
                f"in {FOLDER_VAL_MODULUS}, chosen by file name, so a few photos may all fall "
                "in train). Expected more photos, or split 'all' to use every photo."
            )
    if not paths:
        raise SourceError(
            f"folder:{path} [{split}]: no image files. Expected files ending in "
            f"{', '.join(IMAGE_EXTENSIONS)}."
        )
    n = len(paths)
    labels = np.array([folder_class(p, path) for p in paths], np.int64)
    multi_hot = np.zeros((n, NUM_VOC_CLASSES), np.float32)
    multi_hot[labels >= 0, labels[labels >= 0]] = 1.0
    name = f"folder:{path}" if split == "all" else f"folder:{path} [{split}]"
    return _file_source(name, paths, labels, multi_hot, audit, grey_chroma)


def skimage_photos():
    """The colour photos bundled with scikit-image, as uint8 RGB arrays (no network)."""
    import skimage.data

    photos = []
    for name in _SKIMAGE_PHOTOS:
        image = np.asarray(getattr(skimage.data, name)())
        if image.ndim == 3 and image.shape[-1] >= 3:
            photos.append(image[..., :3].astype(np.uint8))
    return photos


def from_skimage():
    """The scikit-image photos as a labelless source: the smoke preset's data."""
    encoded = [tf.io.encode_png(photo).numpy() for photo in skimage_photos()]
    n = len(encoded)
    dataset = tf.data.Dataset.from_tensor_slices(
        {
            "image_bytes": encoded,
            "label": np.full(n, -1, np.int32),
            "labels": np.zeros((n, NUM_VOC_CLASSES), np.float32),
        }
    )
    return Source("skimage", dataset, n, has_labels=False, skipped={}, audited=False)


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


def split_spec(spec):
    """ "A,B,C" -> ["A", "B", "C"] (empty parts dropped)."""
    return [part.strip() for part in spec.split(",") if part.strip()]


def has_splits(spec):
    """Whether a single source spec has named splits (skimage has one)."""
    return spec != "skimage"


FILE_PREFIXES = ("voc_dir:", "folder:")


def resolve_spec(spec, data_root=None):
    """The spec with every relative voc_dir:/folder: path joined to `data_root`.

    Absolute paths, TFDS names and skimage are left as they are; data_root None or ""
    leaves relative paths relative to the working directory.
    """
    parts = []
    for part in split_spec(spec):
        for prefix in FILE_PREFIXES:
            path = part[len(prefix) :]
            if part.startswith(prefix) and data_root and not os.path.isabs(path):
                part = prefix + os.path.join(data_root, path)
        parts.append(part)
    return ",".join(parts)


def expand_spec(spec, data_root=None):
    """The parts of a spec, each folder:DIR/* replaced by one folder:DIR/NAME part per
    subfolder NAME of DIR (sorted). Paths stay as written; DIR is looked up under
    `data_root` when relative. SourceError when DIR is not a folder."""
    parts = []
    for part in split_spec(spec):
        if not (part.startswith("folder:") and part.endswith("/*")):
            parts.append(part)
            continue
        folder = part[len("folder:") : -2]
        root = folder if os.path.isabs(folder) or not data_root else os.path.join(data_root, folder)
        if not os.path.isdir(root):
            raise SourceError(f"{part}: {root!r} is not a directory. Expected a folder of folders.")
        names = sorted(n for n in os.listdir(root) if os.path.isdir(os.path.join(root, n)))
        if not names:
            raise SourceError(f"{part}: {root!r} has no subfolder. Expected a folder of folders.")
        parts += [f"folder:{os.path.join(folder, name)}" for name in names]
    return parts


def load_source(
    spec,
    split="train",
    data_dir=None,
    download=False,
    audit=True,
    seed=0,
    data_root=None,
    balance=1.0,
):
    """Parses a source spec (see the module doc) and returns the `Source`.

    A comma-separated spec (or folder:DIR/*) loads every part's `split` and combines them
    (`combine_sources`, with `balance`). Relative voc_dir:/folder: paths are read under
    `data_root` (`resolve_spec`).
    """
    spec = resolve_spec(spec, data_root) if data_root else spec
    parts = expand_spec(spec)
    if len(parts) > 1:
        return combine_sources(
            [load_source(p, split, data_dir, download, audit) for p in parts], seed, balance
        )
    spec = parts[0] if parts else ""
    if not spec:
        raise SourceError(
            "Empty data set spec. Expected voc/2007, voc_dir:PATH, folder:PATH or skimage."
        )
    if spec == "skimage":
        return from_skimage()
    if spec.startswith("voc_dir:"):
        return from_voc_dir(spec[len("voc_dir:") :], split, audit=audit)
    if spec.startswith("folder:"):
        return from_image_folder(spec[len("folder:") :], split, audit=audit)
    if ":" in spec:
        raise SourceError(
            f"Unknown data set spec {spec!r}. Expected a TFDS name (voc/2007), voc_dir:PATH, "
            "folder:PATH or skimage."
        )
    return from_tfds(spec, split, data_dir, download)


def load_train_source(config):
    """The training source of a `TrainConfig`: its dataset's train split, read under its
    data_root, mixed by its seed. The one way every command loads training data."""
    return load_source(
        config.dataset,
        config.train_split,
        config.data_dir,
        seed=config.seed,
        data_root=config.data_root,
        balance=config.source_balance,
    )


def load_val_source(config):
    """The evaluation source of a `TrainConfig`, read under its data_root.

    An explicit val_dataset must load: a bad or empty one raises SourceError naming it. With
    none, the parts of the training spec that have a held-out split give their val split;
    where there is none (skimage, or too few photos for a folder's val split) the training
    photos are evaluated, with a warning.
    """
    if config.val_dataset:
        try:
            return load_source(
                config.val_dataset, config.val_split, config.data_dir, data_root=config.data_root
            )
        except SourceError as e:
            raise SourceError(f"val_dataset={config.val_dataset!r}: {e}") from None
    with_splits = [p for p in split_spec(config.dataset) if has_splits(p)]
    if with_splits:
        try:
            return load_source(
                ",".join(with_splits),
                config.val_split,
                config.data_dir,
                data_root=config.data_root,
            )
        except SourceError as e:
            log.warning("No %s split (%s); evaluating on the training photos.", config.val_split, e)
    else:
        log.warning("%s has no held-out split; evaluating on its training photos.", config.dataset)
    return load_train_source(config)
