"""Speed checks: a submission's kernel against a baseline, timed in the same run.

A hidden test calls `speed_check(check_id, candidate, baseline, make_inputs)`. While
grading, the candidate runs in the submission's process and the baseline in a clean
process of its own, on identical inputs built in each from one seed drawn at grading
time. Correctness gates speed: the first call of each is compared before anything is
timed. Then the two are timed in interleaved rounds by the grader's own clock around
each request (never by a clock inside the submission); the submission's process is
stopped while the baseline runs, so it cannot slow the baseline down. The verdict is the
median ratio, judged against thresholds calibrated on this machine from the reference
solution (`autograder calibrate`), never against typed seconds.

Outside the grader (an instructor running a solution notebook) both run locally and the
ratio is printed, not judged.
"""

from __future__ import annotations

import fcntl
import json
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from autograder.compare import assert_matches, describe_case
from autograder.sandbox import Remote, StudentProcess, process_of, ref_of
from autograder.session import current
from coursekit.machine import describe_machine
from coursekit.speedcheck import ROUNDS, Speedup, credit_share, interleaved_ratios, loops_for, thresholds

# The timing loop (MIN_REQUEST_SECONDS, ROUNDS, alternating order) and the credit rule
# (FULL_CREDIT_EXPONENT, ZERO_CREDIT_EXPONENT, CREDIT_STEP) live in coursekit.speedcheck,
# which students have, so the measurement they run is the grader's own.
# A reference solution must beat its baseline by at least this much on the grading
# machine; below it, noise decides the thresholds (a busy machine, or one core for a
# parallel check) and calibration stops instead of producing thresholds that invert.
MIN_REFERENCE_SPEEDUP = 1.2
# One lock per machine: two graders never time kernels at the same moment.
TIMING_LOCK = Path(tempfile.gettempdir()) / "kernels-autograder-timing.lock"
CALIBRATION_VERSION = 1
# Bound when the grader starts, before any submission could patch the time module.
_CLOCK = time.perf_counter


class CalibrationError(Exception):
    """No usable calibration for a speed check on this machine."""


@dataclass(frozen=True)
class Threshold:
    """Speedups that earn full and zero credit for one check on one machine."""

    reference_speedup: float
    full_credit: float
    zero_credit: float

    @classmethod
    def from_reference(cls, speedup: float) -> Threshold:
        if not speedup >= MIN_REFERENCE_SPEEDUP:
            raise CalibrationError(
                f"the reference solution is only {speedup:.2f}x faster than its baseline here, "
                f"below the {MIN_REFERENCE_SPEEDUP}x needed to tell an optimised kernel from an "
                f"unoptimised one: calibrate on a quiet machine (with several cores for parallel checks)")
        return cls(speedup, *thresholds(speedup))

    def credit(self, speedup: float) -> float:
        return credit_share(speedup, self.full_credit, self.zero_credit)


@dataclass
class Calibration:
    """Thresholds per check, measured on one machine (named by its fingerprint)."""

    machine: dict
    checks: dict[str, Threshold] = field(default_factory=dict)
    measurements: dict[str, list[float]] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        return self.machine["fingerprint"]

    def save(self, path: Path) -> None:
        data = {"version": CALIBRATION_VERSION, "machine": self.machine,
                "checks": {k: asdict(v) for k, v in sorted(self.checks.items())},
                "measurements": self.measurements}
        Path(path).write_text(json.dumps(data, indent=1))

    @classmethod
    def load(cls, path: str | Path) -> Calibration:
        data = json.loads(Path(path).read_text())
        if data.get("version") != CALIBRATION_VERSION:
            raise CalibrationError(f"{path} was written by another version of the grader; calibrate again")
        return cls(data["machine"], {k: Threshold(**v) for k, v in data["checks"].items()},
                   data.get("measurements", {}))

    @classmethod
    def from_measurements(cls, measurements: dict[str, list[float]]) -> Calibration:
        """Thresholds from repeated runs of the reference solution: the median of each check."""
        checks = {}
        for check, values in measurements.items():
            try:
                checks[check] = Threshold.from_reference(statistics.median(values))
            except CalibrationError as error:
                raise CalibrationError(f"{check}: {error}") from None
        return cls(describe_machine().as_dict(), checks, measurements)


@dataclass(frozen=True)
class Credit:
    """The share of a test cell's points a speed check earned, with the reason in words."""

    fraction: float
    message: str


@contextmanager
def _timing_lock():
    with TIMING_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


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


class _Side:
    """One kernel, its inputs and its process, timed by the grader's clock."""

    def __init__(self, function, make_inputs, seed: int, process: StudentProcess | None):
        self.process = process
        if process is None:  # local: no grader, no processes
            self.function, self.args = function, make_inputs(seed)
        else:
            self.function = function if isinstance(function, Remote) else process.put(function)
            factory = process.put(make_inputs)
            self.args = process.call(ref_of(factory), (seed,), {}, keep=True)
        self.loops = 1

    def first_result(self):
        if self.process is None:
            return self.function(*self.args)
        return self.process.apply(self.function, self.args, want_result=True)

    def seconds_per_call(self) -> float:
        clock = _CLOCK
        started = clock()
        if self.process is None:
            for _ in range(self.loops):
                self.function(*self.args)
        else:
            self.process.apply(self.function, self.args, loops=self.loops)
        return (clock() - started) / self.loops

    def calibrate_loops(self) -> None:
        """The loop count whose request lasts MIN_REQUEST_SECONDS (doubling, as pyperf does)."""
        def seconds_per_request(loops: int) -> float:
            self.loops = loops
            return self.seconds_per_call() * loops
        self.loops = loops_for(seconds_per_request)


def _timed(side: _Side, paused: StudentProcess | None) -> float:
    if paused is None:
        return side.seconds_per_call()
    with paused.suspended():
        return side.seconds_per_call()


def _measure(candidate: _Side, baseline: _Side, student: StudentProcess | None) -> Speedup:
    """ROUNDS interleaved rounds (coursekit's loop); the submission sleeps while the baseline runs."""
    return Speedup.from_ratios(interleaved_ratios(lambda: _timed(baseline, student), lambda: _timed(candidate, None)))


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
    baseline_side = _Side(baseline, make_inputs, seed, reference)
    candidate_side = _Side(candidate, make_inputs, seed, student)

    try:
        compare(baseline_side.first_result(), candidate_side.first_result())  # also the warm-up
    except AssertionError as error:
        error.add_note(_timed_case(check_id, make_inputs, seed))
        raise
    with _timing_lock():
        baseline_side.calibrate_loops()
        candidate_side.calibrate_loops()
        measured_speedup = _measure(candidate_side, baseline_side, student)
    speedup = measured_speedup.median
    measured = (f"{check_id}: {speedup:.2f}x faster than {baseline_name} (median of {ROUNDS} "
                f"interleaved rounds, spread {measured_speedup.spread:.0%}, input seed {seed})")
    if context is not None and context.calibrating:
        context.measurements.setdefault(check_id, []).append(speedup)
        return Credit(1.0, measured + " - recorded for calibration")
    if threshold is None:
        return Credit(1.0, measured + " - not judged outside the grader")
    credit = threshold.credit(speedup)
    verdict = ("full credit" if credit == 1 else "no credit" if credit == 0 else f"{credit:.0%} of the credit")
    return Credit(credit, f"{measured}. Full credit from {threshold.full_credit:.2f}x, none at or "
                          f"below {threshold.zero_credit:.2f}x (the reference solution is "
                          f"{threshold.reference_speedup:.2f}x on this machine): {verdict}.")
