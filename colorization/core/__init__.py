"""Foundations every other layer uses: colour maths, bins, configurations, hardware, CLI."""
