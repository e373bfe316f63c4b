"""Sources read from files: VOCdevkit folders (voc_dir:PATH), folders of photos
(folder:PATH, labelled by folder names that are VOC classes or their aliases, with a
seeded val split), and the colour photos bundled with scikit-image. Every file is audited
(data_prep.audit) before use."""

import logging
import os
import xml.etree.ElementTree as ElementTree
import zlib

import numpy as np
import tensorflow as tf

from colorization.core.config import VOC_CLASSES
from data_prep.audit import DEFAULT_GREY_CHROMA, audit_files
from data_prep.source_types import NUM_VOC_CLASSES, Source, SourceError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".webp")
# Folder names that stand for a VOC class without being its name.
FOLDER_CLASS_ALIASES = {"human_seg": "person", "people": "person", "english_springer": "dog"}
# A folder's val split: photos whose salted file-name hash is 0 modulo FOLDER_VAL_MODULUS.
FOLDER_SPLITS = ("train", "val", "all")
FOLDER_VAL_MODULUS = 10
_FOLDER_SPLIT_SALT = b"colorization-val-split-v1:"
# Photos from scikit-image that ship inside the package (no download needed).
_SKIMAGE_PHOTOS = ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "retina")
log = logging.getLogger(__name__)


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
        dataset=files_dataset(paths, labels, multi_hot),
        num_examples=len(paths),
        has_labels=bool((labels >= 0).any()),
        skipped=skipped,
        audited=audit,
        files=(list(paths), np.asarray(labels), np.asarray(multi_hot)),
    )
    log.info("%s", source.summary())
    return source


def files_dataset(paths, labels, multi_hot):
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
