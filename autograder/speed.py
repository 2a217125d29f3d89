"""Speed checks: a submission's kernel against a baseline, timed in the same run.

A hidden test calls `speed_check(check_id, candidate, baseline, make_inputs)`. While
grading, the candidate runs in the submission's process and the baseline in a clean
process of its own, on identical inputs built in each from one seed drawn at grading
time. Correctness gates speed: the first call of each is compared before anything is
timed. Then `autograder.timing_harness` times the two in interleaved rounds. The verdict
is the median ratio, judged against thresholds calibrated on this machine from the
reference solution (`autograder.thresholds`), never against typed seconds.

This is the module hidden tests import speed checks from; the rest is private.

Outside the grader (an instructor running a solution notebook) both run locally and the
ratio is printed, not judged.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from autograder.compare import assert_matches, describe_case
from autograder.sandbox import Remote, process_of
from autograder.session import current
from autograder.thresholds import CalibrationError
from autograder.timing_harness import TimedSide, UnprovenWork, first_results, measure
from coursekit.speedcheck import ROUNDS

__all__ = ["Credit", "assert_same_result", "speed_check"]


@dataclass(frozen=True)
class Credit:
    """The share of a test cell's points a speed check earned, with the reason in words."""

    fraction: float
    message: str


def assert_same_result(expected, actual) -> None:
    """The default correctness gate: equal shapes, values within float32 rounding."""
    assert_matches(actual, expected, case="the result on the timed input", rtol=1e-5, atol=1e-6)


def _timed_case(check_id: str, make_inputs: Callable, seed: int) -> str:
    """The timed input in words, built here from the hidden test's own factory (never the submission's)."""
    try:
        inputs = describe_case(*make_inputs(seed), seed=seed)
    except Exception:  # a factory that needs the submission's process: the seed still reproduces it
        inputs = f"inputs drawn from seed {seed}"
    return f"{check_id} checks the result before timing it; the timed input: {inputs}"


def _unpassed(context, requires: tuple[str, ...]) -> list[str]:
    """The required test cells that did not pass in this grading (none outside the grader)."""
    if context is None or context.student is None:
        return []
    return [cell for cell in requires if not context.passed_cells.get(cell, False)]


def speed_check(check_id: str, candidate, baseline: Callable, make_inputs: Callable, *,
                compare: Callable = assert_same_result, baseline_name: str = "the baseline",
                requires: tuple[str, ...] = ()) -> Credit:
    """Time `candidate` against `baseline` on fresh inputs; return the credit earned.

    `make_inputs(seed)` returns the argument tuple; it runs in each process, so both get
    the same inputs without copying them. It is called with a new seed for every timed
    call (see `autograder.timing_harness`): build what every call shares once (cached in
    the factory) and draw from the seed what each result depends on. `compare(expected,
    actual)` raises AssertionError when the candidate's result is wrong, which fails the
    check outright before timing, and takes the speed credit away when a timed call's
    result is wrong. `requires` names the test cells (grade ids) that check the same
    function's correctness: correctness gates speed, so without them passed in this
    grading the check earns nothing. Make the call the last line of its test cell: the
    grader turns the returned Credit into that cell's partial points.
    """
    context = current()
    student = process_of(candidate) if isinstance(candidate, Remote) else None
    if student is not None and context is None:
        raise CalibrationError("speed_check needs a grading session while grading")
    unpassed = _unpassed(context, requires)
    if unpassed:
        return Credit(0.0, f"{check_id}: no speed credit. Correctness gates speed: the function must first "
                           f"pass {', '.join(unpassed)} (every case, the odd shapes included), and it did not "
                           f"in this grading. Fix that cell's failure first; the speed is not measured.")
    threshold = None
    if context is not None and not context.calibrating:
        if context.calibration is None or check_id not in context.calibration.checks:
            raise CalibrationError(f"no calibration for {check_id!r}: run `autograder calibrate` "
                                   f"on this grading machine first")
        threshold = context.calibration.checks[check_id]
    seed = context.seed if context is not None else 0
    reference = context.reference_process() if student is not None and context is not None else None
    baseline_side = TimedSide(baseline, make_inputs, reference)
    candidate_side = TimedSide(candidate, make_inputs, student)

    try:
        expected, actual = first_results(candidate_side, baseline_side, seed)  # also the warm-up
        try:
            compare(expected, actual)
        except AssertionError as error:
            error.add_note(_timed_case(check_id, make_inputs, seed))
            raise
        try:
            measured_speedup = measure(candidate_side, baseline_side, student, compare, itertools.count(seed + 1),
                                       result_bytes=_result_bytes(actual))
        except UnprovenWork as error:
            if context is not None and context.calibrating:
                raise
            return Credit(0.0, f"{check_id}: no speed credit: {error}")
    finally:
        for side in (candidate_side, baseline_side):
            side.close()
    speedup = measured_speedup.median
    pace = f"{speedup:.2f}x faster than" if speedup >= 1 else f"{speedup:.2f}x the speed of (slower than)"
    measured = (f"{check_id}: {pace} {baseline_name} (median of {ROUNDS} interleaved rounds on fresh "
                f"inputs, every result counted and sampled results checked, spread "
                f"{measured_speedup.spread:.0%}, input seed {seed})")
    if measured_speedup.warning:
        measured += f" (warning: {measured_speedup.warning})"
    if context is not None and context.calibrating:
        context.measurements.setdefault(check_id, []).append(speedup)
        return Credit(1.0, measured + " - recorded for calibration")
    if threshold is None:
        return Credit(1.0, measured + " - not judged outside the grader")
    if not threshold.judged:
        return Credit(1.0, f"{measured}. Not judged on this machine: {threshold.not_judged_reason()}, so "
                           f"the points go to every correct kernel.")
    credit = threshold.credit(speedup)
    verdict = ("full credit" if credit == 1 else "no credit" if credit == 0 else f"{credit:.0%} of the credit")
    return Credit(credit, f"{measured}. Full credit from {threshold.full_credit:.2f}x, none at or "
                          f"below {threshold.zero_credit:.2f}x (the reference solution is "
                          f"{threshold.reference_speedup:.2f}x on this machine): {verdict}.")


def _result_bytes(result) -> int:
    """The bytes one result holds (arrays, numbers, or containers of them)."""
    if isinstance(result, (list, tuple)):
        return sum(_result_bytes(item) for item in result)
    if isinstance(result, dict):
        return sum(_result_bytes(item) for item in result.values())
    return int(np.asarray(result).nbytes) if isinstance(result, (np.ndarray, np.generic, int, float)) else 0
