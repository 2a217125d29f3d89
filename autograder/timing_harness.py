"""The grader's timing harness: two kernels, each in its own process, timed by the
grader's clock in interleaved rounds, alone on the machine, every timed call checked.

The candidate runs in the submission's process and the baseline in a clean process of
its own (or both here, outside the grader). Each request is timed around the pipe by a
clock bound when the grader started, never by a clock inside the submission, and the
submission's process is stopped while the baseline runs, so it cannot slow it down.

The submission's process is untrusted in everything, this harness's worker code inside it
included, so a timed call counts only for work the grader can see from outside:

- **Fresh inputs.** `make_inputs(seed)` is called with a new seed for every timed call, in
  each process, before the clock starts: no call sees inputs an earlier one saw, so a
  result kept from an earlier call (by the inputs' identity, a hash of their contents or
  a few sampled values) is never the answer.
- **Every call accounted for.** The process keeps each timed call's result; they are
  brought back after the request and counted, and VERIFIED_CALLS of them per round, drawn
  by the grader after the request, are compared, with the check's own comparison, with the
  baseline's results on the same inputs from the clean process (both kernels start each
  round on the same inputs, so the baseline's timed results serve where they overlap). A
  call that did not happen leaves no result, and a reused or made-up one is wrong.
- **Results ready when the timed request returns.** Bringing the results back is timed
  too: a result that is only computed when it is asked for (a worker whose reply was
  replaced) makes that take longer than the same transfer from the clean process.

Where keeping every result of a request would take more than RETAINED_RESULT_BYTES (a
microsecond kernel on in-cache data, called thousands of times per request), only the
last result of each request is kept and checked.
"""

from __future__ import annotations

import contextlib
import itertools
import random
import time
from collections.abc import Callable, Iterator

from autograder import machine_lock
from autograder.sandbox import Remote, SandboxError, StudentProcess, ref_of
from coursekit.speedcheck import ROUNDS, Speedup, baseline_goes_first, loops_for

# Bound when the grader starts, before any submission could patch the time module.
_CLOCK = time.perf_counter
# Results kept per request when every one is kept: the speed checks' results of one
# request (tens of MiB at most) fit, while thousands of in-cache arrays would not, and
# keeping them would time page faults instead of the kernel.
RETAINED_RESULT_BYTES = 256 * 2**20
# Bringing results back from the submission's process may take this many times as long as
# the same number of results from the clean process (the same transfer code on both sides)
# plus FETCH_NOISE_SECONDS; beyond that, DEFERRED_SHARE of the timed request's own time is
# the most that work moved out of the timed request can have saved it.
FETCH_SLACK = 2.0
FETCH_NOISE_SECONDS = 0.005
DEFERRED_SHARE = 0.25
# Kept results checked against the baseline's in each round, drawn after the request: a
# process that skipped or reused a share f of its calls is caught with probability
# 1 - (1 - f) ** (VERIFIED_CALLS * ROUNDS), 99% for f = 0.2.
VERIFIED_CALLS = 3
_DRAW = random.SystemRandom()


class UnprovenWork(AssertionError):
    """A timed call whose work the grader cannot see: no result, a wrong one, or one made late."""


def _inputs_for(make_inputs: Callable, seeds: list[int]) -> list[tuple]:
    """Runs in each process: one argument tuple per seed."""
    return [tuple(make_inputs(seed)) for seed in seeds]


class TimedSide:
    """One kernel, its input factory and the process they run in (None: here)."""

    def __init__(self, function, make_inputs: Callable, process: StudentProcess | None):
        self.process = process
        self._put: list[Remote] = []  # what this side placed in the process, freed by close()
        if process is None:  # local: no grader, no processes
            self.function, self.make_inputs = function, make_inputs
        else:
            self.function = function if isinstance(function, Remote) else self._place(function)
            self.make_inputs = self._place(make_inputs)
            self._inputs_for = self._place(_inputs_for)

    def _place(self, obj) -> Remote:
        assert self.process is not None
        proxy = self.process.put(obj)
        self._put.append(proxy)
        return proxy

    def build(self, seeds: list[int]):
        """The argument tuples for these seeds, built in the side's process (untimed)."""
        if self.process is None:
            return _inputs_for(self.make_inputs, seeds)
        return self.process.call(ref_of(self._inputs_for), (self.make_inputs, seeds), {}, keep=True)

    def run(self, inputs, keep_every_result: bool) -> tuple[float, object]:
        """Seconds for one request calling the kernel once per argument tuple, and the kept results."""
        clock = _CLOCK
        if self.process is None:
            function = self.function
            started = clock()
            results = [function(*args) for args in inputs]
            elapsed = clock() - started
            return elapsed, results if keep_every_result else results[-1:]
        started = clock()
        kept = self.process.apply(self.function, inputs, keep_every_result)
        return clock() - started, kept

    def fetch(self, results) -> tuple[object, float]:
        """The kept results as plain data, and the seconds it took to bring them back."""
        if self.process is None:
            return results, 0.0
        started = _CLOCK()
        value = self.process.value_of(results)
        return value, _CLOCK() - started

    def forget(self, *kept) -> None:
        if self.process is not None:
            self.process.forget(*kept)

    def close(self) -> None:
        """Free what this side placed in its process (the factory's cached inputs with it);
        a process that failed meanwhile is left to the caller, whose error is the one to report."""
        if self.process is not None and self.process.alive and self._put:
            with contextlib.suppress(SandboxError):
                self.process.forget(*self._put)
        self._put.clear()


def first_results(candidate: TimedSide, baseline: TimedSide, seed: int) -> tuple[object, object]:
    """Each kernel's result on make_inputs(seed): the correctness gate and the warm-up
    (numba compiles here, untimed)."""
    results = []
    for side in (baseline, candidate):
        inputs = side.build([seed])
        _, kept = side.run(inputs, keep_every_result=True)
        values, _ = side.fetch(kept)
        side.forget(inputs, kept)
        results.append(values[0] if isinstance(values, list) and len(values) == 1 else values)
    return results[0], results[1]


class _Rounds:
    """The timed rounds of one check: fresh seeds, interleaved requests, results checked."""

    def __init__(self, candidate: TimedSide, baseline: TimedSide, student: StudentProcess | None,
                 compare: Callable, seeds: Iterator[int]):
        self.candidate, self.baseline, self.student = candidate, baseline, student
        self.compare, self.seeds = compare, seeds

    def _timed(self, side: TimedSide, inputs, keep: bool) -> tuple[float, object]:
        if side is self.candidate or self.student is None:
            return side.run(inputs, keep)
        with self.student.suspended():  # the submission sleeps while the baseline runs
            return side.run(inputs, keep)

    def loops(self, side: TimedSide) -> int:
        """Calls per request for `side`: doubled until a request lasts MIN_REQUEST_SECONDS, as pyperf does."""
        def timed(loops: int) -> float:
            inputs = side.build(list(itertools.islice(self.seeds, loops)))
            seconds, kept = self._timed(side, inputs, keep=False)
            side.forget(inputs, kept)
            return seconds
        return loops_for(timed)

    def ratio(self, round_number: int, loops: dict[TimedSide, int], keep: dict[TimedSide, bool]) -> float:
        """One round: each kernel's request on fresh inputs (which goes first alternates), then
        the candidate's kept results brought back and checked (see `_check`)."""
        sides = ((self.baseline, self.candidate) if baseline_goes_first(round_number)
                 else (self.candidate, self.baseline))
        # Both start on the same fresh inputs, so the baseline's own results check the
        # candidate's wherever their calls overlap.
        shared = list(itertools.islice(self.seeds, max(loops.values())))
        seeds = {side: shared[:loops[side]] for side in sides}
        inputs = {side: side.build(seeds[side]) for side in sides}
        timed = {side: self._timed(side, inputs[side], keep[side]) for side in sides}
        fetched = {side: side.fetch(timed[side][1]) for side in sides}
        for side in sides:
            side.forget(inputs[side], timed[side][1])
        candidate_seconds = timed[self.candidate][0]
        kept_seeds = seeds[self.candidate] if keep[self.candidate] else seeds[self.candidate][-1:]
        (actual, candidate_fetch), (baseline_kept, baseline_fetch) = fetched[self.candidate], fetched[self.baseline]
        baseline_seeds = seeds[self.baseline] if keep[self.baseline] else seeds[self.baseline][-1:]
        known = dict(zip(baseline_seeds, baseline_kept, strict=True)) if isinstance(baseline_kept, list) else {}
        self._check(actual, kept_seeds, known)
        # The clean process brought back len(baseline_seeds) results of the same kind.
        expected_fetch = baseline_fetch * len(kept_seeds) / len(baseline_seeds)
        late = candidate_fetch - FETCH_SLACK * expected_fetch - FETCH_NOISE_SECONDS
        if late > DEFERRED_SHARE * candidate_seconds:
            raise UnprovenWork(
                f"bringing back the results of the timed calls took {candidate_fetch * 1e3:.1f} ms, where "
                f"as many results from the clean process take about {expected_fetch * 1e3:.1f} ms and the "
                f"timed calls themselves took {candidate_seconds * 1e3:.1f} ms: the work was done after the "
                f"timed call returned, so this time cannot be counted")
        return (timed[self.baseline][0] / loops[self.baseline]) / (candidate_seconds / loops[self.candidate])

    def _check(self, actual, seeds: list[int], known: dict) -> None:
        """Every kept result exists; VERIFIED_CALLS of them, drawn here after the request (the
        submission's process cannot know which), equal the baseline's on the same inputs:
        `known` (seed -> the baseline's timed result), else computed now in the clean process."""
        if not isinstance(actual, list):
            raise UnprovenWork("the results of the timed calls could not be brought back as plain data "
                               "(arrays, numbers, lists of them), so the grader cannot check them")
        if len(actual) != len(seeds):
            raise UnprovenWork(f"the submission's process was asked for {len(seeds)} timed call(s) and kept "
                               f"{len(actual)} result(s): calls that did not run cannot be timed")
        chosen = sorted(_DRAW.sample(range(len(seeds)), min(VERIFIED_CALLS, len(seeds))))
        missing = [seeds[i] for i in chosen if seeds[i] not in known]
        if missing:
            inputs = self.baseline.build(missing)
            with contextlib.ExitStack() as stack:
                if self.student is not None:
                    stack.enter_context(self.student.suspended())
                _, kept = self.baseline.run(inputs, keep_every_result=True)
                computed, _ = self.baseline.fetch(kept)
            self.baseline.forget(inputs, kept)
            if not isinstance(computed, list):
                raise TypeError("the baseline's results are not plain data (arrays, numbers): "
                                "the hidden test's baseline cannot check the submission's results")
            known = {**known, **dict(zip(missing, computed, strict=True))}
        for index in chosen:
            want = known[seeds[index]]
            try:
                self.compare(want, actual[index])
            except AssertionError as error:
                raise UnprovenWork(f"timed call {index + 1} of {len(seeds)} returned a wrong result (inputs "
                                   f"from seed {seeds[index]}): {error}. Every timed call gets inputs no "
                                   f"earlier call saw, so a result kept from an earlier call, or a call "
                                   f"skipped, shows here") from None


def measure(candidate: TimedSide, baseline: TimedSide, student: StudentProcess | None,
            compare: Callable, seeds: Iterator[int], result_bytes: int) -> Speedup:
    """Calls per request calibrated, then ROUNDS interleaved rounds with the machine to
    themselves (`machine_lock`); the submission's process sleeps while the baseline runs.

    `seeds` yields a fresh seed for every call; `result_bytes` is the size of one result
    (every result of a request is kept if they fit RETAINED_RESULT_BYTES, else the last).
    Raises UnprovenWork when a timed call's work cannot be shown (see the module's docstring).
    """
    rounds = _Rounds(candidate, baseline, student, compare, seeds)
    with machine_lock.exclusive() as waited:
        if student is not None and student.deadline is not None:
            student.deadline += waited  # waiting for other graders is not the submission's time
        loops = {side: rounds.loops(side) for side in (baseline, candidate)}
        keep = {side: result_bytes * count <= RETAINED_RESULT_BYTES for side, count in loops.items()}
        return Speedup.from_ratios([rounds.ratio(number, loops, keep) for number in range(ROUNDS)])
