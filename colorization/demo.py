"""`python -m colorization.demo`: a local web page to try the colorizer (colorization.inference.demo)."""

from colorization.core import cli
from colorization.inference import demo

if __name__ == "__main__":
    cli.run_command(demo)
