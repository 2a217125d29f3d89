"""Parallel speedup and its limits, measured and predicted.

Chapters time one piece of work on 1, 2, 4 ... workers (threads, processes or numba's
`prange` threads), turn the times into speedups and parallel efficiencies, and hold
them against Amdahl's law. The worker functions a process pool runs live here too: a
`spawn` or `forkserver` pool sends a function by its module and name, and a function
defined in a notebook has no module another process could import.
"""

from __future__ import annotations

import functools
import json
import math
import os
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from coursekit.checks import fraction, positive_finite, positive_int
from coursekit.timing import best_times

# Best of three interleaved rounds per worker count: noise on a shared machine only ever
# adds time, and three rounds of a ~0.1 s run keep one scaling curve near a second.
DEFAULT_SCALING_ROUNDS = 3
# The simulator runs every CUDA thread as a Python thread: a 32x32 matmul takes seconds,
# so a child that has not finished after five minutes is stuck, not slow.
CUDASIM_TIMEOUT_S = 300
# numba reads this once, when `numba.cuda` is first imported; only a fresh process can
# be sure to see it before that import.
CUDASIM_VARIABLE = "NUMBA_ENABLE_CUDASIM"


def amdahl_speedup(parallel_fraction: float, workers):
    """Amdahl's law: the speedup on `workers` workers when `parallel_fraction` of the work splits.

    The serial part (1 - p) takes as long as ever, so speedup = 1 / ((1 - p) + p / n):
    it can never exceed 1 / (1 - p), however many workers there are. Accepts a number
    or an array of worker counts (>= 1) and returns the same shape.
    """
    p = fraction("parallel_fraction", parallel_fraction)
    n = np.asarray(workers)
    if n.dtype.kind not in "iuf" or not np.all(np.isfinite(n)) or np.any(n < 1):
        raise ValueError(f"workers must be finite and at least 1, got {workers!r}")
    speedup = 1.0 / ((1.0 - p) + p / n)
    return float(speedup) if speedup.ndim == 0 else speedup


def amdahl_limit(parallel_fraction: float) -> float:
    """The speedup infinitely many workers would reach: 1 / (1 - p), infinite when p = 1."""
    p = fraction("parallel_fraction", parallel_fraction)
    return math.inf if p == 1.0 else 1.0 / (1.0 - p)


def parallel_efficiency(single_time: float, parallel_time: float, workers: int) -> float:
    """single_time / (parallel_time * workers): the share of the workers' time spent usefully.

    1 means perfect scaling; 1 / workers means the extra workers did nothing.
    """
    single = positive_finite("single_time", single_time)
    parallel = positive_finite("parallel_time", parallel_time)
    positive_int("workers", workers)
    return single / (parallel * workers)


def karp_flatt_serial_fraction(speedup: float, workers: int) -> float:
    """The serial fraction that would explain a measured speedup under Amdahl's law.

    Amdahl's law solved for 1 - p (the Karp-Flatt metric): (1/S - 1/n) / (1 - 1/n).
    It also absorbs every other overhead (start-up, synchronisation, shared bandwidth),
    so a value growing with n says the loss is not a fixed serial part.
    """
    s = positive_finite("speedup", speedup)
    positive_int("workers", workers)
    if workers == 1:
        raise ValueError("the serial fraction needs at least 2 workers")
    return (1.0 / s - 1.0 / workers) / (1.0 - 1.0 / workers)


def worker_counts(max_workers: int) -> list[int]:
    """1, 2, 4, ... up to `max_workers`, which is always included: the counts a scaling curve samples."""
    positive_int("max_workers", max_workers)
    counts = [2**k for k in range(max_workers.bit_length()) if 2**k < max_workers]
    return counts + [max_workers]


@dataclass(frozen=True)
class Scaling:
    """Best time of the same work on each worker count; the first count is the baseline."""

    workers: tuple[int, ...]
    seconds: tuple[float, ...]

    @property
    def speedups(self) -> tuple[float, ...]:
        return tuple(self.seconds[0] / t for t in self.seconds)

    @property
    def efficiencies(self) -> tuple[float, ...]:
        return tuple(parallel_efficiency(self.seconds[0], t, n)
                     for n, t in zip(self.workers, self.seconds, strict=True))


def measure_scaling(run: Callable[[int], object], workers: Sequence[int],
                    rounds: int = DEFAULT_SCALING_ROUNDS) -> Scaling:
    """Best time of `run(n)`, the same total work on n workers, for each n in `workers`.

    The first count must be 1: the baseline every speedup is relative to.
    """
    counts = tuple(workers)
    if not counts or counts[0] != 1:
        raise ValueError(f"worker counts must start with 1, the baseline; got {counts!r}")
    for n in counts:
        positive_int("workers", n)
    return Scaling(counts, best_times(*(functools.partial(run, n) for n in counts), rounds=rounds))


def on_numba_threads(kernel: Callable, *args) -> Callable[[int], object]:
    """A `run(n)` for measure_scaling: `kernel(*args)` with numba's prange loops on n threads."""
    from coursekit.bandwidth import with_numba_threads

    return lambda n: with_numba_threads(n, lambda: kernel(*args))


def run_cuda_script(script: str, simulate: bool = True, timeout_s: float = CUDASIM_TIMEOUT_S) -> dict:
    """Run `script` in a fresh Python, on numba's CUDA simulator unless `simulate` is False.

    A fresh process, because numba decides between the simulator and a real GPU once,
    when `numba.cuda` is first imported: a notebook that already imported it cannot
    switch. With `simulate=False` the same script runs natively on an NVIDIA GPU.
    The script must print one JSON object as its last line; that object is returned.
    """
    env = os.environ | {CUDASIM_VARIABLE: "1" if simulate else "0"}
    done = subprocess.run([sys.executable, "-c", script], env=env,
                          capture_output=True, text=True, timeout=timeout_s)
    if done.returncode != 0:
        raise RuntimeError(f"the CUDA script failed:\n{done.stderr.strip()[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# Worker functions for process pools: importable by name from any start method.

def python_busy_loop(iterations: int) -> int:
    """CPU-bound pure Python: every step runs bytecode, so a thread holds the GIL throughout."""
    total = 0
    for i in range(iterations):
        total += i * i % 7
    return total


def array_nbytes(array: np.ndarray) -> int:
    """Receive an array and do nothing with it: a round trip that costs only the transfer."""
    return array.nbytes


def relu_array(array: np.ndarray) -> np.ndarray:
    """ReLU of one work item, returned: the data travel to the worker and back."""
    return np.maximum(array, 0)


def blas_matmul_task(size: int, blas_threads: int | None = None) -> float:
    """A pool task: trace(A @ A) of a seeded size x size matrix, BLAS limited to `blas_threads` (None: its default).

    The limit is set inside the worker: each process has its own BLAS thread pool, and
    a limit set in the parent does not reach a pool the child starts afresh.
    """
    from threadpoolctl import threadpool_limits

    a = np.random.default_rng(size).random((size, size))
    with threadpool_limits(limits=blas_threads, user_api="blas"):
        return float(np.trace(a @ a))
