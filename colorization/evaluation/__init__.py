"""Evaluation: metrics, the crop protocol (crops) and the full-photo protocol (photos), and
the evaluate command (command)."""
