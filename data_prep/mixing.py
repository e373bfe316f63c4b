"""Several sources as one training source, and the share of each epoch each one gets."""

import logging

import numpy as np

from data_prep.file_sources import files_dataset
from data_prep.source_types import NUM_VOC_CLASSES, Source

log = logging.getLogger(__name__)


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
        datasets.append(files_dataset(paths, labels[order], multi_hot[order]))
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
