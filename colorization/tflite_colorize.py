"""`python -m colorization.tflite_colorize`: see colorization.inference.tflite_runner (no
TensorFlow needed)."""

import sys

from colorization.inference.tflite_runner import main

if __name__ == "__main__":
    sys.exit(main())
