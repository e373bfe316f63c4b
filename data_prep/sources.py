"""Source specs, and loading the `Source` (data_prep.source_types) each one names.

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

import logging
import os

from data_prep.file_sources import from_image_folder, from_skimage, from_voc_dir
from data_prep.mixing import combine_sources
from data_prep.source_types import SourceError
from data_prep.tfds_sources import from_tfds

log = logging.getLogger(__name__)


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
