"""Interleaved timing: ratios of two kernels measured in the same rounds, with their spread.

A speed claim is a ratio of timings taken in one run. Each round times every kernel once,
in an order that alternates between rounds, so a slow drift of the machine affects every
kernel alike; the ratio is taken round by round and reported as its median and range.
Used by the chapters and by the benchmarks in `benchmarks/`.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def interleaved_samples(kernels: dict[str, Callable[[], object]], rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each kernel, in `rounds` rounds whose order alternates."""
    if rounds < 1:
        raise ValueError(f"rounds must be at least 1, got {rounds}")
    for kernel in kernels.values():  # compile and warm up, untimed
        kernel()
    clock = time.perf_counter
    samples: dict[str, list[float]] = {name: [] for name in kernels}
    for round_number in range(rounds):
        for name in list(kernels) if round_number % 2 == 0 else list(reversed(kernels)):
            start = clock()
            kernels[name]()
            samples[name].append(clock() - start)
    return samples


def ratio(samples: dict[str, list[float]], slow: str, fast: str) -> dict[str, float]:
    """How many times faster `fast` was than `slow`, round by round: median and range."""
    ratios = [s / f for s, f in zip(samples[slow], samples[fast], strict=True)]
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
