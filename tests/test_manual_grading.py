"""Answer cells graded by a person: out of the totals until marked, and marks kept by regrades."""

from __future__ import annotations

import csv

import nbformat
import pytest
from nbgrader.api import Gradebook

from autograder.defaults import SOLUTIONS_DIR
from autograder.release import read_source
from autograder.reports import export_csv, gradebook_url
from written_answers import ANSWER_ID, ANSWER_POINTS, ASSIGNMENT, NOTEBOOK, TEST_POINTS, grade, write_solutions

MARK, COMMENT = 2.5, "Names the loop; no numbers."


def _rows(course):
    export_csv(course, ASSIGNMENT, course / "grades.csv")
    with (course / "grades.csv").open() as handle:
        return {row["student_id"]: row for row in csv.DictReader(handle)}


def _mark(course, student, score, comment):
    """What a person does in the formgrader: a score and a comment on the answer cell."""
    with Gradebook(gradebook_url(course)) as gradebook:
        grade = gradebook.find_grade(ANSWER_ID, NOTEBOOK, ASSIGNMENT, student)
        grade.manual_score, grade.needs_manual_grade = score, False
        gradebook.find_comment(ANSWER_ID, NOTEBOOK, ASSIGNMENT, student).manual_comment = comment
        gradebook.db.commit()


def _answer_grade(course, student):
    with Gradebook(gradebook_url(course)) as gradebook:
        grade = gradebook.find_grade(ANSWER_ID, NOTEBOOK, ASSIGNMENT, student)
        comment = gradebook.find_comment(ANSWER_ID, NOTEBOOK, ASSIGNMENT, student)
        return grade.manual_score, grade.needs_manual_grade, comment.manual_comment


@pytest.fixture
def course(tmp_path):
    solutions = write_solutions(tmp_path / "solutions")
    course = tmp_path / "course"
    answers = {"answered": "The loop is in C.", "blank": None, "changes": "First answer."}
    results = grade(course, solutions, answers, tmp_path / "subs")
    return course, solutions, tmp_path / "subs", results


def test_an_unmarked_answer_stays_out_of_the_totals_and_a_blank_one_scores_zero(course):
    course, _, _, results = course
    rows = _rows(course)
    assert (rows["answered"]["score"], rows["answered"]["max_score"]) == (str(float(TEST_POINTS)),) * 2
    assert rows["answered"][ANSWER_ID] == "" and float(rows["answered"]["manual_pending"]) == ANSWER_POINTS
    assert (results["answered"].score, results["answered"].max_score) == (TEST_POINTS, TEST_POINTS)
    # Left as released: nothing for a person to read, 0 of its points by itself.
    assert float(rows["blank"]["max_score"]) == TEST_POINTS + ANSWER_POINTS
    assert float(rows["blank"][ANSWER_ID]) == 0 and float(rows["blank"]["manual_pending"]) == 0


def test_a_mark_counts_and_survives_a_forced_regrade_unless_the_answer_changed(course):
    course, solutions, submissions, _ = course
    for student in ("answered", "changes"):
        _mark(course, student, MARK, COMMENT)
    rows = _rows(course)
    assert float(rows["answered"]["score"]) == TEST_POINTS + MARK
    assert float(rows["answered"]["max_score"]) == TEST_POINTS + ANSWER_POINTS
    assert float(rows["answered"][ANSWER_ID]) == MARK and float(rows["answered"]["manual_pending"]) == 0

    # Regrade every submission's tests; one student has rewritten the answer meanwhile.
    results = grade(course, solutions, {"answered": "The loop is in C.", "changes": "A new answer."},
                    submissions, force=True)
    assert not any(r.skipped for r in results.values())
    assert _answer_grade(course, "answered") == (MARK, False, COMMENT)
    assert results["answered"].score == TEST_POINTS + MARK
    rows = _rows(course)
    assert float(rows["answered"]["score"]) == TEST_POINTS + MARK
    # The changed answer keeps the old mark and comment, flagged for a person to review again,
    # and out of the totals until then.
    assert _answer_grade(course, "changes") == (MARK, True, COMMENT)
    assert float(rows["changes"]["score"]) == float(rows["changes"]["max_score"]) == TEST_POINTS
    assert float(rows["changes"]["manual_pending"]) == ANSWER_POINTS


@pytest.mark.parametrize("assignment, points", [("capstone", 4), ("matmul", 3)])
def test_the_course_has_written_answers_for_a_person(assignment, points):
    """Markdown answer cells, graded by a person for the points the notebook announces."""
    nb = read_source(SOLUTIONS_DIR / assignment / f"{assignment}.md")
    answers = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")
               and c.cell_type == "markdown"]
    assert len(answers) == 1, answers
    meta = answers[0].metadata["nbgrader"]
    assert (meta["solution"], meta["task"], meta["points"]) == (True, False, points)
    intro = next(c.source for c in nb.cells if c.cell_type == "markdown" and "graded by a person" in c.source)
    assert f"{points} points" in intro
    released = nbformat.read(SOLUTIONS_DIR.parent / "assignments" / assignment / f"{assignment}.ipynb",
                             as_version=4)
    answer = next(c for c in released.cells if c.metadata.get("nbgrader", {}).get("grade_id") == meta["grade_id"])
    assert answer.source == "YOUR ANSWER HERE"
