"""Decoding photos, telling grey ones apart, and auditing files before a run uses them:
empty, unreadable and already-grey files are skipped and counted, so one bad file never
stops a run. Verdicts are kept for the life of the process, so a command that reads the
same photos twice decodes them once."""

import logging
import os

import numpy as np
import tensorflow as tf

from colorization.core import color

# An image whose every pixel (of a 64-pixel thumbnail) has chroma |ab| below this is grey.
DEFAULT_GREY_CHROMA = 5.0
_THUMBNAIL_SIZE = 64
log = logging.getLogger(__name__)


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
