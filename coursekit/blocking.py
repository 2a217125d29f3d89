"""Sizes at which cache blocking, and nothing else, makes a matrix product faster.

A loop-reordered `i, k, j` product already walks `B` and `C` along rows, so it is as fast
as a tiled one wherever `B` stays in a cache: each row of `A` re-reads all of `B`, and a
cache that holds `B` serves it at close to the loop's compute speed. With `B` inside L3 the
reorder keeps pace with the course's tiled reference; with `B` beyond it the reference wins
clearly, because the reorder then streams `B` from memory once per row of `A` while a tiled
kernel reuses each tile of `B` for a whole tile of rows (measured on an AMD EPYC: the
instructor guide, "Blocking (matmul)", has the figures). So `B` is sized from the machine's
own caches, beyond the outermost one the OS reports (and so well beyond L2), and `A` gets
just enough rows for that reuse to pay, within the speed cell's time budget.

Cache sizes are never typed here: they come from `MachineInfo.cache_bytes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from coursekit.machine import MachineInfo, describe_machine
from coursekit.speedcheck import ROUNDS

# B is float32 (the origin page's inputs); C is float64, as the baseline makes it.
B_ITEMSIZE = 4
# B is this many times the outermost cache: an LRU cache (or any policy that cannot tell
# which part of B comes next) streaming twice its size holds none of B when a row of A
# comes back to it.
BEYOND_OUTERMOST_CACHE = 2
# K and N are rounded up to a multiple of this: whole 64-byte lines of float32 per row
# of B, and whole tiles for the common power-of-two tile sizes.
ALIGN = 64
# Rows of A: a tiled kernel reads each tile of B once per tile of rows, the reorder once
# per row, so 64 rows leave room for a 64-fold difference in memory traffic (tiles of 16
# to 64 rows all earn it); fewer rows only where the budget forces it, never below 16.
ROWS = 64
MIN_ROWS = 16
# Calls of each kernel in the speed cell: two measurements of coursekit.speedcheck's loop,
# the student's visible one and the grader's, each a first (compiling, or in the grader
# correctness) call, one loop-calibration call and ROUNDS interleaved rounds. A test checks
# it against the grader.
CELL_CALLS = 2 * (1 + 1 + ROUNDS)
# The slowest an i, k, j numba loop plausibly multiplies and adds while streaming float32
# B from memory: 4 GB/s of B, what one core of an old laptop reads from DRAM (one core of
# the EPYC above streamed B at about 4e9 multiply-adds/s). Used only to predict the time.
SLOW_MULTIPLY_ADDS_PER_SECOND = 1e9
# The speed cell's time budget: the grader's limit for one test cell
# (autograder.defaults.TEST_CELL_TIMEOUT, which a test keeps equal to this).
CELL_BUDGET_SECONDS = 300.0
# The speed cell's sizes must be predicted to take at most this share of its time budget
# at the slow rate, leaving the rest to a loaded machine and to setting up the inputs.
BUDGET_SHARE = 0.5


class BlockingSizeError(ValueError):
    """No sizes satisfy both 'B beyond the caches' and the time budget on this machine."""


@dataclass(frozen=True)
class BlockingSizes:
    """Shapes of A (m x k) and B (k x n) for the blocking speed check, and why."""

    m: int
    k: int
    n: int
    l2_bytes: int
    outermost_level: int
    outermost_bytes: int

    @property
    def b_bytes(self) -> int:
        return self.k * self.n * B_ITEMSIZE

    @property
    def multiply_adds(self) -> int:
        return self.m * self.k * self.n

    def predicted_seconds(self, calls: int = CELL_CALLS,
                          multiply_adds_per_second: float = SLOW_MULTIPLY_ADDS_PER_SECOND) -> float:
        """Time of the speed cell: `calls` calls of each of the two kernels at the given rate."""
        return 2 * calls * self.multiply_adds / multiply_adds_per_second

    def describe(self) -> str:
        return (f"A {self.m} x {self.k}, B {self.k} x {self.n} float32 ({self.b_bytes / 2**20:.0f} MiB: "
                f"{self.b_bytes / self.l2_bytes:.0f}x the {self.l2_bytes / 2**20:g} MiB L2, "
                f"{self.b_bytes / self.outermost_bytes:.0f}x the {self.outermost_bytes / 2**20:g} MiB "
                f"L{self.outermost_level})")


def _round_up(value: float, unit: int) -> int:
    return unit * math.ceil(value / unit)


def blocking_sizes(machine: MachineInfo | None = None, budget_seconds: float = CELL_BUDGET_SECONDS, *,
                   calls: int = CELL_CALLS,
                   multiply_adds_per_second: float = SLOW_MULTIPLY_ADDS_PER_SECOND) -> BlockingSizes:
    """Shapes for timing a tiled product against an `i, k, j` one on `machine`.

    B (square, float32) is BEYOND_OUTERMOST_CACHE times the outermost data cache the OS
    reports; A has ROWS rows, halved (down to MIN_ROWS) until `calls` calls of both kernels
    at `multiply_adds_per_second` fit in BUDGET_SHARE of `budget_seconds`.
    Raises BlockingSizeError where the OS reports no L2 or no rows fit the budget.
    """
    machine = machine or describe_machine()
    l2_bytes, outer = machine.cache_bytes(2), machine.outermost_cache()
    if not l2_bytes or outer is None:
        raise BlockingSizeError("the OS reports no L2 cache here, so no size can be said to lie beyond it")
    level, outermost = outer.level, outer.size_bytes
    side = _round_up(math.sqrt(BEYOND_OUTERMOST_CACHE * outermost / B_ITEMSIZE), ALIGN)
    rows = ROWS
    while True:
        sizes = BlockingSizes(rows, side, side, l2_bytes, level, outermost)
        if sizes.predicted_seconds(calls, multiply_adds_per_second) <= BUDGET_SHARE * budget_seconds:
            return sizes
        if rows // 2 < MIN_ROWS:
            raise BlockingSizeError(
                f"{sizes.describe()} would take {sizes.predicted_seconds(calls, multiply_adds_per_second):.0f} s "
                f"at {multiply_adds_per_second:.1e} multiply-adds/s, over {BUDGET_SHARE:.0%} of the "
                f"{budget_seconds:.0f} s budget even with {rows} rows")
        rows //= 2
