"""Grading a class: each submission autograded in isolation, then feedback and a CSV.

The course directory (default `grading/`) is an ordinary nbgrader one: `source/`,
`release/`, `submitted/`, `autograded/`, `feedback/` and `gradebook.db`. Each notebook
is matched to the release before nbgrader sees it (`autograder.normalise`). Entries that
cannot be graded (not a notebook, invalid JSON, wrong name) are graded as the untouched
student version, so they score zero through the same pipeline, and their reason is put
at the top of the notebook, where the feedback page shows it. Whatever fails while one
submission is graded, nbgrader or the grader itself, is that student's row with the
reason (the traceback goes to `grader-errors.log`); the rest of the class is graded.
"""

from __future__ import annotations

import copy
import hashlib
import html
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbformat.v4 import new_markdown_cell
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from autograder import machine_lock
from autograder.calibrate import calibration_for_grading
from autograder.config import nbgrader_config, recording_config, write_course_config
from autograder.defaults import CALL_TIMEOUT, SOLUTIONS_DIR, TEST_CELL_TIMEOUT
from autograder.feedback import GenerateClassFeedback
from autograder.manual_grades import keep_reviews, reviewed_answers
from autograder.normalise import normalise, read_submission
from autograder.progress import ProgressLine
from autograder.release import generate, source_notebooks
from autograder.reports import (
    KEYS_FILE,
    PROBLEMS_FILE,
    feedback_dir,
    read_records,
    student_score,
    write_record,
)
from autograder.submissions import Submission, collect

ERROR_LOG = "grader-errors.log"  # full tracebacks of failures while grading a submission
WORKER_GRADED_DIR = "worker-graded"  # notebooks autograded on Dask workers, before recording


@dataclass(frozen=True)
class GradeResult:
    student_id: str
    score: float
    max_score: float
    problem: str | None
    seconds: float
    skipped: bool = False
    grader_error: bool = False  # the failure is logged in ERROR_LOG


@dataclass(frozen=True)
class Staged:
    """An entry put where nbgrader expects it, with what its grade depends on."""

    key: str  # the notebooks, hidden tests, calibration and limits, hashed
    problem: str | None
    started: float  # time.monotonic() when staging began
    kept: GradeResult | None  # the recorded result, when the entry is unchanged since


class GradingError(Exception):
    """Grading cannot go on: nothing graded yet, or nbgrader failed on one submission."""


class ClassGrader:
    """Grades every submission of one assignment into a course directory."""

    def __init__(self, course_dir: Path, assignment: str, solutions_dir: Path = SOLUTIONS_DIR,
                 cell_timeout: int = TEST_CELL_TIMEOUT, call_timeout: float = CALL_TIMEOUT,
                 force_calibration: bool = False):
        self.course_dir = Path(course_dir).resolve()
        self.assignment = assignment
        self.solutions_dir = solutions_dir
        self.notebook_names = [p.stem for p in source_notebooks(assignment, solutions_dir)]
        self.force_calibration = force_calibration
        self.config = nbgrader_config(self.course_dir, cell_timeout, call_timeout)
        self.api = NbGraderAPI(coursedir=CourseDirectory(config=self.config), config=self.config)
        self._release_cache: dict[str, nbformat.NotebookNode] = {}
        self._feedback: GenerateClassFeedback | None = None  # made with the first page, for all

    def _use_calibration(self) -> None:
        """Point the speed checks at this machine's thresholds (or stop with the reason)."""
        path = calibration_for_grading(self.assignment, self.course_dir, self.force_calibration,
                                       self.solutions_dir)
        if path is not None:
            self.config.IsolatedExecute.calibration_file = str(path)
            self.api = NbGraderAPI(coursedir=CourseDirectory(config=self.config), config=self.config)

    def prepare(self, judge_speed_here: bool = True) -> None:
        """The course directory, this machine's calibration (when speed is judged here, not
        on Dask workers) and the assignment in the gradebook."""
        self.course_dir.mkdir(parents=True, exist_ok=True)
        write_course_config(self.course_dir, self.config.Execute.timeout,
                            self.config.IsolatedExecute.call_timeout)
        if judge_speed_here:
            self._use_calibration()
        generate(self.course_dir, self.assignment, self.solutions_dir)
        self._release_cache = {}

    # -- the whole class -------------------------------------------------------------

    def grade_all(self, source: Path, force: bool = False, progress: Callable[[str], None] = print,
                  cluster=None) -> list[GradeResult]:
        """Grade every entry of `source` (a folder or zip), here or on `cluster` (a
        `autograder.distributed.DaskGrading`); one progress line per student."""
        with tempfile.TemporaryDirectory(prefix="submissions-") as tmp:
            # Read the entries first: a wrong path or an empty zip is reported at once.
            submissions = collect(Path(source), self.notebook_names, Path(tmp))
            self.prepare(judge_speed_here=cluster is None)
            tracker = ProgressLine(len(submissions), progress)
            if cluster is not None:
                return cluster.grade(self, submissions, force, tracker)
            results = []
            for submission in submissions:
                tracker.started(submission.student_id)
                results.append(tracker.finished(self.grade_one(submission, force)))
            return results

    # -- one submission --------------------------------------------------------------

    def grade_one(self, submission: Submission, force: bool = False) -> GradeResult:
        """Grade one entry; any failure becomes this student's problem, never the class's."""
        staged = self.stage_unless_recorded(submission, force)
        if staged.kept is not None:
            return staged.kept
        student = submission.student_id
        problem, grader_error = self.grade_staged(student, staged.problem)
        self.finish(student, staged.key, problem, grader_error)
        return self.result(student, problem, staged.started, grader_error=grader_error)

    def stage_unless_recorded(self, submission: Submission, force: bool) -> Staged:
        """Stage one entry; unless forced, keep the recorded grade of an unchanged one."""
        started = time.monotonic()
        key, problem = self.stage(submission)
        kept = None
        if not force and self.up_to_date(submission.student_id, key):
            kept = self.result(submission.student_id, problem, started, skipped=True)
        return Staged(key, problem, started, kept)

    def grade_staged(self, student: str, problem: str | None) -> tuple[str | None, bool]:
        """Autograde and write feedback for a staged entry: (problem, whether the grader failed)."""
        grader_error = False
        try:
            self._autograde(student)
        except Exception as exc:  # noqa: BLE001 - one student's failure, whatever it is
            grader_error = True
            problem = self.log_failure(student, "autograding", exc)
            self._grade_untouched(student, problem)
        try:
            with machine_lock.shared():
                self._require_success(self._feedback_writer().generate(self.assignment, student), student)
        except Exception as exc:  # noqa: BLE001
            grader_error = True
            feedback_problem = self.log_failure(student, "writing the feedback", exc)
            problem = f"{problem}; {feedback_problem}" if problem else feedback_problem
            self._write_plain_feedback(student, feedback_problem)
        return problem, grader_error

    def finish(self, student: str, key: str, problem: str | None, grader_error: bool) -> None:
        """Record the problem, and the key that makes the next run skip this entry, unless
        the grader failed on it (then the next run tries again)."""
        self._record(PROBLEMS_FILE, student, problem)
        self._record(KEYS_FILE, student, None if grader_error else key)

    def result(self, student: str, problem: str | None, started: float, skipped: bool = False,
               grader_error: bool = False) -> GradeResult:
        score, max_score = student_score(self.course_dir, self.assignment, student)
        return GradeResult(student, score, max_score, problem, time.monotonic() - started,
                           skipped, grader_error)

    def _feedback_writer(self) -> GenerateClassFeedback:
        """One feedback converter (and so one exporter) for every student graded with this API."""
        if self._feedback is None or self._feedback.parent is not self.api:
            self._feedback = GenerateClassFeedback(self.api)
        return self._feedback

    def _autograde(self, student: str, api: NbGraderAPI | None = None) -> None:
        """nbgrader's autograde; answers a person marked, and has not seen change, stay marked."""
        reviewed = reviewed_answers(self.course_dir, self.assignment, student)
        self._require_success((api or self.api).autograde(self.assignment, student, force=True,
                                                          create=True), student)
        keep_reviews(self.course_dir, self.assignment, student, reviewed)

    def log_failure(self, student: str, step: str, exc: BaseException) -> str:
        """Append the full traceback to ERROR_LOG; return the reason in a line."""
        try:
            details, message = "".join(traceback.format_exception(exc)), str(exc)
        except Exception:  # noqa: BLE001 - an exception that cannot describe itself
            details = message = f"{type(exc).__name__} (its message could not be printed)"
        self.log_error(f"{self.assignment} {student}: {step} failed", details)
        first_line = (message.strip().splitlines() or [type(exc).__name__])[0][:200]
        return f"the grader failed while {step} ({first_line}); details in {ERROR_LOG}"

    def log_error(self, headline: str, details: str) -> None:
        stamp = time.strftime("%Y-%m-%d %H:%M:%S")
        with (self.course_dir / ERROR_LOG).open("a") as log:
            log.write(f"=== {stamp} {headline}\n{details.rstrip()}\n\n")

    def _grade_untouched(self, student: str, reason: str) -> None:
        """After a failure, grade the released notebook with the reason: a zero that is recorded."""
        target = self.submitted_dir(student)
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in self.notebook_names:
            self._write_stub(target / f"{name}.ipynb", reason)
        try:
            self._autograde(student)
        except Exception as exc:  # noqa: BLE001 - the export still lists the student
            self.log_failure(student, "grading the untouched release", exc)

    def _write_plain_feedback(self, student: str, reason: str) -> None:
        """A feedback page with the reason, where nbgrader could not write one."""
        folder = self.feedback_dir(student)
        folder.mkdir(parents=True, exist_ok=True)
        for name in self.notebook_names:
            (folder / f"{name}.html").write_text(
                f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{name}</title></head>"
                f"<body><h1>{html.escape(self.assignment)}: {html.escape(name)}</h1>"
                f"<p>{html.escape(reason)}.</p><p>Your course staff have been told; your score "
                f"is in the gradebook.</p></body></html>")

    def stage(self, submission: Submission) -> tuple[str, str | None]:
        """Put the notebooks where nbgrader expects them, matched to the release. Returns
        the key of what grading them depends on (the notebooks, the hidden tests, the
        calibration and the limits) and the entry's problem, if it has one."""
        target = self.submitted_dir(submission.student_id)
        problem = submission.problem
        try:
            if target.exists():
                shutil.rmtree(target)
            target.mkdir(parents=True)
            for name in self.notebook_names:
                if name in submission.notebooks:
                    self._write_normalised(submission.notebooks[name], target / f"{name}.ipynb")
                else:
                    self._write_stub(target / f"{name}.ipynb", submission.problem or "missing notebook")
        except Exception as exc:  # noqa: BLE001 - graded as the untouched release, with the reason
            problem = self.log_failure(submission.student_id, "reading the notebook", exc)
            for name in self.notebook_names:
                self._write_stub(target / f"{name}.ipynb", problem)
        return self._key(target), problem

    def up_to_date(self, student: str, key: str) -> bool:
        return self._records(KEYS_FILE).get(student) == key

    def record_autograded(self, student: str, autograded: dict[str, bytes],
                          feedback: dict[str, bytes]) -> None:
        """Record notebooks autograded elsewhere (a Dask worker) as if graded here: nbgrader's
        SaveAutoGrades reads their scores into this gradebook, and the pages are copied."""
        incoming = self.course_dir / WORKER_GRADED_DIR / student / self.assignment
        shutil.rmtree(incoming, ignore_errors=True)
        incoming.mkdir(parents=True)
        for name, content in autograded.items():
            (incoming / f"{name}.ipynb").write_bytes(content)
        config = recording_config(self.config, WORKER_GRADED_DIR)
        api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
        self._autograde(student, api)
        folder = self.feedback_dir(student)
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True)
        for name, content in feedback.items():
            (folder / f"{name}.html").write_bytes(content)

    def submitted_dir(self, student: str) -> Path:
        return self.course_dir / "submitted" / student / self.assignment

    def _released(self, name: str) -> nbformat.NotebookNode:
        """A copy of the released notebook, read once per `prepare()`."""
        if name not in self._release_cache:
            self._release_cache[name] = nbformat.read(
                self.course_dir / "release" / self.assignment / f"{name}.ipynb", as_version=4)
        return copy.deepcopy(self._release_cache[name])

    def _write_normalised(self, source: Path, path: Path) -> None:
        normalised = normalise(read_submission(source), self._released(path.stem))
        if normalised.notes:
            notice = new_markdown_cell("**Notes from the grader:** " + "; ".join(normalised.notes)
                                       + ". Only the released cells are graded.")
            notice.id = "grading-notes"  # a fixed id keeps the staged file, and so the grade, stable
            normalised.notebook.cells.insert(0, notice)
        nbformat.write(normalised.notebook, path)

    def _write_stub(self, path: Path, reason: str) -> None:
        nb = self._released(path.stem)
        notice = new_markdown_cell(
            f"**This submission could not be graded: {reason}.** It was graded as the "
            f"untouched assignment, which scores zero. Fix the problem and submit again.")
        notice.id = "grading-problem"  # a fixed id keeps the staged file, and so the grade, stable
        nb.cells.insert(0, notice)
        nbformat.write(nb, path)

    def _key(self, staged: Path) -> str:
        digest = hashlib.sha256()
        calibration = self.config.IsolatedExecute.get("calibration_file", "")
        limits = f"{self.config.Execute.timeout} {self.config.IsolatedExecute.call_timeout}"
        for path in [*sorted(staged.glob("*.ipynb")),
                     *source_notebooks(self.assignment, self.solutions_dir),
                     *([Path(calibration)] if calibration else [])]:
            digest.update(path.name.encode() + path.read_bytes())
        digest.update(limits.encode())
        return digest.hexdigest()

    @staticmethod
    def _require_success(result: dict, student: str) -> None:
        if not result["success"]:
            raise GradingError(f"nbgrader failed on {student}'s submission:\n"
                               f"{result.get('log', '')}\n{result.get('error', '')}")

    def _records(self, file: str) -> dict:
        return read_records(self.course_dir, file, self.assignment)

    def _record(self, file: str, student: str, value: str | None) -> None:
        write_record(self.course_dir, file, self.assignment, student, value)

    def feedback_dir(self, student: str) -> Path:
        return feedback_dir(self.course_dir, self.assignment, student)
