"""Sizes at which an int8 matrix product beats fp32 by its bytes, on any instruction set.

int8 speeds a product up in two ways: it moves a quarter of fp32's bytes, and, where the
CPU has the instructions, it does more multiply-adds per instruction. Only the first holds
on every CPU. On compute-bound products compiled for an AVX2-only CPU (int8 x int8 is
widened to 16 bits before `vpmaddwd`) the int8 kernel gains too little over fp32 to grade;
multiplying one row by a weight matrix beyond the outermost cache, it wins clearly with
AVX-512 and with AVX2 only, because both kernels then wait for memory and int8 waits for a
quarter of the bytes, while a scalar int8 loop, or one that converts to float32 first, loses
to fp32 (measured on an AMD EPYC: the instructor guide, "Quantization", has the figures).

So the graded product is a *batch of one*: one row of activations `A` (1 x K) times a
weight matrix `B` (K x N) that is BEYOND_OUTERMOST_CACHE times the outermost cache the OS
reports, in int8 (4 times that in fp32). With one row every kernel, whatever its loop
order, reads `B` exactly once, so reusing `B` across rows cannot stand in for moving fewer
bytes, and a kernel that converts `B` to float32 first moves more bytes than the fp32
kernel itself. `B` is passed as the transpose of a row-major (N x K) matrix, the layout in
which PyTorch's `nn.Linear` stores its weights: `B.T` is contiguous, so the dot form needs
no copy.

Cache sizes are never typed here: they come from `MachineInfo.cache_bytes`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The speed cell's calls, time budget and the share of it a prediction may take are the
# blocking cell's: the same loop, timed under the same limit.
from coursekit.blocking import (
    ALIGN,
    BEYOND_OUTERMOST_CACHE,
    BUDGET_SHARE,
    CELL_BUDGET_SECONDS,
    CELL_CALLS,
)
from coursekit.machine import MachineInfo, describe_machine

# A batch of one: every design reads B once (see the module's docstring).
ROWS = 1
# Bytes the speed check keeps per process: A and B in int8 and in float32 (5 bytes per
# entry of B), which must stay within this share of the grader's memory limit for one
# process (MEMORY_LIMIT_BYTES), leaving the rest to numba, NumPy and the submission.
INPUT_BYTES_PER_ENTRY = 1 + 4
MEMORY_LIMIT_BYTES = 4 * 2**30  # autograder.sandbox.Limits.memory_bytes (a test keeps them equal)
MEMORY_SHARE = 0.25
# The slowest plausible stream from memory for one core of a grading machine (an old
# laptop reads 4 GB/s or more; one core of the EPYC above, about 30 GB/s). Used only to
# predict the time of the cell.
SLOW_BYTES_PER_SECOND = 1e9


class Int8SizeError(ValueError):
    """No size puts B beyond the caches within the memory and time budget on this machine."""


@dataclass(frozen=True)
class Int8Sizes:
    """Shapes of A (m x k) and B (k x n) for the int8-vs-fp32 speed check, and why."""

    m: int
    k: int
    n: int
    outermost_level: int
    outermost_bytes: int
    memory_capped: bool = False  # B cut to the memory budget, so it lies within the outermost cache

    @property
    def int8_bytes(self) -> int:
        """Bytes of B in int8 (the kernels' traffic is B; A is one row)."""
        return self.k * self.n

    @property
    def fp32_bytes(self) -> int:
        return 4 * self.int8_bytes

    @property
    def input_bytes(self) -> int:
        """What make_inputs keeps in each process: A and B in int8 and in float32."""
        return INPUT_BYTES_PER_ENTRY * (self.m * self.k + self.k * self.n)

    def predicted_seconds(self, calls: int = CELL_CALLS,
                          bytes_per_second: float = SLOW_BYTES_PER_SECOND) -> float:
        """Time of the speed cell: `calls` calls of the int8 and of the fp32 kernel at that rate."""
        return calls * (self.int8_bytes + self.fp32_bytes) / bytes_per_second

    def describe(self) -> str:
        capped = ("; capped by the grader's memory limit, so B lies within that cache, read at its "
                  "bandwidth" if self.memory_capped else "")
        return (f"A {self.m} x {self.k}, B {self.k} x {self.n} ({self.int8_bytes / 2**20:.0f} MiB in int8, "
                f"{self.fp32_bytes / 2**20:.0f} MiB in float32; the L{self.outermost_level} is "
                f"{self.outermost_bytes / 2**20:g} MiB{capped})")


def int8_speed_sizes(machine: MachineInfo | None = None, budget_seconds: float = CELL_BUDGET_SECONDS, *,
                     calls: int = CELL_CALLS, bytes_per_second: float = SLOW_BYTES_PER_SECOND,
                     memory_limit_bytes: int = MEMORY_LIMIT_BYTES) -> Int8Sizes:
    """Shapes for timing an int8 product against an fp32 one where bytes decide, on `machine`.

    B is square, BEYOND_OUTERMOST_CACHE times the outermost data cache the OS reports in
    int8, K = N rounded up to ALIGN; A has ROWS rows. Where the inputs would not fit
    MEMORY_SHARE of the memory limit (an outermost cache of hundreds of MiB, as some server
    CPUs report), B is cut to the largest square that fits: it then lies in that cache, whose
    bandwidth per core bounds both kernels as memory does elsewhere, so bytes still decide.
    Raises Int8SizeError where the OS reports no L2, or where the cell would not fit
    BUDGET_SHARE of its time budget at `bytes_per_second`.
    """
    machine = machine or describe_machine()
    outer = machine.outermost_cache()
    if outer is None:
        raise Int8SizeError("the OS reports no L2 cache here, so no size can be said to lie beyond the caches")
    level, outermost = outer.level, outer.size_bytes
    side = ALIGN * math.ceil(math.sqrt(BEYOND_OUTERMOST_CACHE * outermost) / ALIGN)
    sizes = Int8Sizes(ROWS, side, side, level, outermost)
    if sizes.input_bytes > MEMORY_SHARE * memory_limit_bytes:
        # The largest K = N (a multiple of ALIGN) whose inputs, A included, fit the share.
        side = ALIGN * math.floor(math.sqrt(MEMORY_SHARE * memory_limit_bytes / INPUT_BYTES_PER_ENTRY) / ALIGN)
        while Int8Sizes(ROWS, side, side, level, outermost).input_bytes > MEMORY_SHARE * memory_limit_bytes:
            side -= ALIGN
        sizes = Int8Sizes(ROWS, side, side, level, outermost, memory_capped=True)
    if sizes.predicted_seconds(calls, bytes_per_second) > BUDGET_SHARE * budget_seconds:
        raise Int8SizeError(f"{sizes.describe()} would take {sizes.predicted_seconds(calls, bytes_per_second):.0f} s "
                            f"at {bytes_per_second:.1e} bytes/s, over {BUDGET_SHARE:.0%} of the "
                            f"{budget_seconds:.0f} s budget")
    return sizes
