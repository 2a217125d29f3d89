"""Trace-driven CPU cache simulator, compiled with numba, for teaching.

Containers expose no hardware cache counters, so the course counts misses by replaying
address traces through a model cache: set-associative, with true LRU replacement per set.
Producing the traces of a kernel is left to the student (the `matmul` assignment): it is
where locality becomes concrete. `matrix_bases` fixes where the matrices live, so every
trace of C = A @ B uses one layout and traces can be compared.
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from coursekit.checks import positive_int
from coursekit.machine import data_cache, read_caches

# The line size of x86-64 and most ARM cores, hence the default.
DEFAULT_LINE_BYTES = 64
# Matrices start on page boundaries, as a large allocation does, so no two share a line.
PAGE_BYTES = 4096
# Tag of a way that holds no line yet: traces are non-negative, so no line matches it.
EMPTY_TAG = -1


def _require_positive_ints(**values) -> None:
    """Reject non-integers and non-positive sizes before they reach compiled code."""
    for name, value in values.items():
        positive_int(name, value)


def _is_power_of_two(value: int) -> bool:
    return value & (value - 1) == 0


@dataclass(frozen=True)
class CacheConfig:
    """One cache level. ways == size_bytes // line_bytes is fully associative, 1 direct-mapped."""

    size_bytes: int
    line_bytes: int = DEFAULT_LINE_BYTES
    ways: int = 8

    def __post_init__(self) -> None:
        _require_positive_ints(size_bytes=self.size_bytes, line_bytes=self.line_bytes, ways=self.ways)
        if not _is_power_of_two(self.line_bytes):
            raise ValueError(f"line_bytes must be a power of two, got {self.line_bytes}")
        if self.size_bytes % (self.line_bytes * self.ways):
            raise ValueError(f"size_bytes ({self.size_bytes}) must be divisible by line_bytes * ways "
                             f"({self.line_bytes} * {self.ways})")

    @property
    def num_sets(self) -> int:
        return self.size_bytes // (self.line_bytes * self.ways)

    @classmethod
    def from_machine(cls, level: int) -> CacheConfig:
        """The data (or unified) cache of `level` on this machine, as the OS reports it."""
        cache = data_cache(read_caches(), level)
        if cache is not None:
            return cls(size_bytes=cache.size_bytes, line_bytes=cache.line_bytes, ways=cache.ways)
        raise LookupError(f"the OS reports no level-{level} data or unified cache")


@dataclass(frozen=True)
class CacheStats:
    """Counts of one simulated run; compulsory misses are first touches of a line, unavoidable at any size."""

    accesses: int
    hits: int
    misses: int
    compulsory_misses: int

    @property
    def miss_rate(self) -> float:
        return self.misses / self.accesses if self.accesses else 0.0


@numba.njit(cache=False)
def _lru_misses(lines, num_sets, ways):
    """Replay line numbers through an LRU set-associative cache; True where an access missed."""
    tags = np.full((num_sets, ways), EMPTY_TAG, np.int64)
    # Time of each way's last use; empty ways keep -1, so they are filled before anything is evicted.
    last_use = np.full((num_sets, ways), -1, np.int64)
    missed = np.zeros(lines.size, np.bool_)
    for t in range(lines.size):
        line = lines[t]
        s = line % num_sets  # real L3s have set counts that are not powers of two
        way = 0
        hit = False
        for w in range(ways):
            if tags[s, w] == line:
                way = w
                hit = True
                break
            if last_use[s, w] < last_use[s, way]:
                way = w
        tags[s, way] = line
        last_use[s, way] = t
        missed[t] = not hit
    return missed


def _as_trace(addresses) -> np.ndarray:
    trace = np.asarray(addresses)
    if not np.issubdtype(trace.dtype, np.integer):
        raise TypeError(f"addresses must be integer byte addresses, got dtype {trace.dtype}")
    if trace.ndim != 1:
        raise ValueError(f"addresses must be a 1-D trace, got shape {trace.shape}")
    trace = trace.astype(np.int64, copy=False)
    if trace.size and trace.min() < 0:
        raise ValueError("addresses must be non-negative and below 2**63")
    return trace


def _count_distinct(values: np.ndarray) -> int:
    """np.unique(values).size, but a sort and a compare run several times faster on 10**7 values."""
    ordered = np.sort(values)
    return int(np.count_nonzero(ordered[1:] != ordered[:-1])) + int(ordered.size > 0)


def _run(trace: np.ndarray, config: CacheConfig) -> tuple[CacheStats, np.ndarray]:
    lines = trace >> (config.line_bytes.bit_length() - 1)
    missed = _lru_misses(lines, config.num_sets, config.ways)
    misses = int(np.count_nonzero(missed))
    # Every first touch misses, so the distinct missed lines are the distinct lines, found in fewer.
    stats = CacheStats(accesses=trace.size, hits=trace.size - misses, misses=misses,
                       compulsory_misses=_count_distinct(lines[missed]))
    return stats, missed


def simulate(addresses, config: CacheConfig) -> CacheStats:
    """Hit and miss counts of a trace of byte addresses on one cache, starting cold."""
    return _run(_as_trace(addresses), config)[0]


def miss_mask(addresses, config: CacheConfig) -> np.ndarray:
    """A boolean array, True where that access of the trace missed: shows *which* accesses miss."""
    return _run(_as_trace(addresses), config)[1]


def simulate_hierarchy(addresses, configs: list[CacheConfig]) -> list[CacheStats]:
    """Counts per level, nearest first; each level sees only the misses of the one before, in order."""
    trace = _as_trace(addresses)
    levels = []
    for config in configs:
        stats, missed = _run(trace, config)
        levels.append(stats)
        trace = trace[missed]
    return levels


def matrix_bases(n: int, m: int, p: int, itemsize: int = 8) -> np.ndarray:
    """Start addresses of A (n x m), B (m x p) and C (n x p) for traces of C = A @ B.

    Each matrix starts on a fresh page, as a large allocation does, so no two share a line.
    Every trace in the course uses this layout, so that traces can be compared.
    """
    _require_positive_ints(n=n, m=m, p=p, itemsize=itemsize)

    def after(start: int, nbytes: int) -> int:
        return -(-(start + nbytes) // PAGE_BYTES) * PAGE_BYTES

    b = after(0, n * m * itemsize)
    return np.array([0, b, after(b, m * p * itemsize)], np.int64)
