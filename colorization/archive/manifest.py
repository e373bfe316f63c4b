"""What made each output: a JSON-lines file beside the outputs (OUTPUT_DIR/manifest.jsonl).

One record per output:
    {"output": "a.png", "input": "/abs/path/a.jpg", "input_bytes": 12345,
     "input_mtime_ns": 1700000000000000000, "settings": {...}}
where settings holds the model's path, format and SHA-256, the network size S, the
temperature, the decoding, side_by_side and the hints. A run skips an input whose output
exists and whose record matches both the input file (size and modification time) and the
settings; it colours every other one again.

Records are appended (and flushed to disk) as each output is renamed into place, so a run
killed at any moment has recorded every output it finished; a torn last line is ignored.
At the end of a run the file is rewritten sorted by output name (atomically), so the command
line and the Beam pipeline leave the same file.
"""

import hashlib
import json
import os
import threading

MANIFEST_NAME = "manifest.jsonl"
# How ab at S/4 becomes the output's colour: the annealed mean, upsampled bilinearly (or
# edge-aware, colorization.core.guided) and joined with the photo's own L
# (colorization.inference.decoding.rgb_from_ab).
DECODING = "annealed_mean, bilinear ab, full-resolution L"


def decoding_of(edge):
    """The manifest's decoding text for a guided.EdgeAware setting."""
    if not edge.on:
        return DECODING
    return (
        f"annealed_mean, edge-aware ab (guided filter radius {edge.radius}, epsilon "
        f"{edge.epsilon:g}), full-resolution L"
    )


def model_sha256(path):
    """SHA-256 of a model: of the file, or of every file below a directory (names and
    contents, in sorted order), or of the files of a checkpoint prefix."""
    digest = hashlib.sha256()
    if os.path.isdir(path):
        files = []
        for folder, _, names in os.walk(path):
            files += [os.path.join(folder, n) for n in names]
        files = sorted(files)
    elif os.path.isfile(path):
        files = [path]
    else:  # a checkpoint prefix: ckpt-6 -> ckpt-6.index, ckpt-6.data-00000-of-00001
        folder, prefix = os.path.split(path)
        files = sorted(
            os.path.join(folder, n) for n in os.listdir(folder or ".") if n.startswith(prefix + ".")
        )
    root = path if os.path.isdir(path) else os.path.dirname(os.path.abspath(path))
    for name in files:
        digest.update(os.path.relpath(os.path.abspath(name), root).encode())
        with open(name, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()


def settings_of(colorizer, temperature, side_by_side=False, hints=None):
    """The settings that decide an output's pixels, as recorded in the manifest."""
    return {
        "model": os.path.abspath(colorizer.path),
        "model_format": colorizer.kind,
        "model_sha256": model_sha256(colorizer.path),
        "network_size": int(colorizer.network_size),
        "temperature": float(temperature),
        "decoding": decoding_of(colorizer.edge),
        "side_by_side": bool(side_by_side),
        "hints": [[int(x), int(y), [int(c) for c in rgb]] for x, y, rgb in hints]
        if hints
        else None,
    }


def input_identity(path):
    """(absolute path, size in bytes, modification time in ns) of an input file."""
    stat = os.stat(path)
    return os.path.abspath(path), stat.st_size, stat.st_mtime_ns


def record_of(input_path, output_name, settings):
    path, size, mtime = input_identity(input_path)
    return {
        "output": output_name,
        "input": path,
        "input_bytes": size,
        "input_mtime_ns": mtime,
        "settings": settings,
    }


class Manifest:
    """The manifest of one output folder: what it records, and appending to it."""

    def __init__(self, output_dir):
        self.path = os.path.join(output_dir, MANIFEST_NAME)
        self.records = {}
        if os.path.exists(self.path):
            with open(self.path, encoding="utf-8") as f:
                for line in f:
                    try:
                        record = json.loads(line)
                        self.records[record["output"]] = record
                    except (ValueError, KeyError, TypeError):
                        continue  # a line torn by a killed run
        self._lock = threading.Lock()
        self._file = None

    def is_current(self, input_path, output_name, settings, output_dir):
        """True when `output_name` exists and was made from this input, unchanged, with
        these settings."""
        record = self.records.get(output_name)
        if record is None or not os.path.exists(os.path.join(output_dir, output_name)):
            return False
        return record == record_of(input_path, output_name, settings)

    def add(self, record):
        """Appends one record and flushes it to disk (called once its output is in place)."""
        line = json.dumps(record, sort_keys=True) + "\n"
        with self._lock:
            if self._file is None:
                self._file = open(self.path, "a", encoding="utf-8")
            self._file.write(line)
            self._file.flush()
            os.fsync(self._file.fileno())
            self.records[record["output"]] = record

    def close(self):
        """Rewrites the manifest sorted by output name, keeping the records of outputs that
        exist (atomically: a temporary file renamed into place)."""
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None
            write_manifest(os.path.dirname(self.path), self.records.values())


def write_manifest(output_dir, records):
    """Writes OUTPUT_DIR/manifest.jsonl: the records of existing outputs, sorted by output."""
    path = os.path.join(output_dir, MANIFEST_NAME)
    kept = sorted(
        (r for r in records if os.path.exists(os.path.join(output_dir, r["output"]))),
        key=lambda r: r["output"],
    )
    temporary = f"{path}.partial-{os.getpid()}"
    with open(temporary, "w", encoding="utf-8") as f:
        for record in kept:
            f.write(json.dumps(record, sort_keys=True) + "\n")
    os.replace(temporary, path)
