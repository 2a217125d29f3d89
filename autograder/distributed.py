"""Grading a class on a Dask cluster: one submission per task, one writer of the gradebook.

The client (the `autograder grade` process) stages each entry, ships a `GradingUnit`
(the staged notebooks, the assignment's sources, the calibrations, the limits) to a Dask
worker, which grades it in a private scratch course with the same sandbox and pipeline as
serial grading and returns a `GradingOutcome` (the autograded notebooks, the feedback
pages, the problem). Only the client writes the course directory: nbgrader's SQLite
gradebook is not safe with several writers. It records each outcome as it arrives with
nbgrader's own SaveAutoGrades, so an interrupted run leaves a consistent gradebook and
the next run grades only what was not recorded.

Speed checks time alone on their machine (`autograder.machine_lock`): the other workers'
grading and the client's recording pause while a kernel is timed, and go on otherwise.
A worker judges speed against the calibration measured on its own machine
(fingerprint); the course keeps one per machine in `calibrations/`.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from autograder import machine_lock
from autograder.calibrate import CALIBRATION_FILE, calibrate, calibration_path, speed_check_ids
from autograder.submissions import Submission
from coursekit.machine import describe_machine

if TYPE_CHECKING:  # for annotations only; the functions import it where they run
    from autograder.grading import ClassGrader

# Calibrations of other machines, one file per fingerprint, beside this machine's.
CALIBRATIONS_DIR = "calibrations"
# A task whose worker dies (killed, out of memory) is tried once more elsewhere, then
# recorded as that student's problem (Dask's `allowed-failures` counts the deaths).
ALLOWED_FAILURES = 1


@dataclass(frozen=True)
class GradingUnit:
    """Everything a worker needs to grade one staged entry, and nothing of the course."""

    assignment: str
    student_id: str
    notebooks: dict[str, bytes]  # notebook name -> staged (normalised) notebook
    problem: str | None
    sources: dict[str, bytes]  # file name in solutions/<assignment>/ -> content
    calibrations: dict[str, bytes]  # machine fingerprint -> calibration JSON
    cell_timeout: int
    call_timeout: float


@dataclass(frozen=True)
class GradingOutcome:
    """What a worker sends back: the client records it; nothing here is trusted code."""

    student_id: str
    autograded: dict[str, bytes]  # notebook name -> autograded notebook
    feedback: dict[str, bytes]  # notebook name -> feedback page (HTML)
    problem: str | None
    grader_error: bool
    error_log: str
    seconds: float
    worker: str
    calibration: tuple[str, bytes] | None = None  # (fingerprint, JSON) measured on the worker


def _scratch_course(unit: GradingUnit, root: Path) -> tuple[Path, Path, tuple[str, bytes] | None]:
    """A private course for one unit: the sources, and this machine's calibration when the
    assignment has speed checks. Returns the course, the solutions folder, and the
    calibration if it was measured here (for the client to keep)."""
    solutions = root / "solutions" / unit.assignment
    solutions.mkdir(parents=True)
    for name, content in unit.sources.items():
        (solutions / name).write_bytes(content)
    course = root / "course"
    course.mkdir()
    if not speed_check_ids(unit.assignment, root / "solutions"):
        return course, root / "solutions", None
    fingerprint = describe_machine().fingerprint
    calibration = unit.calibrations.get(fingerprint)
    measured = None
    if calibration is None:
        calibration = _calibrated_once_here(unit, root / "solutions", fingerprint)
        measured = (fingerprint, calibration)
    calibration_path(course).write_bytes(calibration)
    return course, root / "solutions", measured


def _calibrated_once_here(unit: GradingUnit, solutions: Path, fingerprint: str) -> bytes:
    """This machine's calibration for these sources, measured by the first worker that
    needs it while the others wait (a file lock), then reused by every worker here."""
    digest = hashlib.sha256(b"".join(name.encode() + content for name, content
                                     in sorted(unit.sources.items()))).hexdigest()[:16]
    cached = Path(tempfile.gettempdir()) / f"kernels-calibration-{fingerprint}-{digest}.json"
    with open(cached.with_suffix(".lock"), "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not cached.exists():
            scratch = Path(tempfile.mkdtemp(prefix="kernels-calibration-"))
            try:
                calibrate(unit.assignment, scratch, solutions_dir=solutions, progress=lambda line: None,
                          cell_timeout=unit.cell_timeout, call_timeout=unit.call_timeout)
                shutil.copyfile(calibration_path(scratch), cached)
            finally:
                shutil.rmtree(scratch, ignore_errors=True)
        return cached.read_bytes()


@dataclass
class _PreparedCourse:
    """A scratch course with the assignment generated: made once per worker process and
    assignment version, since generating it costs about as much as grading one notebook."""

    folder: tempfile.TemporaryDirectory
    grader: ClassGrader
    measured: tuple[str, bytes] | None  # a calibration this worker measured, not yet handed back


# Per worker process, by what the course depends on (an edited hidden test makes a new one).
_PREPARED: dict[tuple, _PreparedCourse] = {}


def _prepared_course(unit: GradingUnit) -> _PreparedCourse:
    from autograder.grading import ClassGrader

    key = (unit.assignment, unit.cell_timeout, unit.call_timeout,
           hashlib.sha256(repr(sorted(unit.sources.items())).encode()
                          + repr(sorted(unit.calibrations.items())).encode()).hexdigest())
    if key not in _PREPARED:
        folder = tempfile.TemporaryDirectory(prefix="kernels-course-")
        course, solutions, measured = _scratch_course(unit, Path(folder.name))
        grader = ClassGrader(course, unit.assignment, solutions_dir=solutions,
                             cell_timeout=unit.cell_timeout, call_timeout=unit.call_timeout)
        grader.prepare()
        _PREPARED[key] = _PreparedCourse(folder, grader, measured)
    return _PREPARED[key]


def grade_unit(unit: GradingUnit) -> GradingOutcome:
    """Runs on a Dask worker: grade one staged entry in this worker's scratch course."""
    from autograder.grading import ERROR_LOG

    started = time.monotonic()
    warnings.filterwarnings("ignore", message=".*not in session.*")  # as in the CLI
    prepared = _prepared_course(unit)
    grader, log = prepared.grader, prepared.grader.course_dir / ERROR_LOG
    log.unlink(missing_ok=True)  # each outcome carries only its own failures
    staged = Path(tempfile.mkdtemp(prefix="kernels-unit-"))
    try:
        for name, content in unit.notebooks.items():
            (staged / f"{name}.ipynb").write_bytes(content)
        grader.stage(Submission(unit.student_id, {name: staged / f"{name}.ipynb" for name in unit.notebooks},
                                unit.problem))
        problem, grader_error = grader.grade_staged(unit.student_id, unit.problem)
        autograded = grader.course_dir / "autograded" / unit.student_id / unit.assignment
        feedback = grader.feedback_dir(unit.student_id)
        measured, prepared.measured = prepared.measured, None
        return GradingOutcome(
            unit.student_id,
            {p.stem: p.read_bytes() for p in sorted(autograded.glob("*.ipynb"))},
            {p.stem: p.read_bytes() for p in sorted(feedback.glob("*.html"))},
            problem, grader_error, log.read_text() if log.exists() else "",
            time.monotonic() - started, f"{os.uname().nodename}:{os.getpid()}", measured)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


class DaskGrading:
    """Grades a class's entries on a Dask cluster; the client records every outcome."""

    def __init__(self, workers: int | None = None, scheduler: str | None = None):
        if (workers is None) == (scheduler is None):
            raise ValueError("give either a number of local workers or a scheduler address")
        self.workers, self.scheduler = workers, scheduler
        # Where the time went, for planning a class: seconds per submission on the
        # workers, and on the client (the one writer) recording each outcome.
        self.worker_seconds: list[float] = []
        self.recording_seconds: list[float] = []

    def _client(self):
        import dask
        from distributed import Client, LocalCluster

        dask.config.set({"distributed.scheduler.allowed-failures": ALLOWED_FAILURES})
        if self.scheduler is not None:
            if Path(self.scheduler).is_file():
                return Client(scheduler_file=self.scheduler), None
            return Client(self.scheduler), None
        # Single-threaded worker processes: each grades one submission at a time, and a
        # worker that dies takes only its own submission with it.
        cluster = LocalCluster(n_workers=self.workers, threads_per_worker=1, processes=True,
                               dashboard_address=":0", silence_logs=logging.ERROR)
        return Client(cluster), cluster

    def grade(self, grader, submissions: list[Submission], force: bool, tracker) -> list:
        from distributed import as_completed

        results, pending = {}, {}
        sources = {p.name: p.read_bytes() for p in sorted((grader.solutions_dir / grader.assignment).iterdir())
                   if p.is_file()}
        for submission in submissions:
            staged = grader.stage_unless_recorded(submission, force)
            if staged.kept is not None:
                results[submission.student_id] = tracker.finished(staged.kept)
                continue
            folder = grader.submitted_dir(submission.student_id)
            unit = GradingUnit(grader.assignment, submission.student_id,
                               {p.stem: p.read_bytes() for p in sorted(folder.glob("*.ipynb"))},
                               staged.problem, sources, _calibrations(grader.course_dir),
                               int(grader.config.Execute.timeout),
                               float(grader.config.IsolatedExecute.call_timeout))
            pending[submission.student_id] = (unit, staged.key, staged.started)
        if pending:
            client, cluster = self._client()
            try:
                tracker.emit(f"Dask: {len(client.scheduler_info()['workers'])} workers; dashboard "
                             f"{client.dashboard_link}")
                futures = {client.submit(grade_unit, unit, key=f"grade-{student}-{key[:12]}",
                                         pure=False): student
                           for student, (unit, key, _) in pending.items()}
                for future in as_completed(futures):
                    student = futures[future]
                    unit, key, started = pending[student]
                    recording = time.monotonic()
                    results[student] = tracker.finished(
                        self._record(grader, future, unit, key, started, self.worker_seconds))
                    self.recording_seconds.append(time.monotonic() - recording)
            finally:
                client.close()
                if cluster is not None:
                    cluster.close()
        return [results[s.student_id] for s in submissions]

    @staticmethod
    def _record(grader, future, unit: GradingUnit, key: str, started: float,
                worker_seconds: list[float]):
        """Write one outcome into the course: gradebook, autograded, feedback, problem."""
        student = unit.student_id
        try:
            outcome: GradingOutcome = future.result()
        except Exception as exc:  # noqa: BLE001 - a dead worker or a failure outside grading
            problem = grader.log_failure(student, "grading on a Dask worker", exc)
            grader.finish(student, key, problem, grader_error=True)
            return grader.result(student, problem, started, grader_error=True)
        worker_seconds.append(outcome.seconds)
        if outcome.error_log:
            grader.log_error(f"{grader.assignment} {student}: on worker {outcome.worker}",
                             outcome.error_log)
        if outcome.calibration is not None:
            fingerprint, calibration = outcome.calibration
            folder = grader.course_dir / CALIBRATIONS_DIR
            folder.mkdir(exist_ok=True)
            (folder / f"{fingerprint}.json").write_bytes(calibration)
        problem, grader_error = outcome.problem, outcome.grader_error
        try:
            with machine_lock.shared():  # the workers' timings wait for it, not beside it
                grader.record_autograded(student, outcome.autograded, outcome.feedback)
        except Exception as exc:  # noqa: BLE001
            grader_error = True
            problem = grader.log_failure(student, "recording the worker's grades", exc)
        grader.finish(student, key, problem, grader_error)
        return grader.result(student, problem, started, grader_error=grader_error)


def _calibrations(course_dir: Path) -> dict[str, bytes]:
    """Every machine's calibration the course holds, by fingerprint."""
    import json

    found = {}
    for path in [*sorted((course_dir / CALIBRATIONS_DIR).glob("*.json")), course_dir / CALIBRATION_FILE]:
        if path.exists():
            found[json.loads(path.read_text())["machine"]["fingerprint"]] = path.read_bytes()
    return found
