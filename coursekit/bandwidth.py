"""The memory roof of a roofline: bandwidth by the STREAM triad, measured here.

A kernel can go no faster than its arithmetic allows (peak FLOP/s, measured in
`coursekit.roofline`) nor than memory can feed it (bandwidth times the FLOPs it does per
byte moved). The triad ``a = b + s * c`` runs with numba, the same compiler the kernels
use, on all usable cores and on one; `roofline` and `ridge_point` combine the two roofs.
"""

from __future__ import annotations

from collections.abc import Callable

import numba
import numpy as np

from coursekit.checks import positive_finite, positive_int
from coursekit.machine import describe_machine
from coursekit.timing import best_times

# STREAM's scalar; any value other than 0 and 1 keeps the multiply in the loop.
TRIAD_SCALAR = 3.0
# Bytes the triad moves per element, counted as STREAM counts them: read b and c, write a,
# all float64. The extra read of `a` that a write-allocate cache does is not counted.
TRIAD_BYTES_PER_ELEMENT = 3 * np.dtype(np.float64).itemsize
# 64 MiB per array, 192 MiB in all: far beyond any core's L2 and beyond the L3 share of
# one core on servers, so DRAM sets the speed; a pass takes milliseconds, not seconds.
DEFAULT_TRIAD_ELEMENTS = 2**23
# STREAM's default NTIMES. The best pass is kept: noise only ever slows a pass down.
DEFAULT_REPEATS = 10


def usable_threads() -> int:
    """Threads a parallel measurement uses: the CPUs this process may run on.

    numba starts one thread per CPU of the machine, but a container or `taskset` may
    allow fewer; more threads than usable CPUs would only take turns.
    """
    # numba.config sets its options from the environment at import: no attribute mypy can see.
    numba_threads: int = numba.config.NUMBA_NUM_THREADS  # type: ignore[attr-defined]
    return max(1, min(describe_machine().usable_cpus, numba_threads))


def with_numba_threads(threads: int, run: Callable[[], float]) -> float:
    """Call `run` with numba's parallel loops limited to `threads`, then restore the count."""
    previous = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        return run()
    finally:
        numba.set_num_threads(previous)


@numba.njit(parallel=True)
def triad_parallel(a, b, c, scalar):
    for i in numba.prange(a.size):
        a[i] = b[i] + scalar * c[i]


@numba.njit
def triad_serial(a, b, c, scalar):
    for i in range(a.size):
        a[i] = b[i] + scalar * c[i]


def triad_bandwidth(n_elements: int = DEFAULT_TRIAD_ELEMENTS, repeats: int = DEFAULT_REPEATS,
                    parallel: bool = True) -> float:
    """Memory bandwidth in GB/s (1e9 bytes per second) by the STREAM triad a = b + s*c.

    `parallel=True` splits the loop over the usable cores with `prange`; `False` runs it
    on one thread, the bandwidth one core can draw. Arrays must be much larger than the
    caches to measure memory; small ones measure a cache instead.
    """
    positive_int("n_elements", n_elements)
    positive_int("repeats", repeats)
    a = np.zeros(n_elements)
    b = np.ones(n_elements)
    c = np.full(n_elements, 2.0)
    kernel = triad_parallel if parallel else triad_serial
    threads = usable_threads() if parallel else 1
    seconds = with_numba_threads(threads, lambda: best_times(lambda: kernel(a, b, c, TRIAD_SCALAR), rounds=repeats)[0])
    return TRIAD_BYTES_PER_ELEMENT * n_elements / seconds / 1e9


def ridge_point(peak_gflops: float, bandwidth_gbs: float) -> float:
    """Arithmetic intensity (FLOP/byte) where the memory roof meets the compute roof."""
    return positive_finite("peak_gflops", peak_gflops) / \
        positive_finite("bandwidth_gbs", bandwidth_gbs)


def roofline(intensity, peak_gflops: float, bandwidth_gbs: float):
    """Attainable GFLOP/s at `intensity` FLOP/byte: min(peak, intensity * bandwidth).

    Below the ridge point memory limits the kernel (the roof rises linearly with
    intensity); above it arithmetic does (the roof is flat). Accepts a number or an
    array of intensities and returns the same shape.
    """
    peak = positive_finite("peak_gflops", peak_gflops)
    bandwidth = positive_finite("bandwidth_gbs", bandwidth_gbs)
    values = np.asarray(intensity, dtype=float)
    if not np.all(np.isfinite(values)) or np.any(values < 0):
        raise ValueError(f"intensity must be finite and non-negative, got {intensity!r}")
    attainable = np.minimum(peak, values * bandwidth)
    return float(attainable) if attainable.ndim == 0 else attainable
