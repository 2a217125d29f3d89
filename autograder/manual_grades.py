"""A person's marks survive a regrade: answer cells graded by hand keep their review.

nbgrader's `SaveAutoGrades` flags every grade with a manual score as needing review again
whenever the notebook is autograded, changed or not, and `autograder export` leaves a grade
that needs review out of the totals. A regrade (`--force`, a new calibration, a new hidden
test) reruns the tests of a notebook whose answers a person already marked: an answer whose
text is what the person marked keeps its mark, counted; a changed answer stays flagged.
The marks and comments themselves are never touched (nbgrader keeps them).
"""

from __future__ import annotations

from pathlib import Path

import nbformat
from nbgrader.api import Gradebook, MissingEntry

from autograder.reports import gradebook_url

# (notebook name, grade id) -> the answer's text as the person who marked it saw it
Reviewed = dict[tuple[str, str], str]


def _answers(course_dir: Path, assignment: str, student: str) -> dict[tuple[str, str], str]:
    """The text of every non-code graded cell of the student's autograded notebooks."""
    answers = {}
    for path in sorted((course_dir / "autograded" / student / assignment).glob("*.ipynb")):
        notebook = nbformat.read(path, as_version=4)
        for cell in notebook.cells:
            nbgrader = cell.metadata.get("nbgrader", {})
            if cell.cell_type != "code" and nbgrader.get("grade") and nbgrader.get("grade_id"):
                answers[(path.stem, nbgrader["grade_id"])] = cell.source
    return answers


def reviewed_answers(course_dir: Path, assignment: str, student: str) -> Reviewed:
    """Before a regrade: the answers a person has marked, with the text they marked."""
    course_dir = Path(course_dir)
    if not (course_dir / "gradebook.db").exists():
        return {}
    with Gradebook(gradebook_url(course_dir)) as gradebook:
        try:
            submission = gradebook.find_submission(assignment, student)
        except MissingEntry:
            return {}
        marked = {(notebook.name, grade.name) for notebook in submission.notebooks
                  for grade in notebook.grades
                  if grade.manual_score is not None and not grade.needs_manual_grade}
    if not marked:
        return {}
    answers = _answers(course_dir, assignment, student)
    return {key: answers[key] for key in marked if key in answers}


def keep_reviews(course_dir: Path, assignment: str, student: str, reviewed: Reviewed) -> None:
    """After a regrade: clear the review flag of each marked answer whose text is unchanged."""
    if not reviewed:
        return
    course_dir = Path(course_dir)
    unchanged = {key for key, text in _answers(course_dir, assignment, student).items()
                 if reviewed.get(key) == text}
    with Gradebook(gradebook_url(course_dir)) as gradebook:
        for notebook, grade_id in unchanged:
            grade = gradebook.find_grade(grade_id, notebook, assignment, student)
            if grade.manual_score is not None:
                grade.needs_manual_grade = False
        gradebook.db.commit()


def marked_students(course_dir: Path, assignment: str) -> list[str]:
    """Students with a score or a comment from a person on any cell of `assignment`."""
    with Gradebook(gradebook_url(course_dir)) as gradebook:
        try:
            submissions = gradebook.find_assignment(assignment).submissions
        except MissingEntry:
            return []
        return sorted(submission.student.id for submission in submissions
                      if any(grade.manual_score is not None for nb in submission.notebooks for grade in nb.grades)
                      or any(comment.manual_comment for nb in submission.notebooks for comment in nb.comments))


def refresh_feedback(course_dir: Path, assignment: str) -> list[str]:
    """Write again, with nbgrader and the course's configuration, the feedback pages of every
    student a person has marked, so that the pages show the marks and comments; returns them."""
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory

    from autograder.config import nbgrader_config

    course_dir = Path(course_dir).resolve()
    if not (course_dir / "gradebook.db").exists():
        return []
    students = marked_students(course_dir, assignment)
    config = nbgrader_config(course_dir)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    for student in students:
        result = api.generate_feedback(assignment, student, force=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not write {student}'s feedback:\n{result.get('log', '')}\n"
                               f"{result.get('error', '')}")
    return students
