"""The three model formats a Colorizer runs, behind one interface.

Every backend answers the same two calls, so that nothing above it asks which format it
holds:

  colorize(images, temperature, points, colours) -> {"rgb", "class_probs", ...}
      images uint8 (batch, H, W, C); temperature the annealed mean's (> 0); points float32
      (batch, N, 2), (x, y) in pixels of each photo, rows at a negative coordinate being
      padding, and colours uint8 (batch, N, 3) the sRGB colour each point should have;
      points=None is automatic colour. Hints are checked and padded before they get here
      (colorization.inference.tflite_runner.parse_hints and padded), and every format
      rasterises them with colorization.core.hints.user_hint_map at its own S.
  network_ab(lightness, temperature) -> ab (batch, S/4, S/4, 2)
      the network alone on L (batch, S, S, 1) in [0, 100], for callers that prepare and
      finish photos themselves (colorization.archive).

and say `kind` ("keras", "saved_model", "tflite"), `image_size` (S) and `takes_hints`.
"""

import numpy as np
import tensorflow as tf

from colorization.core import bins, guided
from colorization.core import hints as hint_maps
from colorization.inference.decoding import colorize_tensor, lightness_to_grey
from colorization.model.network import input_size, model_inputs, takes_hints


class KerasBackend:
    """A Keras model (.keras, training model_dir or a checkpoint in it), traced once per
    input shape. Only Keras models can be rebuilt at another size or precision."""

    kind = "keras"

    def __init__(self, path, image_size=None, precision="float32", edge=guided.OFF):
        from colorization.model import model_files

        self.model, config = model_files.load_model_dir(path)
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
        self.takes_hints = takes_hints(self.model)
        self.image_size = input_size(self.model)
        size = self.image_size

        def run(image, temperature, points, colours):
            maps = None
            if points is not None:
                shape = tf.shape(image)
                maps = hint_maps.photo_hint_maps(points, colours, shape[1], shape[2], size)
            return colorize_tensor(self.model, image, temperature, hints=maps, edge=edge)

        # Straight TensorFlow (autograph off): traced as written.
        self._run = tf.function(run, reduce_retracing=True, autograph=False)
        self._network_ab = tf.function(
            lambda lightness, temperature: bins.annealed_mean_from_logits(
                self.model(model_inputs(self.model, lightness), training=False)["color_logits"],
                temperature,
            ),
            input_signature=[
                tf.TensorSpec([None, size, size, 1], tf.float32),
                tf.TensorSpec([], tf.float32),
            ],
            autograph=False,
        )

    def network_ab(self, lightness, temperature):
        return self._network_ab(
            tf.convert_to_tensor(lightness, tf.float32), tf.constant(temperature, tf.float32)
        ).numpy()

    def colorize(self, images, temperature, points=None, colours=None):
        out = self._run(
            tf.constant(images, tf.uint8),
            tf.constant(temperature, tf.float32),
            None if points is None else tf.constant(points, tf.float32),
            None if colours is None else tf.constant(colours, tf.uint8),
        )
        return {k: v.numpy() for k, v in out.items()}


class SavedModelBackend:
    """An exported SavedModel directory: colorize_with_temperature for automatic colour,
    colorize_with_hints_and_temperature for hints, `logits` for the network alone."""

    kind = "saved_model"

    def __init__(self, path, recorded_temperature):
        """recorded_temperature: the one the export was written with (its config.json's);
        the temperature of a hint call to an export without a hint signature that takes
        one (written before there was one) must equal it."""
        signatures = tf.saved_model.load(path).signatures
        self._automatic = signatures["colorize_with_temperature"]
        self._hinted = signatures.get("colorize_with_hints_and_temperature")
        self._hinted_fixed = signatures.get("colorize_with_hints")
        self.takes_hints = self._hinted_fixed is not None
        self._recorded_temperature = float(recorded_temperature)
        self._logits = signatures.get("logits")
        self.image_size = (
            int(self._logits.structured_input_signature[1]["L"].shape[1])
            if self._logits is not None
            else None
        )

    def network_ab(self, lightness, temperature):
        if self._logits is None:
            raise ValueError(
                "this SavedModel has no `logits` signature (the network alone); export it "
                "again with `python -m export`."
            )
        logits = self._logits(L=tf.constant(lightness, tf.float32))["color_logits"]
        return bins.annealed_mean_from_logits(logits, temperature).numpy()

    def colorize(self, images, temperature, points=None, colours=None):
        image = tf.constant(images, tf.uint8)
        t = tf.constant(temperature, tf.float32)
        if points is None:
            out = self._automatic(image=image, temperature=t)
        else:
            hints = {
                "hint_points": tf.constant(points, tf.float32),
                "hint_rgb": tf.constant(colours, tf.uint8),
            }
            if self._hinted is not None:
                out = self._hinted(image=image, temperature=t, **hints)
            elif temperature == self._recorded_temperature:
                out = self._hinted_fixed(image=image, **hints)
            else:
                raise ValueError(
                    "this SavedModel colours hints at the temperature it was exported with "
                    f"({self._recorded_temperature:g}); received temperature={temperature:g}. "
                    "Export it again for a hint signature that takes a temperature."
                )
        return {k: v.numpy() for k, v in out.items()}


class TFLiteBackend:
    """A colorizer .tflite file, run by LiteRT one photo at a time (the app developers'
    runner, colorization.inference.tflite_runner)."""

    kind = "tflite"

    def __init__(self, path, num_threads=None, edge_aware=True):
        from colorization.inference.tflite_runner import TFLiteColorizer

        self._runner = TFLiteColorizer(path, num_threads=num_threads, edge_aware=edge_aware)
        self.takes_hints = self._runner.takes_hints
        self.image_size = self._runner.size

    def network_ab(self, lightness, temperature):
        """The graph takes the grey photo of each L as uint8, as the runner gives it."""
        return np.stack(
            [self._runner.network_ab(grey, temperature) for grey in lightness_to_grey(lightness)]
        )

    def colorize(self, images, temperature, points=None, colours=None):
        outs = []
        for i, image in enumerate(images):
            hints = None
            if points is not None:
                hints = [
                    (x, y, tuple(int(c) for c in rgb))
                    for (x, y), rgb in zip(points[i], colours[i], strict=True)
                    if x >= 0 and y >= 0
                ]
            outs.append(self._runner.colorize(image, temperature, hints))
        return {
            "rgb": np.stack([o[0] for o in outs]),
            "class_probs": np.stack([o[1] for o in outs]),
        }
