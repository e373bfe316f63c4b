"""`python -m colorization.colorize`: colour photos with a trained colorizer (colorization.archive.command)."""

from colorization.archive import command as colorize
from colorization.core import cli

if __name__ == "__main__":
    cli.run_command(colorize)
