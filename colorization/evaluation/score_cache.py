"""Coloured photos kept on disk between evaluation runs, so a model scored again on the same
photos (a screening reference beside every variant, a learning curve scored twice) is not
run again.

An entry is one photo coloured by one model with one decoding: its uint8 RGB and class
probabilities, in CACHE_DIR/METHOD/PHOTO.npz. METHOD is a digest of everything that decides
the colours: the bytes of the files the model is read from (`model_fingerprint`), the
settings of the Colorizer (temperature, network size, precision, edge-aware decoding), the
hint count, and the source of the packages that colour (so a change of the decoding code
is never answered from an old entry). PHOTO is a digest of the photo's pixels. The
scores are computed from the cached colours each time, so a change of the metrics needs no
clearing either.

Entries are written whole (a temporary file renamed into place): a killed run leaves
nothing half written, and an unreadable entry is coloured again.
"""

import functools
import glob
import hashlib
import os

import numpy as np

# Packages whose code decides the colours a model gives.
_COLOURING_PACKAGES = ("core", "inference", "model")


def _digest_files(paths, digest):
    for path in sorted(paths):
        digest.update(os.path.basename(path).encode())
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                digest.update(chunk)


def model_files_of(path):
    """The files a model at `path` is read from (any path inference.Colorizer takes),
    with the config.json that decides its decoding, sorted."""
    from colorization.model import model_files

    path = os.path.normpath(path)
    if os.path.isdir(path) and os.path.exists(os.path.join(path, "saved_model.pb")):
        files = [os.path.join(folder, name) for folder, _, names in os.walk(path) for name in names]
    else:
        source = model_files.weights_path(path)
        if os.path.isfile(source):
            files = [source]
        else:  # a checkpoint prefix
            files = glob.glob(glob.escape(source) + ".index") + glob.glob(
                glob.escape(source) + ".data-*"
            )
            if not files:
                raise ValueError(f"no model files at {path!r}.")
    config = model_files.nearest_config_path(path)
    if config is not None:
        files.append(config)
    return sorted(set(files))


def model_fingerprint(path):
    """Hex digest of the bytes of `model_files_of(path)`."""
    digest = hashlib.sha256()
    _digest_files(model_files_of(path), digest)
    return digest.hexdigest()


@functools.cache
def code_fingerprint():
    """Hex digest of the source of the packages that colour a photo."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    digest = hashlib.sha256()
    for package in _COLOURING_PACKAGES:
        files = glob.glob(os.path.join(root, package, "**", "*.py"), recursive=True)
        _digest_files(files, digest)
    return digest.hexdigest()


def method_key(colorizer, hint_count=0):
    """The digest naming what `colorizer` (an inference.Colorizer) gives with `hint_count`
    hints a photo."""
    edge = colorizer.edge
    settings = (
        f"model={model_fingerprint(colorizer.path)} kind={colorizer.kind} "
        f"temperature={colorizer.temperature!r} size={colorizer.network_size} "
        f"precision={colorizer.precision} edge={edge.radius}/{edge.epsilon!r} "
        f"hints={hint_count} code={code_fingerprint()}"
    )
    return hashlib.sha256(settings.encode()).hexdigest()[:24]


def photo_key(image):
    """The digest of a photo's pixels and shape."""
    image = np.ascontiguousarray(image)
    digest = hashlib.sha256(repr((image.shape, str(image.dtype))).encode())
    digest.update(image.tobytes())
    return digest.hexdigest()[:32]


class ScoreCache:
    """Counts its hits and misses; `cached(colorize, key)` wraps a colorize_batch."""

    def __init__(self, folder):
        self.folder = folder
        self.hits = 0
        self.misses = 0

    def path(self, key, image):
        """Where the entry of `image` under the method `key` is kept."""
        return os.path.join(self.folder, key, photo_key(image) + ".npz")

    @staticmethod
    def read(path, image):
        """{"rgb": (1, H, W, 3), ["class_probs"]} of the entry at `path` for `image`, or
        None."""
        try:
            with np.load(path) as entry:
                out = {name: entry[name] for name in entry.files}
        except (OSError, ValueError, EOFError):
            return None  # absent or unreadable: coloured again
        if out.get("rgb") is None or out["rgb"].shape[1:3] != image.shape[1:3]:
            return None
        return out

    @staticmethod
    def write(path, out):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        arrays = {"rgb": np.asarray(out["rgb"], np.uint8)}
        if out.get("class_probs") is not None:
            arrays["class_probs"] = np.asarray(out["class_probs"], np.float32)
        partial = f"{path}.{os.getpid()}.partial"
        with open(partial, "wb") as f:
            np.savez_compressed(f, **arrays)
        os.replace(partial, path)

    def cached(self, colorize, key):
        """colorize_batch (uint8 (1, H, W, 3) -> dict) answered from the cache where it can."""

        def run(images):
            path = self.path(key, images)
            out = self.read(path, images)
            if out is not None:
                self.hits += 1
                return out
            self.misses += 1
            out = colorize(images)
            self.write(path, out)
            return out

        return run
