"""Memory-hierarchy micro-benchmarks: load latency by pointer chasing, read bandwidth by streaming.

In a pointer chase every load needs the address the previous load returned, so loads cannot
overlap and the time per load is the latency of wherever the chain lives (L1, L2, L3, DRAM); a
random cyclic order also defeats the prefetchers. Streaming reads are independent, so the
hardware overlaps them and the same sweep measures bandwidth instead. Cache sizes are never
typed here: sweeps are built from what `coursekit.machine` reads from the OS.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from coursekit.checks import multiple_of, positive_int
from coursekit.machine import MachineInfo, describe_machine
from coursekit.timing import best_times

# int64 indices and float64 values: one element is 8 bytes.
ELEMENT_BYTES = 8
# The line size of x86-64 and most ARM cores, used only where the OS reports no cache.
FALLBACK_LINE_BYTES = 64
# Loads per latency timing: about 0.1 s at DRAM latency (~100 ns), yet over 1 ms at L1 latency
# (~1 ns), far above the clock's step.
LATENCY_LOADS = 2**20
# Bytes streamed per bandwidth timing: a few ms even at L1 speed (~100 GB/s), so the clock's step
# is negligible; large working sets are read once, whatever their size.
MIN_READ_BYTES = 2**26
# Timings per point after one discarded warm-up call (compilation, first touch of the pages);
# the minimum is kept because interference only ever adds time.
REPEATS = 3
# Working-set sizes per doubling: enough to see each step of the staircase, few enough for seconds.
POINTS_PER_OCTAVE = 2
# Smallest working set: one page, well inside any L1 data cache.
SMALLEST_WORKING_SET = 4096
# Largest working set: beyond most last-level caches, yet allocatable on a laptop.
LARGEST_WORKING_SET = 2**30
# The sweep ends this many times above the largest cache, so that memory itself is reached.
BEYOND_LAST_CACHE = 2


def _require_line_bytes(line_bytes) -> None:
    multiple_of("line_bytes", line_bytes, ELEMENT_BYTES, "the element size")
    if line_bytes & (line_bytes - 1):
        raise ValueError(f"line_bytes must be a power of two, got {line_bytes}")


def line_bytes_of(machine: MachineInfo | None = None) -> int:
    """Line size of the first data (or unified) cache the OS reports; 64 where it reports none."""
    machine = machine or describe_machine()
    for cache in machine.caches:
        if cache.kind in ("Data", "Unified") and cache.line_bytes > 0:
            return cache.line_bytes
    return FALLBACK_LINE_BYTES


def best_seconds(function, *args, repeats: int = REPEATS) -> float:
    """Fastest of `repeats` timed calls, after one untimed warm-up call (it may compile)."""
    positive_int("repeats", repeats)
    return best_times(lambda: function(*args), rounds=repeats)[0]


def random_cycle(n: int, seed: int = 0) -> np.ndarray:
    """Successor array of one random cycle through all n slots: following it from any slot visits every slot.

    A random permutation alone would split into several short cycles; linking the slots in a
    shuffled order gives a single one, so a chase can never get stuck in a small, cached loop.
    """
    positive_int("n", n)
    order = np.random.default_rng(seed).permutation(n)
    successor = np.empty(n, np.int64)
    successor[order] = np.roll(order, -1)
    return successor


def chase_chain(working_set_bytes: int, line_bytes: int = FALLBACK_LINE_BYTES, seed: int = 0) -> np.ndarray:
    """An int64 array of working_set_bytes whose first slot of each cache line holds the index of the next.

    One pointer per line makes every load of the chase touch a different line.
    """
    _require_line_bytes(line_bytes)
    multiple_of("working_set_bytes", working_set_bytes, line_bytes, "the line size")
    step = line_bytes // ELEMENT_BYTES
    chain = np.zeros(working_set_bytes // ELEMENT_BYTES, np.int64)
    chain[::step] = random_cycle(working_set_bytes // line_bytes, seed) * step
    return chain


@njit(cache=False)
def _chase(chain, loads):
    """Follow the chain `loads` times; returning the last index keeps the loop from being optimised away."""
    i = 0
    for _ in range(loads):
        i = chain[i]
    return i


def pointer_chase_ns(working_set_bytes: int, line_bytes: int | None = None, loads: int = LATENCY_LOADS,
                     repeats: int = REPEATS, seed: int = 0) -> float:
    """Nanoseconds per dependent load, chasing a random cycle through a working set of this size."""
    positive_int("loads", loads)
    chain = chase_chain(working_set_bytes, line_bytes or line_bytes_of(), seed)
    return best_seconds(_chase, chain, loads, repeats=repeats) / loads * 1e9


@njit(fastmath=True, cache=False)
def _sum_passes(values, passes):
    """Sum `values` `passes` times. fastmath lets LLVM split the sum over vector lanes and
    accumulators; without it the latency of each dependent add, not memory, would set the speed."""
    total = 0.0
    for _ in range(passes):
        for i in range(values.size):  # an index loop vectorizes; `for x in values` does not
            total += values[i]
    return total


def read_bandwidth_gbs(working_set_bytes: int, stride_bytes: int = ELEMENT_BYTES,
                       repeats: int = REPEATS) -> float:
    """Useful GB/s reading one float64 every stride_bytes of an array of working_set_bytes.

    Only the elements summed count as useful bytes: at a stride of one line or more, each 8 useful
    bytes cost a whole line from memory, which is what a stride sweep shows.
    """
    multiple_of("stride_bytes", stride_bytes, ELEMENT_BYTES, "the element size")
    multiple_of("working_set_bytes", working_set_bytes, ELEMENT_BYTES, "the element size")
    if stride_bytes > working_set_bytes:
        raise ValueError(f"stride_bytes ({stride_bytes}) exceeds working_set_bytes ({working_set_bytes})")
    values = np.ones(working_set_bytes // ELEMENT_BYTES)[:: stride_bytes // ELEMENT_BYTES]
    passes = max(1, -(-MIN_READ_BYTES // working_set_bytes))
    seconds = best_seconds(_sum_passes, values, passes, repeats=repeats)
    return values.size * ELEMENT_BYTES * passes / seconds / 1e9


def working_set_sizes(smallest: int, largest: int, per_octave: int = POINTS_PER_OCTAVE,
                      line_bytes: int = FALLBACK_LINE_BYTES) -> np.ndarray:
    """Geometrically spaced sizes from smallest to largest, whole lines each, per_octave per doubling."""
    _require_line_bytes(line_bytes)
    for name, value in (("smallest", smallest), ("largest", largest), ("per_octave", per_octave)):
        positive_int(name, value)
    if smallest < line_bytes or largest < smallest:
        raise ValueError(f"need line_bytes ({line_bytes}) <= smallest ({smallest}) <= largest ({largest})")
    count = int(np.ceil(np.log2(largest / smallest) * per_octave)) + 1
    sizes = np.round(np.geomspace(smallest, largest, count) / line_bytes) * line_bytes
    return np.unique(sizes.astype(np.int64))


def sweep_sizes(machine: MachineInfo | None = None, per_octave: int = POINTS_PER_OCTAVE) -> np.ndarray:
    """Working-set sizes that cross every cache this machine reports and end in main memory."""
    machine = machine or describe_machine()
    largest_cache = max((c.size_bytes for c in machine.caches if c.kind != "Instruction"), default=0)
    wanted = max(BEYOND_LAST_CACHE * largest_cache, 2 * SMALLEST_WORKING_SET)
    # A power of two at the top keeps sizes like 2 MiB and 1 GiB exact for any per_octave;
    # rounding up keeps the sweep at least BEYOND_LAST_CACHE times past an odd-sized cache.
    largest = min(LARGEST_WORKING_SET, 2 ** int(np.ceil(np.log2(wanted))))
    return working_set_sizes(SMALLEST_WORKING_SET, largest, per_octave, line_bytes_of(machine))
