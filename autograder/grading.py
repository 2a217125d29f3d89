"""Grading a class: each submission autograded in isolation, then feedback and a CSV.

The course directory (default `grading/`) is an ordinary nbgrader one: `source/`,
`release/`, `submitted/`, `autograded/`, `feedback/` and `gradebook.db`. Entries that
cannot be graded (not a notebook, invalid JSON, wrong name) are graded as the untouched
student version, so they score zero through the same pipeline, and their reason is put
at the top of the notebook, where the feedback page shows it.
"""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import nbformat
from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from autograder.calibrate import calibration_for_grading
from autograder.config import nbgrader_config
from autograder.defaults import CALL_TIMEOUT, SOLUTIONS_DIR, TEST_CELL_TIMEOUT
from autograder.release import generate, source_notebooks
from autograder.submissions import Submission, collect

PROBLEMS_FILE = "problems.json"  # reasons for entries that could not be graded


@dataclass(frozen=True)
class GradeResult:
    student_id: str
    score: float
    max_score: float
    problem: str | None
    seconds: float
    skipped: bool = False


class GradingError(Exception):
    """nbgrader itself failed on a submission (not the submission's fault)."""


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

    def _use_calibration(self) -> None:
        """Point the speed checks at this machine's thresholds (or stop with the reason)."""
        path = calibration_for_grading(self.assignment, self.course_dir, self.force_calibration,
                                       self.solutions_dir)
        if path is not None:
            self.config.IsolatedExecute.calibration_file = str(path)
            self.api = NbGraderAPI(coursedir=CourseDirectory(config=self.config), config=self.config)

    # -- the whole class -------------------------------------------------------------

    def grade_all(self, source: Path, force: bool = False,
                  progress: Callable[[str], None] = print) -> list[GradeResult]:
        """Grade every entry of `source` (a folder or zip); one progress line per student."""
        self.course_dir.mkdir(parents=True, exist_ok=True)
        self._use_calibration()
        generate(self.course_dir, self.assignment, self.solutions_dir)
        with tempfile.TemporaryDirectory(prefix="submissions-") as tmp:
            submissions = collect(Path(source), self.notebook_names, Path(tmp))
            results = []
            for number, submission in enumerate(submissions, 1):
                progress(f"[{number}/{len(submissions)}] {submission.student_id} ...")
                result = self.grade_one(submission, force)
                results.append(result)
                progress(f"[{number}/{len(submissions)}] {self._describe(result)}")
        return results

    @staticmethod
    def _describe(result: GradeResult) -> str:
        status = "unchanged, kept earlier grade" if result.skipped else f"{result.seconds:.1f} s"
        line = f"{result.student_id}: {result.score:g}/{result.max_score:g} ({status})"
        return line + (f" - {result.problem}" if result.problem else "")

    # -- one submission --------------------------------------------------------------

    def grade_one(self, submission: Submission, force: bool = False) -> GradeResult:
        started = time.monotonic()
        student = submission.student_id
        changed = self._stage(submission)
        self._record_problem(student, submission.problem)
        autograded = self.course_dir / "autograded" / student / self.assignment
        if force or changed or not autograded.exists():
            self._check(self.api.autograde(self.assignment, student, force=True, create=True), student)
            self._check(self.api.generate_feedback(self.assignment, student, force=True), student)
            skipped = False
        else:
            skipped = True
        score, max_score = self._score(student)
        return GradeResult(student, score, max_score, submission.problem,
                           time.monotonic() - started, skipped)

    def _stage(self, submission: Submission) -> bool:
        """Put the notebooks where nbgrader expects them; True if they changed."""
        target = self.course_dir / "submitted" / submission.student_id / self.assignment
        before = self._digest(target)
        if target.exists():
            shutil.rmtree(target)
        target.mkdir(parents=True)
        for name in self.notebook_names:
            if name in submission.notebooks:
                shutil.copyfile(submission.notebooks[name], target / f"{name}.ipynb")
            else:
                self._write_stub(target / f"{name}.ipynb", submission.problem or "missing notebook")
        return self._digest(target) != before

    def _write_stub(self, path: Path, reason: str) -> None:
        released = self.course_dir / "release" / self.assignment / path.name
        nb = nbformat.read(released, as_version=4)
        notice = new_markdown_cell(
            f"**This submission could not be graded: {reason}.** It was graded as the "
            f"untouched assignment, which scores zero. Fix the problem and submit again.")
        notice.id = "grading-problem"  # a fixed id keeps the staged file, and so the grade, stable
        nb.cells.insert(0, notice)
        nbformat.write(nb, path)

    @staticmethod
    def _digest(folder: Path) -> str | None:
        if not folder.exists():
            return None
        digest = hashlib.sha256()
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                digest.update(path.name.encode() + path.read_bytes())
        return digest.hexdigest()

    def _check(self, result: dict, student: str) -> None:
        if not result["success"]:
            raise GradingError(f"nbgrader failed on {student}'s submission:\n"
                               f"{result.get('log', '')}\n{result.get('error', '')}")

    def _problems(self) -> dict:
        path = self.course_dir / PROBLEMS_FILE
        return json.loads(path.read_text()) if path.exists() else {}

    def _record_problem(self, student: str, problem: str | None) -> None:
        problems = self._problems()
        per_assignment = problems.setdefault(self.assignment, {})
        if problem:
            per_assignment[student] = problem
        else:
            per_assignment.pop(student, None)
        (self.course_dir / PROBLEMS_FILE).write_text(json.dumps(problems, indent=1, sort_keys=True))

    def _score(self, student: str) -> tuple[float, float]:
        with Gradebook(self.config.CourseDirectory.db_url) as gradebook:
            submission = gradebook.find_submission(self.assignment, student)
            return submission.score, submission.max_score

    # -- reports ---------------------------------------------------------------------

    def export_csv(self, path: Path) -> int:
        """One row per graded student: total, each test cell, and any problem; returns rows."""
        if not (self.course_dir / "gradebook.db").exists():
            raise GradingError(f"nothing graded yet in {self.course_dir} (no gradebook.db)")
        problems = self._problems().get(self.assignment, {})
        with Gradebook(self.config.CourseDirectory.db_url) as gradebook:
            try:
                assignment = gradebook.find_assignment(self.assignment)
            except MissingEntry:
                raise GradingError(f"nothing graded yet for {self.assignment!r} in {self.course_dir}")
            cells = [cell.name for notebook in assignment.notebooks for cell in notebook.grade_cells
                     if cell.cell_type == "code"]
            rows = []
            for submission in sorted(assignment.submissions, key=lambda s: s.student.id):
                grades = {g.name: g.score for nb in submission.notebooks for g in nb.grades}
                rows.append([submission.student.id, submission.score, submission.max_score]
                            + [grades.get(cell) for cell in cells]
                            + [problems.get(submission.student.id, "")])
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["student_id", "score", "max_score", *cells, "problem"])
            writer.writerows(rows)
        return len(rows)

    def feedback_dir(self, student: str) -> Path:
        return self.course_dir / "feedback" / student / self.assignment
