"""Colorizes a photo with a .tflite colorizer: the reference for app developers.

    python colorization/inference/tflite_runner.py MODEL.tflite INPUT_IMAGE OUTPUT_IMAGE
        [--temperature=T] [--hints=HINTS.json]

Needs only ai-edge-litert, NumPy and Pillow (no TensorFlow, nothing of this package): the
file works copied alone into an app. The steps an app repeats:
  1. L of the photo at full resolution (CIELAB, D65), and the grey photo with that L.
  2. The grey photo resized to the model's S x S, as uint8 -> the model -> ab at S/4.
  3. The graph's ab_slope and ab_offset upsampled (bilinear) to the photo's size and
     applied to its full-resolution L, ab = ab_slope * L/100 + ab_offset (edge-aware
     decoding, as the file was exported; with it off the slope is 0 and the offset is the
     plain ab), joined with L, converted to sRGB. --no_edge_aware upsamples ab instead.
A model trained with hints also takes up to 32 points of colour (x, y in the photo's pixels
and an sRGB colour): the runner scales them to the S x S input and pads the list, and the
graph paints them. The output has the input's width and height. The temperature of the
annealed mean is the model's own, from the config.json that the exporter writes beside the .tflite files (the
nearest one in the folders above), else 0.38.
"""

import argparse
import json
import os
import sys

import numpy as np
from PIL import Image

# A user's colour hints. A hint is (x, y, (r, g, b)): a pixel of the photo (x from the
# left, y from the top) and the sRGB colour (0-255) it should have. Every way in (the
# Colorizer, the demo, the commands) checks and pads hints with these functions, so the
# runner checks them exactly as the package does; the graphs rasterise the points
# (colorization.core.hints.user_hint_map).
# The coordinate that marks a padding point (user_hint_map ignores negative points).
PADDING = -1.0


def _whole(value):
    """Whether `value` is a whole number (an int, or a float or NumPy number without a
    fraction), not a bool or a string."""
    if isinstance(value, bool | str | bytes):
        return False
    try:
        return float(value) == int(value)
    except (TypeError, ValueError, OverflowError):
        return False


def parse_hints(hints, height, width):
    """Checks a user's hints and returns (points, colours) as NumPy arrays.

    Args:
      hints: [(x, y, (r, g, b)), ...]: a pixel of the photo (0 <= x < width, 0 <= y < height)
        and the sRGB colour (0-255) it should have.

    Returns:
      float32 (N, 2) (x, y) and uint8 (N, 3) colours. Raises ValueError naming the first bad
      hint and what was expected.
    """
    points, colours = [], []
    for i, hint in enumerate(hints):
        try:
            x, y, rgb = hint
            x, y = float(x), float(y)
            # A string would be read character by character ("200" -> 2, 0, 0), a float
            # truncated: only whole numbers are colours.
            if isinstance(rgb, str | bytes) or not all(_whole(c) for c in rgb):
                raise ValueError
            rgb = [int(c) for c in rgb]
        except (TypeError, ValueError):
            raise ValueError(
                f"hint {i}: {hint!r} is not (x, y, (r, g, b)). Expected pixel coordinates "
                "and an sRGB colour of three integers 0-255."
            ) from None
        if not (0 <= x < width and 0 <= y < height):
            raise ValueError(
                f"hint {i}: point ({x:g}, {y:g}) is outside the {width} x {height} photo. "
                f"Expected 0 <= x < {width} and 0 <= y < {height}."
            )
        if len(rgb) != 3 or not all(0 <= c <= 255 for c in rgb):
            raise ValueError(f"hint {i}: colour {rgb} is not three integers 0-255.")
        points.append((x, y))
        colours.append(rgb)
    return np.array(points, np.float32).reshape(-1, 2), np.array(colours, np.uint8).reshape(-1, 3)


def padded(points, colours, count):
    """(points, colours) padded to `count` rows with ignored points; ValueError if there
    are more than `count`."""
    if len(points) > count:
        raise ValueError(f"{len(points)} hints given; this model takes at most {count}.")
    fill = count - len(points)
    return (
        np.concatenate([points, np.full((fill, 2), PADDING, np.float32)]).astype(np.float32),
        np.concatenate([colours, np.zeros((fill, 3), np.uint8)]).astype(np.uint8),
    )


def read_hints_file(path):
    """[(x, y, (r, g, b))] from a JSON file holding [{"x": X, "y": Y, "rgb": [R, G, B]}, ...];
    OSError or ValueError saying what is wrong (the values are checked by parse_hints)."""
    try:
        with open(path) as f:
            entries = json.load(f)
    except OSError as e:
        raise OSError(f"cannot read it ({e.strerror})") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"not JSON ({e})") from None
    if not isinstance(entries, list):
        raise ValueError('expected a list of {"x": X, "y": Y, "rgb": [R, G, B]}')
    hints = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict) or set(entry) != {"x", "y", "rgb"}:
            raise ValueError(
                f'entry {i} is {entry!r}; expected {{"x": X, "y": Y, "rgb": [R, G, B]}}'
            )
        hints.append((entry["x"], entry["y"], entry["rgb"]))
    return hints


# sRGB D65 constants, the same as colorization/core/color.py (which uses TensorFlow).
_XYZ_FROM_RGB = np.array(
    [[0.412453, 0.357580, 0.180423], [0.212671, 0.715160, 0.072169], [0.019334, 0.119193, 0.950227]]
)
_RGB_FROM_XYZ = np.linalg.inv(_XYZ_FROM_RGB)
_WHITE = np.array([0.95047, 1.0, 1.08883])
# float32 copies for the per-pixel maths; linear light of each uint8 level.
_RGB_FROM_XYZ32 = _RGB_FROM_XYZ.astype(np.float32)
_WHITE32 = _WHITE.astype(np.float32)
_LUMINANCE_WEIGHTS = _XYZ_FROM_RGB[1].astype(np.float32)
# Zhang et al.'s annealed-mean temperature, for a .tflite file with no config.json nearby.
DEFAULT_TEMPERATURE = 0.38


def _linearize(rgb):
    return np.where(
        rgb <= 0.04045, rgb / 12.92, ((np.maximum(rgb, 0.04045) + 0.055) / 1.055) ** 2.4
    )


_LINEAR_FROM_U8 = _linearize(np.arange(256) / 255.0).astype(np.float32)


def _compand(linear):
    return np.where(
        linear > 0.0031308,
        1.055 * np.maximum(linear, 0.0031308) ** (1 / 2.4) - 0.055,
        12.92 * linear,
    )


def _f(t):
    return np.where(t > 0.008856, np.cbrt(np.maximum(t, 0.008856)), 7.787 * t + 16.0 / 116.0)


def lightness(rgb_u8):
    """CIELAB L (H, W) in [0, 100] of uint8 RGB (H, W, 3), in float32.

    Linear light comes from a 256-entry table (exact: the input has 256 levels), so only
    the luminance's cube root is computed per pixel."""
    luminance = np.take(_LINEAR_FROM_U8, rgb_u8) @ _LUMINANCE_WEIGHTS
    f = np.cbrt(luminance)
    # CIELAB's linear segment near black.
    np.copyto(
        f, np.float32(7.787) * luminance + np.float32(16.0 / 116.0), where=luminance <= 0.008856
    )
    return np.float32(116.0) * f - np.float32(16.0)


def grey_with_lightness(lightness_map):
    """uint8 grey sRGB (H, W) whose L equals `lightness_map`."""
    fy = (lightness_map + 16.0) / 116.0
    luminance = np.where(fy > 0.2068966, fy**3, (fy - 16.0 / 116.0) / 7.787)
    return np.clip(np.round(_compand(luminance) * 255.0), 0, 255).astype(np.uint8)


def lab_to_rgb_u8(lab):
    """uint8 sRGB (H, W, 3) of CIELAB (H, W, 3), out-of-gamut colours clipped. In float32
    (the TensorFlow path's precision), one channel plane at a time."""
    lab = np.asarray(lab, np.float32)
    fy = (lab[..., 0] + np.float32(16.0)) / np.float32(116.0)
    fx = fy + lab[..., 1] / np.float32(500.0)
    fz = np.maximum(fy - lab[..., 2] / np.float32(200.0), np.float32(0.0))
    xyz = [_f_inverse(f) * np.float32(w) for f, w in zip((fx, fy, fz), _WHITE, strict=True)]
    channels = []
    for row in _RGB_FROM_XYZ32:
        linear = row[0] * xyz[0] + row[1] * xyz[1] + row[2] * xyz[2]
        rgb = np.float32(1.055) * np.power(
            np.maximum(linear, np.float32(0.0031308)), np.float32(1 / 2.4)
        ) - np.float32(0.055)
        np.copyto(rgb, np.float32(12.92) * linear, where=linear <= 0.0031308)
        channels.append(np.rint(np.clip(rgb, 0.0, 1.0) * np.float32(255.0)).astype(np.uint8))
    return np.stack(channels, -1)


def _f_inverse(f):
    """CIELAB's inverse transfer function, float32: f^3, linear below f = 6/29."""
    cube = f * f * f
    np.copyto(cube, (f - np.float32(16.0 / 116.0)) / np.float32(7.787), where=f <= 0.2068966)
    return cube


def _load_interpreter(model_path, num_threads):
    try:
        from ai_edge_litert.interpreter import Interpreter
    except ImportError:  # Older installs ship the same interpreter inside TensorFlow.
        from tensorflow.lite import Interpreter  # type: ignore
    return Interpreter(model_path=model_path, num_threads=num_threads)


def recorded_config(model_path):
    """The training config (a dict) in the config.json nearest above `model_path` (its own
    folder, then up to three folders up), or None: the same lookup as
    colorization.model.model_files.nearest_config, without TensorFlow."""
    folder = os.path.dirname(os.path.abspath(model_path))
    for _ in range(4):
        candidate = os.path.join(folder, "config.json")
        if os.path.isfile(candidate):
            with open(candidate) as f:
                return json.load(f)
        folder = os.path.dirname(folder)
    return None


class TFLiteColorizer:
    """Runs a colorizer .tflite on photos of any size.

    temperature: the annealed-mean temperature; None = the model's own (`recorded_config`),
    else DEFAULT_TEMPERATURE. class_names: the class branch's outputs, when recorded.
    """

    def __init__(self, model_path, num_threads=None, temperature=None, edge_aware=True):
        self.interpreter = _load_interpreter(model_path, num_threads)
        self.runner = self.interpreter.get_signature_runner()
        inputs = self.runner.get_input_details()
        self.size = int(inputs["grey"]["shape"][1])
        # A model trained with hints takes a fixed number of points (padded).
        self.takes_hints = "hint_points" in inputs
        self.max_hints = int(inputs["hint_points"]["shape"][1]) if self.takes_hints else 0
        config = recorded_config(model_path)
        if temperature is None:
            temperature = config["temperature"] if config else DEFAULT_TEMPERATURE
        self.temperature = float(temperature)
        self.class_names = config["model"].get("class_names") if config else None
        # Files exported before edge-aware decoding return ab alone.
        outputs = self.runner.get_output_details()
        self.edge_aware = bool(edge_aware) and "ab_slope" in outputs

    def hint_inputs(self, hints, height, width):
        """The graph's hint_points and hint_rgb for a list of (x, y, (r, g, b)) in pixels of a
        height x width photo: checked as the Colorizer checks them, scaled to the S x S input
        (in float32, as the other formats scale them) and padded."""
        if hints and not self.takes_hints:
            raise ValueError(
                "this .tflite colorizer takes no colour hints (it was trained without them)."
            )
        points, colours = padded(*parse_hints(hints or [], height, width), self.max_hints)
        size = np.float32(self.size)
        scale = np.array([size / np.float32(width), size / np.float32(height)], np.float32)
        points = np.where(points >= 0, points * scale, np.float32(PADDING)).astype(np.float32)
        return points[None], colours[None]

    def network_ab(self, grey, temperature, hints=None):
        """The graph alone: grey uint8 (S, S, 1) -> ab float32 (S/4, S/4, 2) (no hints)."""
        inputs = {}
        if self.takes_hints:
            inputs["hint_points"], inputs["hint_rgb"] = self.hint_inputs(
                hints, self.size, self.size
            )
        out = self.runner(
            grey=np.asarray(grey, np.uint8)[None],
            temperature=np.array([temperature], np.float32),
            **inputs,
        )
        return out["ab"][0].astype(np.float32)

    def colorize(self, image, temperature=None, hints=None):
        """uint8 (H, W) or (H, W, 1|3|4) -> (uint8 RGB (H, W, 3), class probabilities).
        temperature: this call's; None = the colorizer's. hints: [(x, y, (r, g, b)), ...]
        in the photo's pixels (a model trained with hints), or None."""
        if temperature is None:
            temperature = self.temperature
        image = np.asarray(image)
        if image.ndim == 2:
            image = image[..., None]
        rgb = np.repeat(image[..., :1], 3, -1) if image.shape[-1] == 1 else image[..., :3]
        height, width = rgb.shape[:2]
        inputs = {}
        if self.takes_hints:
            inputs["hint_points"], inputs["hint_rgb"] = self.hint_inputs(hints, height, width)
        elif hints:
            self.hint_inputs(hints, height, width)  # raises: no hint input
        full_l = lightness(rgb)
        grey = Image.fromarray(grey_with_lightness(full_l)).resize(
            (self.size, self.size), Image.Resampling.BILINEAR
        )
        out = self.runner(
            grey=np.asarray(grey, np.uint8)[None, :, :, None],
            temperature=np.array([temperature], np.float32),
            **inputs,
        )
        # A file exported without edge-aware decoding has a zero slope and ab as its offset:
        # upsampling ab alone gives the same colours with half the work.
        if self.edge_aware and np.any(out["ab_slope"]):
            slope = _upsampled(out["ab_slope"][0], width, height)
            ab_full = slope * (full_l[..., None] / np.float32(100.0))
            ab_full += _upsampled(out["ab_offset"][0], width, height)
        else:
            ab_full = _upsampled(out["ab"][0], width, height)
        lab = np.concatenate([full_l[..., None], ab_full.astype(np.float64)], -1)
        return lab_to_rgb_u8(lab), out["class_probs"][0]


def _upsampled(channels, width, height):
    """float32 (h, w, 2) resized bilinearly to (height, width, 2), one channel at a time
    (Pillow's 32-bit float images)."""
    channels = np.asarray(channels, np.float32)
    return np.stack(
        [
            np.asarray(
                Image.fromarray(channels[..., c]).resize((width, height), Image.Resampling.BILINEAR)
            )
            for c in range(channels.shape[-1])
        ],
        -1,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("model")
    parser.add_argument("input_image")
    parser.add_argument("output_image")
    parser.add_argument(
        "--temperature",
        type=float,
        default=None,
        help="annealed-mean temperature; default: the model's own (config.json beside it), "
        f"else {DEFAULT_TEMPERATURE}",
    )
    parser.add_argument("--num_threads", type=int, default=None)
    parser.add_argument(
        "--no_edge_aware",
        action="store_true",
        help="upsample the graph's ab bilinearly instead of its edge-aware coefficients",
    )
    parser.add_argument(
        "--hints",
        default=None,
        help='a JSON file of colour hints, [{"x": 10, "y": 20, "rgb": [200, 30, 40]}, ...] '
        "in the photo's pixels (a model trained with hints)",
    )
    args = parser.parse_args(argv)
    if args.temperature is not None and args.temperature <= 0:
        parser.error(f"--temperature must be > 0. Received: {args.temperature}")
    try:
        image = np.asarray(Image.open(args.input_image).convert("RGB"))
    except (OSError, ValueError) as e:
        print(f"error: cannot read {args.input_image!r}: {e}", file=sys.stderr)
        return 2
    try:
        colorizer = TFLiteColorizer(args.model, args.num_threads, edge_aware=not args.no_edge_aware)
    except (OSError, ValueError, RuntimeError) as e:
        print(f"error: cannot load {args.model!r} as a colorizer .tflite: {e}", file=sys.stderr)
        return 2
    hints = None
    if args.hints:
        try:
            hints = read_hints_file(args.hints)
            colorizer.hint_inputs(hints, *image.shape[:2])
        except (OSError, ValueError) as e:
            print(f"error: --hints={args.hints}: {e}", file=sys.stderr)
            return 2
    rgb, _ = colorizer.colorize(image, args.temperature, hints)
    Image.fromarray(rgb).save(args.output_image)
    print(f"Wrote {args.output_image} ({rgb.shape[1]}x{rgb.shape[0]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
