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

from collections.abc import Callable
from dataclasses import dataclass

from autograder.compare import assert_matches, describe_case
from autograder.sandbox import Remote, process_of
from autograder.session import current
from autograder.thresholds import CalibrationError
from autograder.timing_harness import TimedSide, measure
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


def speed_check(check_id: str, candidate, baseline: Callable, make_inputs: Callable, *,
                compare: Callable = assert_same_result, baseline_name: str = "the baseline") -> Credit:
    """Time `candidate` against `baseline` on `make_inputs(seed)`; return the credit earned.

    `make_inputs(seed)` returns the argument tuple; it runs in each process, so both get
    the same inputs without copying them. `compare(expected, actual)` raises
    AssertionError when the candidate's result is wrong, which fails the check outright.
    Make the call the last line of its test cell: the grader turns the returned Credit
    into that cell's partial points.
    """
    context = current()
    student = process_of(candidate) if isinstance(candidate, Remote) else None
    if student is not None and context is None:
        raise CalibrationError("speed_check needs a grading session while grading")
    threshold = None
    if context is not None and not context.calibrating:
        if context.calibration is None or check_id not in context.calibration.checks:
            raise CalibrationError(f"no calibration for {check_id!r}: run `autograder calibrate` "
                                   f"on this grading machine first")
        threshold = context.calibration.checks[check_id]
    seed = context.seed if context is not None else 0
    reference = context.reference_process() if student is not None and context is not None else None
    baseline_side = TimedSide(baseline, make_inputs, seed, reference)
    candidate_side = TimedSide(candidate, make_inputs, seed, student)

    try:
        compare(baseline_side.first_result(), candidate_side.first_result())  # also the warm-up
    except AssertionError as error:
        error.add_note(_timed_case(check_id, make_inputs, seed))
        raise
    measured_speedup = measure(candidate_side, baseline_side, student)
    speedup = measured_speedup.median
    pace = f"{speedup:.2f}x faster than" if speedup >= 1 else f"{speedup:.2f}x the speed of (slower than)"
    measured = (f"{check_id}: {pace} {baseline_name} (median of {ROUNDS} "
                f"interleaved rounds, spread {measured_speedup.spread:.0%}, input seed {seed})")
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
