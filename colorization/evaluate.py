"""`python -m colorization.evaluate`: score colorizers against the grey photo and each other (colorization.evaluation.command)."""

from colorization.core import cli
from colorization.evaluation import command

if __name__ == "__main__":
    cli.run_command(command)
