"""The grader's timing harness: two kernels, each in its own process, timed by the
grader's clock in interleaved rounds (coursekit's loop), alone on the machine.

The candidate runs in the submission's process and the baseline in a clean process of
its own (or both here, outside the grader). Each request is timed around the pipe by a
clock bound when the grader started, never by a clock inside the submission, and the
submission's process is stopped while the baseline runs, so it cannot slow it down.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from autograder import machine_lock
from autograder.sandbox import Remote, StudentProcess, ref_of
from coursekit.speedcheck import Speedup, interleaved_ratios, loops_for

# Bound when the grader starts, before any submission could patch the time module.
_CLOCK = time.perf_counter


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
    """Loops calibrated, then ROUNDS interleaved rounds with the machine to themselves
    (`machine_lock`); the submission's process sleeps while the baseline runs."""
    with machine_lock.exclusive() as waited:
        if student is not None and student.deadline is not None:
            student.deadline += waited  # waiting for other graders is not the submission's time
        baseline.calibrate_loops()
        candidate.calibrate_loops()
        return Speedup.from_ratios(interleaved_ratios(lambda: _timed(baseline, student),
                                                      lambda: _timed(candidate, None)))
