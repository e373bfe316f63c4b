"""Benchmarks: scripts that print tables and write JSON. Timings live here, never in tests."""
