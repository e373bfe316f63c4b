"""From a trained model to coloured photos.

`from colorization.inference import Colorizer` is the public entry point. The names are
loaded on first use, so that the TensorFlow-free TFLite runner (tflite_runner) can be
imported without TensorFlow.
"""

_EXPORTED = (
    "Colorizer",
    "DEFAULT_MODEL",
    "colorize_tensor",
    "compose_rgb",
    "decode_ab",
    "model_input",
    "rgb_to_model_lightness",
    "to_rgb",
    "to_uint8",
)


def __getattr__(name):
    if name in _EXPORTED:
        from colorization.inference import colorizer

        return getattr(colorizer, name)
    raise AttributeError(f"module 'colorization.inference' has no attribute {name!r}")


def __dir__():
    return sorted((*globals(), *_EXPORTED))
