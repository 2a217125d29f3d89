"""The grader's timing harness: two kernels, each in its own process, timed by the
grader's clock in interleaved rounds (coursekit's loop), one machine-wide lock.

The candidate runs in the submission's process and the baseline in a clean process of
its own (or both here, outside the grader). Each request is timed around the pipe by a
clock bound when the grader started, never by a clock inside the submission, and the
submission's process is stopped while the baseline runs, so it cannot slow it down.
"""

from __future__ import annotations

import fcntl
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from autograder.sandbox import Remote, StudentProcess, ref_of
from coursekit.speedcheck import Speedup, interleaved_ratios, loops_for

# One lock per machine: two graders never time kernels at the same moment.
TIMING_LOCK = Path(tempfile.gettempdir()) / "kernels-autograder-timing.lock"
# Bound when the grader starts, before any submission could patch the time module.
_CLOCK = time.perf_counter


@contextmanager
def timing_lock() -> Iterator[None]:
    with TIMING_LOCK.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class TimedSide:
    """One kernel, its inputs (built by `make_inputs(seed)` in its own process) and that process."""

    def __init__(self, function, make_inputs: Callable, seed: int, process: StudentProcess | None):
        self.process = process
        if process is None:  # local: no grader, no processes
            self.function, self.args = function, make_inputs(seed)
        else:
            self.function = function if isinstance(function, Remote) else process.put(function)
            factory = process.put(make_inputs)
            self.args = process.call(ref_of(factory), (seed,), {}, keep=True)
        self.loops = 1

    def first_result(self):
        """The first call's result (also the warm-up: numba compiles here, untimed)."""
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


def _timed(side: TimedSide, paused: StudentProcess | None) -> float:
    if paused is None:
        return side.seconds_per_call()
    with paused.suspended():
        return side.seconds_per_call()


def measure(candidate: TimedSide, baseline: TimedSide, student: StudentProcess | None) -> Speedup:
    """Loops calibrated, then ROUNDS interleaved rounds under the machine-wide lock; the
    submission's process sleeps while the baseline runs."""
    with timing_lock():
        baseline.calibrate_loops()
        candidate.calibrate_loops()
        return Speedup.from_ratios(interleaved_ratios(lambda: _timed(baseline, student),
                                                      lambda: _timed(candidate, None)))
