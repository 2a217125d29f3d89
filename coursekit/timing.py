"""Interleaved timing: ratios of two kernels measured in the same rounds, with their spread.

A speed claim is a ratio of timings taken in one run. Each round times every kernel once,
in an order that alternates between rounds, so a slow drift of the machine affects every
kernel alike; the ratio is taken round by round and reported as its median and range.
Where noise only ever adds time (one machine, one kernel), the best sample is kept.
This is coursekit's one timing loop: the chapters, the benchmarks and the other coursekit
modules time through it (the grader's loop for speed checks is `coursekit.speedcheck`).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Hashable

from coursekit.checks import positive_int


def interleaved_samples(kernels: dict, rounds: int, clock: Callable[[], float] = time.perf_counter,
                        ) -> dict[Hashable, list[float]]:
    """Seconds per call of each kernel, in `rounds` rounds whose order alternates.

    Each kernel is called once untimed first (compilation, pool start-up, first touch)."""
    positive_int("rounds", rounds)
    for kernel in kernels.values():  # compile and warm up, untimed
        kernel()
    samples: dict[Hashable, list[float]] = {name: [] for name in kernels}
    for round_number in range(rounds):
        for name in list(kernels) if round_number % 2 == 0 else list(reversed(kernels)):
            start = clock()
            kernels[name]()
            samples[name].append(clock() - start)
    return samples


def best_times(*runs: Callable[[], object], rounds: int) -> tuple[float, ...]:
    """Best seconds of each `run()` over `rounds` interleaved rounds: noise only ever adds time."""
    samples = interleaved_samples(dict(enumerate(runs)), rounds)
    return tuple(min(samples[index]) for index in range(len(runs)))


def ratio(samples: dict[str, list[float]], slow: str, fast: str) -> dict[str, float]:
    """How many times faster `fast` was than `slow`, round by round: median and range."""
    ratios = [s / f for s, f in zip(samples[slow], samples[fast], strict=True)]
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}
