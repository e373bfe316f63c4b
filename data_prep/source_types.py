"""What every data source gives the pipeline: a `Source`, whose dataset yields

    {"image_bytes": tf.string (an encoded JPEG/PNG/BMP/GIF/WebP),
     "label":       tf.int32 (), the dominant class id (largest total box area), -1 = none,
     "labels":      tf.float32 (num_classes,), multi-hot over the classes present}

Decoding happens later, in the pipeline's map, so that shuffling moves bytes, not pixels;
and `SourceError`, a data set that cannot be used.
"""

import dataclasses

import tensorflow as tf

from colorization.core.config import VOC_CLASSES

NUM_VOC_CLASSES = len(VOC_CLASSES)


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
