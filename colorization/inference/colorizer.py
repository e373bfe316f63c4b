"""The Colorizer: a trained model of any format colouring photos of any size (its
backends: colorization.inference.backends; the TensorFlow maths around the network:
colorization.inference.decoding)."""

import os

import numpy as np
import tensorflow as tf

from colorization.core import bins, guided
from colorization.core.config import checked_temperature
from colorization.inference import backends
from colorization.inference.tflite_runner import padded, parse_hints

# The trained colorizer that ships with the package (a model_dir: config.json, priors.npz,
# model.keras, summary.json); every command uses it when no model is given.
DEFAULT_MODEL = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained"
)


class Colorizer:
    """Colorizes images of any size with a trained model.

    Loads a `.keras` file, a training model_dir (or a checkpoint inside it), an exported
    SavedModel directory, or a `.tflite` file, each through its backend; with no path, the
    colorizer shipped with the package. `colorize(image)` takes uint8 (H, W, 1 or 3) and
    returns uint8 (H, W, 3) at the same size:

        from colorization.inference import Colorizer
        coloured = Colorizer().colorize(grey_photo)
    """

    def __init__(
        self,
        path=None,
        temperature=None,
        num_threads=None,
        image_size=None,
        precision="float32",
        edge_radius=None,
        edge_epsilon=None,
    ):
        """temperature: annealed-mean temperature; None = the one in the config.json of the
        model_dir, or beside an exported file (the shipped model's was chosen on training
        photos), else bins.DEFAULT_TEMPERATURE.
        image_size: colour at this network input size S instead of the model's own (Keras
        models from a model_dir only; weights do not depend on S).
        precision: "float32", "bfloat16" (the network under mixed_bfloat16: bfloat16
        convolutions, float32 outputs; Keras models from a model_dir) or "auto" (bfloat16
        where the CPU has bf16 dot products, colorization.core.hardware).
        edge_radius, edge_epsilon: how ab is upsampled to the photo (colorization.core.guided:
        radius 0 = bilinear, else edge-aware); None = the model's config.json (bilinear
        when it has none). Exported files decode as they were exported (their config.json
        records it); asking them for another setting is an error."""
        from colorization.core import hardware
        from colorization.model import model_files

        self.path = str(path or DEFAULT_MODEL)
        if not model_files.exists(self.path):
            raise ValueError(
                f"model {self.path!r} does not exist. Expected a .keras file, a training "
                "model_dir (or a checkpoint prefix in it), a SavedModel directory or a "
                ".tflite file."
            )
        temperature = checked_temperature(temperature)
        resolved = hardware.resolve_precision(precision)  # validates every kind
        exported = self.path.endswith(".tflite") or tf.saved_model.contains_saved_model(self.path)
        if image_size and exported:
            raise ValueError(
                f"image_size applies to Keras models; {self.path!r} is exported at a fixed size."
            )
        # Exported files keep their own precision ("auto" leaves them as they are); only
        # Keras models are rebuilt.
        if precision == "bfloat16" and exported:
            raise ValueError(f"precision=bfloat16 applies to Keras models, not {self.path!r}.")
        self.precision = "float32" if exported else resolved
        # The model's config.json (exports carry their model's beside them): its
        # temperature, class names and decoding apply to every format.
        config = model_files.nearest_config(self.path)
        if temperature is not None:
            self.temperature = float(temperature)
        elif config is not None:
            self.temperature = float(config.temperature)
        else:
            self.temperature = bins.DEFAULT_TEMPERATURE
        self.class_names = list(config.model.class_names) if config is not None else None
        recorded = guided.resolve(config)
        self.edge = guided.resolve(config, edge_radius, edge_epsilon)
        if exported and self.edge != recorded:
            raise ValueError(
                f"{self.path!r} decodes ab as it was exported (edge_radius={recorded.radius}, "
                f"edge_epsilon={recorded.epsilon:g}, its config.json); received "
                f"edge_radius={self.edge.radius}, edge_epsilon={self.edge.epsilon:g}. "
                "Export it again with the setting, or colour with the Keras model."
            )
        if self.path.endswith(".tflite"):
            self.backend = backends.TFLiteBackend(self.path, num_threads)
        elif exported:
            recorded_temperature = (
                float(config.temperature) if config is not None else bins.DEFAULT_TEMPERATURE
            )
            self.backend = backends.SavedModelBackend(self.path, recorded_temperature)
        else:
            self.backend = backends.KerasBackend(self.path, image_size, self.precision, self.edge)

    @property
    def kind(self):
        """ "keras", "saved_model" or "tflite": the backend's model format."""
        return self.backend.kind

    @property
    def model(self):
        """The Keras model (Keras backend only)."""
        return self.backend.model

    @property
    def image_size(self):
        """S of a Keras model (None for exported formats)."""
        return self.backend.image_size if self.kind == "keras" else None

    @property
    def network_size(self):
        """S, the side of the square the network sees, for every format."""
        return self.backend.image_size

    def network_ab(self, lightness, temperature=None):
        """The network alone, for callers that prepare and finish photos themselves
        (colorization.archive): L (batch, S, S, 1) in [0, 100] -> automatic ab (batch, S/4,
        S/4, 2), float32. temperature: default the colorizer's."""
        temperature = self.temperature if temperature is None else float(temperature)
        return self.backend.network_ab(np.asarray(lightness, np.float32), temperature)

    @property
    def takes_hints(self):
        """Whether the model follows colour hints (a network built with hints)."""
        return self.backend.takes_hints

    def colorize_batch(self, images, temperature=None, hints=None):
        """uint8 (batch, H, W, C) -> dict with "rgb" uint8 (batch, H, W, 3) and, when known,
        "class_probs". temperature: this call's annealed-mean temperature (default: the
        colorizer's). hints: per photo, a list of (x, y, (r, g, b)) in its pixels (see
        `parse_hints`), or None for automatic colour; lists that are all empty are
        automatic colour from any model."""
        images = np.asarray(images)
        temperature = self.temperature if temperature is None else checked_temperature(temperature)
        if hints is None:
            return self.backend.colorize(images, temperature)
        if len(hints) != len(images):
            raise ValueError(
                f"hints must hold one list per photo: {len(images)} photos, {len(hints)} lists."
            )
        height, width = images.shape[1:3]
        parsed = [parse_hints(h, height, width) for h in hints]
        count = max(len(p) for p, _ in parsed)
        if count == 0:
            return self.backend.colorize(images, temperature)
        if not self.takes_hints:
            raise ValueError(
                f"model {self.path!r} takes no colour hints (it was built without them); "
                "expected a model trained with --hints."
            )
        pairs = [padded(p, c, count) for p, c in parsed]
        points = np.stack([p for p, _ in pairs])
        colours = np.stack([c for _, c in pairs])
        return self.backend.colorize(images, temperature, points, colours)

    def colorize(self, image, temperature=None, hints=None):
        """uint8 (H, W) or (H, W, 1 or 3) -> uint8 (H, W, 3).

        hints: [(x, y, (r, g, b)), ...]: pixels of the photo and the colours they should have
        (a model trained with hints follows them); None or [] = automatic colour, from any
        model.
        """
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[..., None]
        return self.colorize_batch(image[None], temperature, None if hints is None else [hints])[
            "rgb"
        ][0]
