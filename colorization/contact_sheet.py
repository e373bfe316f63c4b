"""`python -m colorization.contact_sheet`: grey | each model | truth for chosen photos, one
PNG for by-eye checks (colorization.evaluation.contact_sheet)."""

from colorization.core import cli
from colorization.evaluation import contact_sheet

if __name__ == "__main__":
    cli.run_command(contact_sheet)
