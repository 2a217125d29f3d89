"""What grading leaves in a course directory, read without a grader: the gradebook's
scores, each entry's problem and skip key, and the feedback pages.

`autograder export` and `autograder feedback` use only this module (and, for the pages of
students marked by hand, `autograder.manual_grades`), so they work on a copy of the course
directory with no `solutions/` and no calibration beside it.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbgrader
import nbgrader.api
from nbgrader.api import Gradebook, MissingEntry

PROBLEMS_FILE = "problems.json"  # reasons for entries that could not be graded
KEYS_FILE = "grading-keys.json"  # what each recorded grade depends on: unchanged means skip


class ReportError(Exception):
    """Nothing to report: the course directory holds no grades for the assignment."""


def _gradebook_schema_version() -> str:
    """The newest migration of nbgrader's gradebook schema, read in this process.

    nbgrader's own `get_alembic_version` runs the `alembic` executable to learn it, once
    for every new gradebook: 3.5 s of every first grading or calibration of a course.
    Imported here, not at the top: only a new gradebook needs alembic (0.15 s to import).
    """
    from alembic.script import ScriptDirectory

    head = ScriptDirectory(str(Path(nbgrader.__file__).parent / "alembic")).get_current_head()
    if head is None:
        raise RuntimeError("nbgrader's installation has no gradebook migrations: reinstall it")
    return head


nbgrader.api.get_alembic_version = _gradebook_schema_version  # what Gradebook() calls


def gradebook_url(course_dir: Path) -> str:
    return f"sqlite:///{Path(course_dir).resolve() / 'gradebook.db'}"


def read_records(course_dir: Path, file: str, assignment: str) -> dict:
    """`assignment`'s entries of a JSON record in the course directory (student -> value)."""
    path = Path(course_dir) / file
    return json.loads(path.read_text()).get(assignment, {}) if path.exists() else {}


def write_record(course_dir: Path, file: str, assignment: str, student: str, value: str | None) -> None:
    """Set (or, for a falsy value, remove) one student's entry of a JSON record."""
    path = Path(course_dir) / file
    records = json.loads(path.read_text()) if path.exists() else {}
    per_assignment = records.setdefault(assignment, {})
    if value:
        per_assignment[student] = value
    else:
        per_assignment.pop(student, None)
    path.write_text(json.dumps(records, indent=1, sort_keys=True))


def _decided(grade) -> bool:
    """Whether a grade counts in the totals: a test cell always (a mark that overrides it
    included), an answer cell for a person once a person has marked it, or when it was left
    as released (which scores 0 by itself)."""
    return grade.cell.cell_type == "code" or not grade.needs_manual_grade


def _totals(submission) -> tuple[float, float, float]:
    """(score, max_score, pending): points decided so far, and points waiting for a person.

    nbgrader counts an answer cell nobody has marked yet as 0 of its points; here it stays
    out of both totals until it is marked, so a grade is final for what it covers."""
    grades = [grade for notebook in submission.notebooks for grade in notebook.grades]
    decided = [grade for grade in grades if _decided(grade)]
    return (float(sum(grade.score for grade in decided)), float(sum(grade.max_score for grade in decided)),
            float(sum(grade.max_score for grade in grades if not _decided(grade))))


def student_score(course_dir: Path, assignment: str, student: str) -> tuple[float, float]:
    """The student's total and maximum without answer cells waiting for a person, or zero of
    the assignment's maximum when nothing was recorded."""
    with Gradebook(gradebook_url(course_dir)) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            try:
                return 0.0, gradebook.find_assignment(assignment).max_score
            except MissingEntry:
                return 0.0, 0.0
        score, max_score, _ = _totals(submission)
        return score, max_score


def export_csv(course_dir: Path, assignment: str, path: Path) -> int:
    """One row per student: total, each test cell, each answer cell graded by a person (empty
    until marked), the points still waiting for a person, and any problem; returns rows.

    A student whose grading failed so early that nbgrader recorded nothing still has a
    row: zero, with the reason."""
    course_dir = Path(course_dir).resolve()
    if not (course_dir / "gradebook.db").exists():
        raise ReportError(f"nothing graded yet in {course_dir} (no gradebook.db)")
    problems = read_records(course_dir, PROBLEMS_FILE, assignment)
    with Gradebook(gradebook_url(course_dir)) as gradebook:
        try:
            graded = gradebook.find_assignment(assignment)
        except MissingEntry:
            raise ReportError(f"nothing graded yet for {assignment!r} in {course_dir}") from None
        cells = [cell.name for notebook in graded.notebooks for cell in notebook.grade_cells
                 if cell.cell_type == "code"]
        manual = [cell.name for notebook in graded.notebooks for cell in notebook.grade_cells
                  if cell.cell_type != "code"]
        rows = []
        for submission in sorted(graded.submissions, key=lambda s: s.student.id):
            grades = {g.name: g for nb in submission.notebooks for g in nb.grades}
            score, max_score, pending = _totals(submission)
            rows.append([submission.student.id, score, max_score]
                        + [grades[cell].score if cell in grades else None for cell in cells]
                        + [grades[cell].score if cell in grades and _decided(grades[cell]) else ""
                           for cell in manual]
                        + [pending, problems.get(submission.student.id, "")])
        recorded = {row[0] for row in rows}
        # Nothing recorded, nothing for a person to mark: zero of every point.
        rows += [[student, 0.0, graded.max_score] + [0.0] * (len(cells) + len(manual)) + [0.0, problem]
                 for student, problem in problems.items() if student not in recorded]
        rows.sort(key=lambda row: row[0])
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["student_id", "score", "max_score", *cells, *manual, "manual_pending", "problem"])
        writer.writerows(rows)
    return len(rows)


def feedback_dir(course_dir: Path, assignment: str, student: str) -> Path:
    return Path(course_dir).resolve() / "feedback" / student / assignment


def feedback_pages(course_dir: Path, assignment: str) -> list[Path]:
    """Every student's feedback pages for `assignment`, sorted by student."""
    return sorted((Path(course_dir).resolve() / "feedback").glob(f"*/{assignment}/*.html"))
