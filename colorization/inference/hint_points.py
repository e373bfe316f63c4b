"""A user's colour hints as lists of points: checked, and padded to a fixed count.

A hint is (x, y, (r, g, b)): a pixel of the photo (x from the left, y from the top) and the
sRGB colour (0-255) it should have. Needs only NumPy, so that the TensorFlow-free TFLite
runner checks hints exactly as the Colorizer does; the points are rasterised in the graphs
themselves (colorization.core.hints.user_hint_map).
"""

import json

import numpy as np

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
