"""The grader's speed measurement and credit rule, to run on your own machine.

The autograder times a kernel against a baseline with this loop and judges the ratio with
exactly this rule (`autograder.timing_harness` and `autograder.speed` import the loop's
parts and the rule from here, so the two cannot disagree): each timing repeats the call
until it lasts at least MIN_REQUEST_SECONDS, the two kernels alternate over ROUNDS rounds
(which one goes first alternates too), and the speedup is the median of the per-round
ratios. The grader adds what a grader needs and your own measurement does not: every timed
call gets inputs no earlier call saw, and the results are checked against a clean process's.
Thresholds come from the reference solution's speedup R measured the same way on the
grading machine: full credit from R ** FULL_CREDIT_EXPONENT, none at or below
R ** ZERO_CREDIT_EXPONENT, and in between a share on a log scale rounded down to a multiple
of CREDIT_STEP.

    result = measure_speedup(my_kernel, baseline_kernel, make_inputs)
    print(result)
    predicted_credit(result.median)            # the reference ratios that would give full or no credit
    predicted_credit(result.median, 9.0)       # the share, had the reference measured 9x

Your machine is not the grading machine: the prediction holds if the grading machine
behaves like yours (same cache sizes, vector width and core count).
"""

from __future__ import annotations

import math
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

# Each timing runs the kernel for at least this long, so the overhead around one timing
# (a clock read here; a pipe round trip of about 0.1 ms in the grader) stays under 1%.
MIN_REQUEST_SECONDS = 0.05
# Interleaved rounds per measurement; the median of 7 ratios moves by a few percent between
# runs on a quiet machine and survives one loaded core (the grader's tests check both).
ROUNDS = 7
# Thresholds on a log scale, because speedups multiply: full credit from the square root
# of the reference speedup (half its orders of magnitude), nothing at or below its fifth
# root. A reference 16x faster than the baseline gives full credit from 4x and none at or
# below 1.74x; a reference 1.5x faster, full from 1.22x, none at or below 1.08x. Either way
# an unoptimised kernel (1x) gets nothing.
FULL_CREDIT_EXPONENT = 0.5
ZERO_CREDIT_EXPONENT = 0.2
# Partial credit moves in these steps, so noise near a boundary rarely changes a grade.
CREDIT_STEP = 0.25
# pyperf warns when the standard deviation of its runs exceeds 10% of their mean. For 7
# rounds the range (max - min) is about 2.7 standard deviations: a range over 25% of the
# median says the same.
UNSTABLE_SPREAD = 0.25
# Bound at import, like the grader's: the loop below reads no other clock.
_CLOCK = time.perf_counter
# Set by the grader while it runs a notebook: there a student's functions are proxies to
# another process, so a comparison timed in the test cell would time the pipe (one call
# ships its inputs), not the kernel. The graded check times the kernel properly instead.
_LEFT_TO_THE_GRADER: ContextVar[bool] = ContextVar("left_to_the_grader", default=False)


class NotTimedWhileGrading(Exception):
    """`measure_speedup` inside the grader, which times the kernel in its own check."""


@contextmanager
def left_to_the_grader() -> Iterator[None]:
    """Inside the block, `measure_speedup` raises NotTimedWhileGrading instead of timing."""
    token = _LEFT_TO_THE_GRADER.set(True)
    try:
        yield
    finally:
        _LEFT_TO_THE_GRADER.reset(token)


def loops_for(seconds_per_request: Callable[[int], float]) -> int:
    """Double a loop count until one request of that many calls lasts MIN_REQUEST_SECONDS.

    `seconds_per_request(loops)` runs the kernel `loops` times and returns the seconds taken.
    """
    loops = 1
    while seconds_per_request(loops) < MIN_REQUEST_SECONDS:
        loops *= 2
    return loops


def baseline_goes_first(round_number: int) -> bool:
    """The order within a round: the baseline first in even rounds, so a drift affects both alike."""
    return round_number % 2 == 0


def interleaved_ratios(time_baseline: Callable[[], float], time_candidate: Callable[[], float],
                       rounds: int = ROUNDS) -> list[float]:
    """Baseline time over candidate time in each of `rounds` rounds.

    Each callable times one request and returns seconds per call. Which side goes first
    alternates (the baseline in even rounds), so a slow drift affects both alike.
    """
    ratios = []
    for round_number in range(rounds):
        if baseline_goes_first(round_number):
            baseline_time, candidate_time = time_baseline(), time_candidate()
        else:
            candidate_time, baseline_time = time_candidate(), time_baseline()
        ratios.append(baseline_time / candidate_time)
    return ratios


@dataclass(frozen=True)
class Speedup:
    """How many times faster a candidate ran than its baseline: median, spread, every round."""

    median: float
    spread: float  # (max - min) / median of the per-round ratios
    ratios: tuple[float, ...]

    @classmethod
    def from_ratios(cls, ratios) -> Speedup:
        median = statistics.median(ratios)
        return cls(median, (max(ratios) - min(ratios)) / median, tuple(ratios))

    @property
    def warning(self) -> str | None:
        """A plain-language warning when the rounds disagree, as pyperf gives; None when they agree."""
        if self.spread < UNSTABLE_SPREAD:
            return None
        return (f"the rounds varied by {self.spread:.0%} of their median, so something else was "
                f"running; the median is kept, but measure again on a quieter machine to trust it")

    def __str__(self) -> str:
        text = (f"{self.median:.2f}x faster (median of {len(self.ratios)} interleaved rounds, "
                f"spread {self.spread:.0%}; rounds: {', '.join(f'{r:.2f}' for r in self.ratios)})")
        return f"{text}\nwarning: {self.warning}" if self.warning else text


class _Timed:
    """One kernel on its own inputs, timed in requests of `loops` calls."""

    def __init__(self, function: Callable, args: tuple):
        self.function, self.args, self.loops = function, args, 1

    def request(self, loops: int) -> float:
        function, args, clock = self.function, self.args, _CLOCK
        started = clock()
        for _ in range(loops):
            function(*args)
        return clock() - started

    def seconds_per_call(self) -> float:
        return self.request(self.loops) / self.loops


def measure_speedup(candidate: Callable, baseline: Callable, make_inputs: Callable, seed: int = 0) -> Speedup:
    """Time `candidate` against `baseline` as the grader does, on `make_inputs(seed)`.

    `make_inputs(seed)` returns the argument tuple; each kernel gets its own copy, as in
    the grader. The first call of each compiles and warms up, and is never timed.
    """
    if _LEFT_TO_THE_GRADER.get():
        raise NotTimedWhileGrading("your own comparison runs on your machine only; the graded check "
                                   "below times your kernel on the grading machine")
    baseline_side = _Timed(baseline, tuple(make_inputs(seed)))
    candidate_side = _Timed(candidate, tuple(make_inputs(seed)))
    for side in (baseline_side, candidate_side):
        side.function(*side.args)
        side.loops = loops_for(side.request)
    return Speedup.from_ratios(interleaved_ratios(baseline_side.seconds_per_call, candidate_side.seconds_per_call))


def thresholds(reference_speedup: float) -> tuple[float, float]:
    """(full credit from, no credit at or below) for a reference `reference_speedup` times faster."""
    return reference_speedup ** FULL_CREDIT_EXPONENT, reference_speedup ** ZERO_CREDIT_EXPONENT


def credit_share(speedup: float, full_credit: float, zero_credit: float) -> float:
    """The share of a speed check's points a speedup earns between the two thresholds."""
    if speedup >= full_credit:
        return 1.0
    if speedup <= zero_credit or full_credit <= zero_credit:
        return 0.0
    fraction = math.log(speedup / zero_credit) / math.log(full_credit / zero_credit)
    return math.floor(fraction / CREDIT_STEP) * CREDIT_STEP


def predicted_credit(speedup: float, reference_speedup: float | None = None) -> float | None:
    """Print a one-line prediction of the credit `speedup` earns; return the share (None without R).

    Without `reference_speedup` (students do not know the grading machine's), the line says
    which reference speedups would give full credit (R <= speedup ** 2) and none
    (R >= speedup ** 5).
    """
    if reference_speedup is None:
        if speedup <= 1:
            print(f"{speedup:.2f}x earns no speed credit, whatever the reference measures")
        else:
            print(f"{speedup:.2f}x earns full credit wherever the reference solution is at most "
                  f"{speedup ** (1 / FULL_CREDIT_EXPONENT):.2f}x faster than the baseline, and none where it is "
                  f"{speedup ** (1 / ZERO_CREDIT_EXPONENT):.2f}x or more")
        return None
    full, zero = thresholds(reference_speedup)
    share = credit_share(speedup, full, zero)
    print(f"{speedup:.2f}x against a reference at {reference_speedup:.2f}x: full credit from {full:.2f}x, "
          f"none at or below {zero:.2f}x, so {share:.0%} of the speed points")
    return share
