"""The one module hidden tests import from: checks, speed checks, and helpers that place
objects inside the submission's process.

While the grader runs a test cell, student-defined names are proxies to a separate
process, and arguments travel there as copies. A test that needs one object shared by
two calls (a fake clock used as timer and advanced by the operation) or built there
(a view that must share its base's buffer) uses these helpers. Outside the grader, in
a plain notebook, they do the obvious local thing, so the same test runs in both.
"""

from __future__ import annotations

from autograder.anticheat import assert_no_blas, hand_written_problems, numba_functions_behind
from autograder.cells import python_source
from autograder.compare import assert_matches, case_seed, describe_case
from autograder.sandbox import Remote, process_of, ref_of
from autograder.session import current
from autograder.speed import Credit, speed_check
from autograder.thresholds import CalibrationError

# Everything a hidden test imports comes from here; the modules behind it are private.
__all__ = [
    "Credit", "Remote", "assert_matches", "assert_no_blas", "case_seed", "describe_case",
    "calibrated_value", "hand_written_problems", "numba_functions_behind", "process_of", "python_source",
    "remote",
    "remote_call", "speed_check", "submission_source",
]


def submission_source() -> str:
    """The code the student wrote (solution cells and cells they added); '' outside the grader."""
    session = current()
    return session.source if session is not None else ""


def calibrated_value(key: str, measured: float) -> float | None:
    """The reference solution's value of `key` on this grading machine, for a quantity that
    is not a speedup (a fixed cost's share of a call, say), so that a hidden test judges a
    submission by its excess over the reference rather than against a typed number.

    While calibrating, records `measured` and returns it; while grading, returns the median
    of the calibrated values (CalibrationError if there are none); outside the grader, None.
    """
    session = current()
    if session is None:
        return None
    if session.calibrating:
        session.reference_values.setdefault(key, []).append(float(measured))
        return float(measured)
    if session.calibration is None:
        raise CalibrationError(f"no calibration for {key!r}: run `autograder calibrate` on this machine first")
    return session.calibration.reference_value(key)


def remote(obj):
    """Move `obj` into the submission's process; return a proxy (or `obj` itself locally)."""
    session = current()
    return obj if session is None or session.student is None else session.student.put(obj)


def remote_call(factory, *args, **kwargs):
    """Call `factory` inside the submission's process and keep the result there."""
    session = current()
    if session is None or session.student is None:
        return factory(*args, **kwargs)
    process = session.student
    return process.call(ref_of(process.put(factory)), args, kwargs, keep=True)
