"""From model outputs to coloured images, in TensorFlow ops shared by evaluation, the
colorize CLI and the exported graphs.

The network sees L resized to S x S and predicts ab at S/4 x S/4. The ab map is decoded
with the annealed mean, upsampled to the ORIGINAL resolution and joined with the ORIGINAL
full-resolution L, so no detail of the photo is lost to the network's resolution. The
upsampling is bilinear, or edge-aware (colorization.core.guided: ab fitted locally as a
linear function of L, so colour edges follow the photo's edges) when the model's config
or the caller asks for it.
"""

import os

import numpy as np
import tensorflow as tf

from colorization.core import bins, color, guided
from colorization.core import hints as hint_maps
from colorization.inference.hint_points import padded, parse_hints
from colorization.model.network import input_size, model_inputs

# The trained colorizer that ships with the package (a model_dir: config.json, priors.npz,
# model.keras, summary.json); every command uses it when no model is given.
DEFAULT_MODEL = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "pretrained"
)


def model_input(lightness, image_size):
    """L (batch, H, W, 1) in [0, 100] resized to the model's (batch, S, S, 1).

    The whole image is squeezed into the square (no crop), so every pixel gets a colour.
    """
    return tf.image.resize(lightness, [image_size, image_size], antialias=True)


def decode_ab(color_logits, height, width, temperature=bins.DEFAULT_TEMPERATURE):
    """Annealed-mean ab of logits (batch, h, w, 313), upsampled to (batch, height, width, 2)."""
    ab = bins.annealed_mean_from_logits(color_logits, temperature)
    return tf.image.resize(ab, tf.stack([height, width]), method="bilinear")


def compose_rgb(
    lightness,
    color_logits,
    temperature=bins.DEFAULT_TEMPERATURE,
    network_lightness=None,
    edge=guided.OFF,
):
    """Full-resolution RGB from full-resolution L and the model's colour logits.

    Args:
      lightness: float (batch, H, W, 1), L in [0, 100], at the original resolution.
      color_logits: float (batch, h, w, 313).
      temperature: annealed-mean temperature.
      network_lightness: the L the network saw (batch, S, S, 1); needed when `edge` is on.
      edge: `guided.EdgeAware` (default off: bilinear upsampling).

    Returns:
      (rgb float32 (batch, H, W, 3) in [0, 1], ab float32 (batch, H, W, 2)).
    """
    ab = bins.annealed_mean_from_logits(color_logits, temperature)
    return rgb_from_ab(lightness, ab, network_lightness, edge)


def rgb_from_ab(lightness, ab, network_lightness=None, edge=guided.OFF):
    """`compose_rgb` from decoded ab: full-resolution L (batch, H, W, 1) and ab at the
    network's resolution (batch, h, w, 2) -> (rgb (batch, H, W, 3) in [0, 1], ab upsampled
    to (batch, H, W, 2): bilinear, or guided by L when `edge` is on, which needs the L the
    network saw, `network_lightness` (batch, S, S, 1))."""
    lightness = tf.cast(lightness, tf.float32)
    ab = tf.cast(ab, tf.float32)
    if edge.on:
        if network_lightness is None:
            raise ValueError("edge-aware decoding needs the L the network saw.")
        ab = guided.apply(*guided.coefficients(ab, network_lightness, edge), lightness)
    else:
        shape = tf.shape(lightness)
        ab = tf.image.resize(ab, tf.stack([shape[1], shape[2]]), method="bilinear")
    rgb = color.lab_to_rgb(tf.concat([lightness, ab], axis=-1))
    return rgb, ab


to_uint8 = color.to_uint8


def lightness_to_grey(lightness):
    """uint8 grey (batch, S, S, 1) whose L is `lightness` (batch, S, S, 1): what the TFLite
    graphs take."""
    return color.to_uint8(color.lightness_to_rgb(tf.convert_to_tensor(lightness))[..., :1]).numpy()


def to_rgb(image):
    """uint8 (batch, H, W, C) with C = 1 (grey), 3 (RGB) or 4 (RGBA, alpha dropped) -> (.., 3).

    The channel count may be unknown when the graph is traced (SavedModel signatures).
    """
    channels = tf.shape(image)[-1]
    rgb = tf.cond(
        tf.equal(channels, 1),
        lambda: tf.tile(image[..., :1], [1, 1, 1, 3]),
        lambda: image[..., :3],
    )
    rgb.set_shape(image.shape[:-1].concatenate([3]))
    return rgb


def rgb_to_model_lightness(image):
    """uint8 (batch, H, W, 1, 3 or 4) -> full-resolution L (batch, H, W, 1) in [0, 100].

    Colour inputs are made grey first: only their L is kept.
    """
    rgb = tf.cast(to_rgb(tf.convert_to_tensor(image, tf.uint8)), tf.float32) / 255.0
    return color.rgb_to_lightness(rgb)


def colorize_tensor(
    model, image, temperature=bins.DEFAULT_TEMPERATURE, network=None, hints=None, edge=guided.OFF
):
    """The whole inference path in TF ops: uint8 image in, coloured uint8 image out.

    Args:
      model: a Keras model mapping L (batch, S, S, 1) (and, when it takes hints, hint maps)
        to {"color_logits", ["class_logits"]}.
      image: uint8 (batch, H, W, 1 or 3), any H and W.
      temperature: annealed-mean temperature.
      network: what runs the fixed-size forward pass on the model's inputs; default
        `model(inputs, training=False)`. The SavedModel passes an XLA-compiled function
        here, so only the network (fixed S) is compiled, not the photo-sized maths.
      hints: float32 (batch, S, S, 3) hint maps (colorization.core.hints) for a model that
        takes them; None = none (automatic colour).
      edge: `guided.EdgeAware`, how ab is upsampled (default bilinear).

    Returns:
      {"rgb": uint8 (batch, H, W, 3), "ab": float32 (batch, H, W, 2),
       "class_probs": float32 (batch, num_classes) when the model has a class branch}.
    """
    lightness = rgb_to_model_lightness(image)
    image_size = input_size(model)
    network = network or (lambda inputs: model(inputs, training=False))
    small = model_input(lightness, image_size)
    outputs = network(model_inputs(model, small, hints))
    logits = tf.cast(outputs["color_logits"], tf.float32)
    rgb, ab = compose_rgb(lightness, logits, temperature, small, edge)
    result = {"rgb": to_uint8(rgb), "ab": ab}
    if "class_logits" in outputs:
        result["class_probs"] = tf.nn.softmax(tf.cast(outputs["class_logits"], tf.float32), axis=-1)
    return result


class KerasBackend:
    """A Keras model (.keras, training model_dir or a checkpoint in it), traced once per
    input shape. Only Keras models can be rebuilt at another size or precision."""

    kind = "keras"

    def __init__(self, path, image_size=None, precision="float32"):
        from colorization.model import model_files

        # How ab is upsampled; the Colorizer sets it from the config or its caller.
        self.edge = guided.OFF

        self.model, config = model_files.load_model_dir(path)
        self.config = config
        if image_size and image_size != input_size(self.model):
            if config is None:
                raise ValueError(
                    f"image_size={image_size} needs a model_dir (its config.json rebuilds "
                    f"the network at another size); {path!r} has none."
                )
            from colorization.model.network import at_image_size

            self.model = at_image_size(self.model, config.model, image_size)
        if precision == "bfloat16":
            if config is None:
                raise ValueError(
                    f"precision=bfloat16 needs a model_dir (its config.json rebuilds the "
                    f"network under mixed_bfloat16); {path!r} has none."
                )
            from colorization.model.network import with_dtype_policy

            self.model = with_dtype_policy(self.model, config.model, "mixed_bfloat16")
        self.takes_hints = isinstance(self.model.input, dict)
        self.image_size = input_size(self.model)
        self._run = tf.function(
            lambda image, temperature, hints: colorize_tensor(
                self.model, image, temperature, hints=hints, edge=self.edge
            ),
            reduce_retracing=True,
            autograph=False,  # straight TensorFlow: traced as written
        )
        self._network_ab = tf.function(
            lambda lightness, temperature: bins.annealed_mean_from_logits(
                self.model(model_inputs(self.model, lightness), training=False)["color_logits"],
                temperature,
            ),
            input_signature=[
                tf.TensorSpec([None, self.image_size, self.image_size, 1], tf.float32),
                tf.TensorSpec([], tf.float32),
            ],
            autograph=False,
        )

    def network_ab(self, lightness, temperature):
        """The network alone: L (batch, S, S, 1) in [0, 100] -> automatic ab (batch, S/4,
        S/4, 2), float32 NumPy."""
        return self._network_ab(
            tf.convert_to_tensor(lightness, tf.float32), tf.constant(temperature, tf.float32)
        ).numpy()

    def colorize_batch(self, images, temperature, hints=None):
        """hints: hint maps (batch, S, S, 3) or None (automatic colour)."""
        if hints is None and self.takes_hints:
            hints = hint_maps.no_hints(len(images), self.image_size)
        out = self._run(
            tf.constant(images, tf.uint8),
            tf.constant(temperature, tf.float32),
            None if hints is None else tf.convert_to_tensor(hints, tf.float32),
        )
        return {k: v.numpy() for k, v in out.items()}

    def colorize_hints(self, images, temperature, hints):
        """hints: per photo, a list of (x, y, (r, g, b)) in its pixels (parse_hints)."""
        height, width = images.shape[1:3]
        maps = tf.stack(
            [
                hint_maps.user_hint_map(
                    *parse_hints(h, height, width), height, width, self.image_size
                )
                for h in hints
            ]
        )
        return self.colorize_batch(images, temperature, maps)


class SavedModelBackend:
    """An exported SavedModel directory, through its colorize_with_temperature signature
    (and colorize_with_hints for a model that takes hints)."""

    kind = "saved_model"
    config = None

    def __init__(self, path):
        signatures = tf.saved_model.load(path).signatures
        self._signature = signatures["colorize_with_temperature"]
        self._hinted = signatures.get("colorize_with_hints")
        self.takes_hints = self._hinted is not None
        self._logits = signatures.get("logits")
        self.image_size = (
            int(self._logits.structured_input_signature[1]["L"].shape[1])
            if self._logits is not None
            else None
        )

    def network_ab(self, lightness, temperature):
        """The network alone (the `logits` signature, then the annealed mean): L (batch, S,
        S, 1) -> ab (batch, S/4, S/4, 2)."""
        if self._logits is None:
            raise ValueError(
                "this SavedModel has no `logits` signature (the network alone); export it "
                "again with `python -m export`."
            )
        logits = self._logits(L=tf.constant(lightness, tf.float32))["color_logits"]
        return bins.annealed_mean_from_logits(logits, temperature).numpy()

    def colorize_batch(self, images, temperature):
        out = self._signature(
            image=tf.constant(images, tf.uint8), temperature=tf.constant(temperature, tf.float32)
        )
        return {k: v.numpy() for k, v in out.items()}

    def colorize_hints(self, images, temperature, hints):
        """Hints go through the colorize_with_hints signature, whose temperature is the one
        the model was exported with; the batch's lists are padded to one length."""
        height, width = images.shape[1:3]
        parsed = [parse_hints(h, height, width) for h in hints]
        count = max(len(p) for p, _ in parsed)
        pairs = [padded(p, c, count) for p, c in parsed]
        out = self._hinted(
            image=tf.constant(images, tf.uint8),
            hint_points=tf.constant(np.stack([p for p, _ in pairs]).reshape(len(images), -1, 2)),
            hint_rgb=tf.constant(np.stack([c for _, c in pairs]).reshape(len(images), -1, 3)),
        )
        return {k: v.numpy() for k, v in out.items()}


class TFLiteBackend:
    """A colorizer .tflite file, run by LiteRT one photo at a time."""

    kind = "tflite"
    config = None

    def __init__(self, path, num_threads=None):
        from colorization.inference.tflite_runner import TFLiteColorizer

        self._runner = TFLiteColorizer(path, num_threads=num_threads)
        self.takes_hints = self._runner.takes_hints
        self.image_size = self._runner.size

    def network_ab(self, lightness, temperature):
        """The graph alone, one photo at a time: L (batch, S, S, 1) -> ab (batch, S/4, S/4,
        2). The graph takes the grey photo of that L as uint8, as the runner gives it."""
        return np.stack(
            [self._runner.network_ab(grey, temperature) for grey in lightness_to_grey(lightness)]
        )

    def colorize_batch(self, images, temperature, hints=None):
        """hints: per photo, a list of (x, y, (r, g, b)), or None."""
        hints = hints or [None] * len(images)
        outs = [
            self._runner.colorize(im, temperature, h) for im, h in zip(images, hints, strict=True)
        ]
        return {
            "rgb": np.stack([o[0] for o in outs]),
            "class_probs": np.stack([o[1] for o in outs]),
        }

    def colorize_hints(self, images, temperature, hints):
        # The runner checks each list as parse_hints does (it is the same code).
        return self.colorize_batch(images, temperature, hints)


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
        if temperature is not None and not float(temperature) > 0:
            raise ValueError(f"temperature must be > 0. Received: temperature={temperature}")
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
        if self.path.endswith(".tflite"):
            self.backend = TFLiteBackend(self.path, num_threads)
        elif exported:
            self.backend = SavedModelBackend(self.path)
        else:
            self.backend = KerasBackend(self.path, image_size, self.precision)
        # Exported files (SavedModel, TFLite) carry their model's config.json beside them:
        # its temperature and class names apply to them as to the model directory.
        config = self.backend.config or model_files.nearest_config(self.path)
        if temperature is not None:
            self.temperature = float(temperature)
        elif config is not None:
            self.temperature = float(config.temperature)
        else:
            self.temperature = bins.DEFAULT_TEMPERATURE
        # The temperature an export was written with (its config.json's).
        self._recorded_temperature = (
            float(config.temperature) if config is not None else bins.DEFAULT_TEMPERATURE
        )
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
        # Set before the first call: the Keras backend traces its graph with it.
        self.backend.edge = self.edge

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
        return bool(getattr(self.backend, "takes_hints", False))

    def colorize_batch(self, images, temperature=None, hints=None, hint_maps_given=None):
        """uint8 (batch, H, W, C) -> dict with "rgb" uint8 (batch, H, W, 3) and, when known,
        "class_probs". temperature: this call's annealed-mean temperature (default: the
        colorizer's). hints: per photo, a list of (x, y, (r, g, b)) (see `parse_hints`), or
        None for automatic colour; hint_maps_given: instead, ready hint maps (batch, S, S, 3)
        at the network's size (evaluation draws them from the truth)."""
        images = np.asarray(images)
        temperature = self.temperature if temperature is None else float(temperature)
        if hints is not None and len(hints) == len(images) and not any(len(h) for h in hints):
            hints = None  # no point on any photo: automatic colour, whatever the model
        if hints is None and hint_maps_given is None:
            return self.backend.colorize_batch(images, temperature)
        if not self.takes_hints:
            raise ValueError(
                f"model {self.path!r} takes no colour hints (it was built without them); "
                "expected a model trained with --hints."
            )
        if hint_maps_given is not None:
            if self.kind != "keras":
                raise ValueError(
                    "ready hint maps (evaluation's hint counts) need a Keras model; "
                    f"{self.path!r} is a {self.kind} export."
                )
            return self.backend.colorize_batch(images, temperature, hint_maps_given)
        if len(hints) != len(images):
            raise ValueError(
                f"hints must hold one list per photo: {len(images)} photos, {len(hints)} lists."
            )
        if self.kind == "saved_model" and temperature != self._recorded_temperature:
            raise ValueError(
                "a SavedModel colours hints at the temperature it was exported with "
                f"({self._recorded_temperature:g}); received temperature={temperature:g}."
            )
        return self.backend.colorize_hints(images, temperature, hints)

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
