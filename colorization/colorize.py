"""`python -m colorization.colorize`: colour photos with a trained colorizer (colorization.inference.colorize)."""

from colorization.core import cli
from colorization.inference import colorize

if __name__ == "__main__":
    cli.run_command(colorize)
