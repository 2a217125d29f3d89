"""GradingSession: everything that lives while one notebook is graded or calibrated.

Hidden tests call free functions (`speed_check`, `remote`, `submission_source`); they find
the notebook they serve through the one active session, set by `IsolatedExecute` around
the notebook and by nothing else. The session holds the submission's process, its code,
the calibration, the limits (for the submission's process and the baseline's alike) and
the input seed, so grading and calibrating share one code path and one set of limits,
and a unit of grading is one object that can be built on any machine.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from autograder.sandbox import Limits, StudentProcess
from coursekit.speedcheck import left_to_the_grader

if TYPE_CHECKING:
    from autograder.thresholds import Calibration


@dataclass
class GradingSession:
    """One notebook's grading (or calibration): processes, code, thresholds, limits."""

    limits: Limits = field(default_factory=Limits)
    calibration: Calibration | None = None
    calibrating: bool = False
    # Inputs of speed checks are drawn from this seed in every process: the same inputs
    # for the submission and the baseline, new ones at every grading.
    seed: int = field(default_factory=lambda: int.from_bytes(os.urandom(4), "little"))
    student: StudentProcess | None = None  # the submission's process, while a test runs
    source: str = ""  # the code the student wrote: solution cells and cells they added
    measurements: dict[str, list[float]] = field(default_factory=dict)  # while calibrating
    reference_values: dict[str, list[float]] = field(default_factory=dict)  # while calibrating
    # grade id -> whether that test cell passed, in this grading: speed checks require
    # their function's correctness cells (correctness gates speed).
    passed_cells: dict[str, bool] = field(default_factory=dict)
    _reference: StudentProcess | None = None

    def reference_process(self) -> StudentProcess:
        """A clean process, with no submission code in it, for baselines (started once)."""
        if self._reference is None or not self._reference.alive:
            self._reference = StudentProcess(self.limits)
            self._reference.start()
        return self._reference

    def close(self) -> None:
        if self._reference is not None:
            self._reference.close()
            self._reference = None


_ACTIVE: ContextVar[GradingSession | None] = ContextVar("active_grading_session", default=None)


@contextmanager
def active(session: GradingSession):
    """Inside the block, hidden tests' helpers serve `session`."""
    token = _ACTIVE.set(session)
    try:
        with left_to_the_grader():  # a visible cell's own timing would time the pipe
            yield session
    finally:
        _ACTIVE.reset(token)


def current() -> GradingSession | None:
    """The session being graded, or None in a plain notebook (helpers then act locally)."""
    return _ACTIVE.get()
