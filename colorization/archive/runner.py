"""The command line's pipeline over a list of photo files.

    reader threads: read_photo, prepare  ->  the network, a batch at a time (this thread)
        ->  writer threads: finish, PNG, rename into place, manifest record

Decoding, the colour maths and PNG encoding release Python's lock (Pillow, NumPy and
TensorFlow kernels), so the readers and writers keep both cores busy while the network runs.
At most `batch_size + 2 * workers` photos are read ahead and `2 * workers` wait to be
written, so memory does not grow with the number of photos.
"""

import collections
import os
import time
from concurrent.futures import ThreadPoolExecutor

from colorization.archive import manifest as manifest_lib
from colorization.archive.photo_files import (
    DEFAULT_MAX_PIXELS,
    PhotoError,
    read_photo,
    remove_partial_files,
    write_png,
)
from colorization.archive.progress import Progress, format_seconds
from colorization.archive.steps import DEFAULT_BATCH_SIZE, Steps
from colorization.archive.steps import side_by_side as join_side_by_side

DEFAULT_WORKERS = 2


def output_names(files):
    """OUTPUT_DIR file names for `files` in order: <stem>.png, and <stem>_1.png, ... when
    two inputs share a stem (a.jpg, a.png), so no output overwrites another."""
    names, used = [], set()
    for path in files:
        stem = os.path.splitext(os.path.basename(path))[0]
        name, n = f"{stem}.png", 1
        while name in used:
            name, n = f"{stem}_{n}.png", n + 1
        used.add(name)
        names.append(name)
    return names


def plan(files, output_dir, settings, overwrite=False):
    """Opens OUTPUT_DIR for a run (created if missing, temporary files of a killed run
    removed) and returns (its Manifest, [(path, output name)] to colour, [(path, output
    name)] kept as they are): an output is kept when the manifest says it was made from this
    input, unchanged, with these settings. The command line and Beam both start here."""
    os.makedirs(output_dir, exist_ok=True)
    remove_partial_files(output_dir)
    manifest = manifest_lib.Manifest(output_dir)
    todo, kept = [], []
    for path, name in zip(files, output_names(files), strict=True):
        current = not overwrite and manifest.is_current(path, name, settings, output_dir)
        (kept if current else todo).append((path, name))
    return manifest, todo, kept


class _Photo:
    __slots__ = ("path", "name", "original", "lightness", "small")

    def __init__(self, path, name, original, lightness, small):
        self.path, self.name, self.original = path, name, original
        self.lightness, self.small = lightness, small


def colorize_files(
    files,
    colorizer,
    output_dir,
    temperature=None,
    overwrite=False,
    side_by_side=False,
    hints=None,
    batch_size=DEFAULT_BATCH_SIZE,
    workers=DEFAULT_WORKERS,
    max_pixels=DEFAULT_MAX_PIXELS,
    stream=None,
):
    """Colours `files` into OUTPUT_DIR/<stem>.png with `colorizer` (a Colorizer).

    hints: [(x, y, (r, g, b))] for a single photo (a model trained with hints), or None.
    Returns {"written", "kept", "failed", "failures": [(path, why)], "seconds"}.
    """
    if hints is not None and len(files) != 1:
        raise ValueError(f"hints apply to one photo; {len(files)} inputs were given.")
    steps = Steps(colorizer, temperature, batch_size)
    settings = manifest_lib.settings_of(colorizer, steps.temperature, side_by_side, hints)
    manifest, todo, kept = plan(files, output_dir, settings, overwrite)
    progress = Progress(len(todo), stream=stream)
    failures = []
    written = 0

    def fail(path, why):
        failures.append((path, why))
        progress.write(f"error: {path}: {why}")
        progress.update()

    def load(path):
        rgb = read_photo(path, max_pixels)
        if hints is not None:
            return rgb, None, None
        lightness, small = steps.prepare(rgb)
        return (rgb if side_by_side else None), lightness, small

    def save(photo, ab):
        nonlocal written
        try:
            if hints is not None:
                coloured = colorizer.colorize(photo.original, steps.temperature, hints)
                if side_by_side:
                    coloured = join_side_by_side(coloured, photo.original)
            else:
                coloured = steps.finish(photo.lightness, ab, photo.original)
            write_png(os.path.join(output_dir, photo.name), coloured)
        except OSError as e:
            fail(photo.path, f"cannot write {photo.name} ({e})")
            return
        manifest.add(manifest_lib.record_of(photo.path, photo.name, settings))
        written += 1
        progress.update()

    start = time.perf_counter()
    window = batch_size + 2 * workers
    try:
        with (
            ThreadPoolExecutor(workers, thread_name_prefix="read") as readers,
            ThreadPoolExecutor(workers, thread_name_prefix="write") as writers,
        ):
            pending = iter(todo)
            reads = collections.deque()
            writes = collections.deque()

            def read_ahead():
                while len(reads) < window:
                    item = next(pending, None)
                    if item is None:
                        return
                    reads.append((item, readers.submit(load, item[0])))

            def run_batch(batch):
                if hints is not None:
                    abs_ = [None] * len(batch)
                else:
                    abs_ = steps.network_ab([p.small for p in batch])
                for photo, ab in zip(batch, abs_, strict=True):
                    writes.append(writers.submit(save, photo, ab))
                    if hints is None:
                        photo.small = None
                while len(writes) > 2 * workers:
                    writes.popleft().result()

            batch = []
            read_ahead()
            while reads:
                (path, name), future = reads.popleft()
                read_ahead()
                try:
                    original, lightness, small = future.result()
                except PhotoError as e:
                    fail(path, str(e))
                    continue
                batch.append(_Photo(path, name, original, lightness, small))
                if len(batch) == batch_size:
                    run_batch(batch)
                    batch = []
            if batch:
                run_batch(batch)
            while writes:
                writes.popleft().result()
    finally:
        manifest.close()
        progress.close()
    seconds = time.perf_counter() - start
    summary = {
        "written": written,
        "kept": len(kept),
        "failed": len(failures),
        "failures": failures,
        "seconds": seconds,
    }
    return summary


def summary_lines(summary):
    """The end-of-run report: counts, time and rate, then each failure with why."""
    rate = summary["written"] / summary["seconds"] if summary["seconds"] > 0 else 0.0
    lines = [
        f"Done: {summary['written']} written, {summary['kept']} kept (made before with the "
        f"same model and settings), {summary['failed']} failed, in "
        f"{format_seconds(summary['seconds'])} ({rate:.1f} photos/s)."
    ]
    lines += [f"  failed: {path}: {why}" for path, why in summary["failures"]]
    return lines
