"""From a trained model to coloured photos.

`from colorization.inference import Colorizer` is the public entry point. The names are
loaded on first use, so that the TensorFlow-free TFLite runner (tflite_runner) can be
imported without TensorFlow.
"""

# name -> the module that defines it.
_EXPORTED = {
    "Colorizer": "colorizer",
    "DEFAULT_MODEL": "colorizer",
    "colorize_tensor": "decoding",
    "compose_rgb": "decoding",
    "decode_ab": "decoding",
    "model_input": "decoding",
    "rgb_to_model_lightness": "decoding",
    "to_rgb": "decoding",
}


def __getattr__(name):
    if name in _EXPORTED:
        import importlib

        return getattr(importlib.import_module(f"colorization.inference.{_EXPORTED[name]}"), name)
    raise AttributeError(f"module 'colorization.inference' has no attribute {name!r}")


def __dir__():
    return sorted((*globals(), *_EXPORTED))
