"""Kept for tools that call setup.py; the package metadata lives in pyproject.toml."""

from setuptools import setup

setup()
