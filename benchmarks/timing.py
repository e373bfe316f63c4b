"""Repeated wall-clock timing shared by the benchmarks."""

import statistics
import time


def timed(fn, repeats, warmup=1):
    """Median and (min, max) of `repeats` timings of fn() in seconds, after `warmup` calls."""
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), (min(times), max(times))
