"""Timing shared by the benchmarks: interleaved rounds, ratios, results saved with the machine.

Each benchmark times its kernels in rounds whose order alternates, so a slow drift of the
machine affects every kernel alike, and reports ratios of timings from the same round.
"""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

from threadpoolctl import threadpool_info

from coursekit.machine import describe_machine


def interleaved_samples(kernels: dict, rounds: int) -> dict[str, list[float]]:
    """Seconds per call of each kernel, in `rounds` rounds whose order alternates."""
    for kernel in kernels.values():  # compile and warm up, untimed
        kernel()
    clock = time.perf_counter
    samples = {name: [] for name in kernels}
    for round_number in range(rounds):
        for name in list(kernels) if round_number % 2 == 0 else list(reversed(kernels)):
            start = clock()
            kernels[name]()
            samples[name].append(clock() - start)
    return samples


def ratio(samples: dict, slow: str, fast: str) -> dict:
    """How many times faster `fast` was than `slow`, round by round: median and range."""
    ratios = [s / f for s, f in zip(samples[slow], samples[fast])]
    return {"median": statistics.median(ratios), "min": min(ratios), "max": max(ratios)}


def save(path: Path, **results) -> None:
    """Write the results with the machine's description and the BLAS in use."""
    blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"machine": describe_machine().as_dict(), "blas": blas, **results}, indent=1))
    print(f"saved {path}")
