"""A failure of the grader itself on one submission is that student's row, and logged; the
class's feedback pages come from one exporter."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import NamedTuple

import pytest
from nbconvert.exporters import HTMLExporter

from autograder.feedback import GenerateClassFeedback
from autograder.grading import ERROR_LOG, ClassGrader
from autograder.reports import export_csv
from student_work import student_notebook, write_submission

pytestmark = pytest.mark.slow
ASSIGNMENT = NOTEBOOK = "profiler"


class GradedClass(NamedTuple):
    course: Path
    results: dict  # student -> GradeResult
    rows: dict  # student -> exported CSV row
    grader: ClassGrader
    exporters: list  # every HTMLExporter made while the class was graded


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder, course = tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("course")
    for student in ("crashes_autograde", "crashes_feedback", "fine"):
        write_submission(folder, student, student_notebook(ASSIGNMENT, NOTEBOOK), NOTEBOOK)
    grader = ClassGrader(course, ASSIGNMENT)
    real_autograde, real_feedback = grader._autograde, GenerateClassFeedback.generate
    real_exporter_init = HTMLExporter.__init__
    injected, exporters = set(), []

    def autograde(student):
        if student == "crashes_autograde" and student not in injected:
            injected.add(student)  # the first attempt only: the untouched release then grades
            raise RuntimeError("injected failure in autograde")
        real_autograde(student)

    def generate_feedback(converter, assignment, student):
        if student == "crashes_feedback":
            return {"success": False, "log": "injected", "error": "KeyError: 'grade_id'"}
        return real_feedback(converter, assignment, student)

    def count_exporter(exporter, *args, **kwargs):
        exporters.append(exporter)
        real_exporter_init(exporter, *args, **kwargs)

    grader._autograde = autograde
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(GenerateClassFeedback, "generate", generate_feedback)
        patch.setattr(HTMLExporter, "__init__", count_exporter)
        results = {r.student_id: r for r in grader.grade_all(folder, progress=lambda line: None)}
    grades = course / "grades.csv"
    export_csv(grader.course_dir, ASSIGNMENT, grades)
    with grades.open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    return GradedClass(course, results, rows, grader, exporters)


def test_every_student_is_graded_and_exported(graded):
    results, rows = graded.results, graded.rows
    assert set(results) == set(rows) == {"crashes_autograde", "crashes_feedback", "fine"}
    assert float(rows["fine"]["score"]) == float(rows["fine"]["max_score"]) > 0
    assert rows["fine"]["problem"] == "" and not results["fine"].grader_error


def test_a_failed_autograde_scores_zero_with_the_reason(graded):
    course, results, rows = graded.course, graded.results, graded.rows
    row = rows["crashes_autograde"]
    assert results["crashes_autograde"].grader_error
    assert float(row["score"]) == 0 and float(row["max_score"]) == float(rows["fine"]["max_score"])
    assert "the grader failed while autograding" in row["problem"] and ERROR_LOG in row["problem"]
    page = (course / "feedback" / "crashes_autograde" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "injected failure in autograde" in page


def test_a_failed_feedback_keeps_the_score_and_writes_a_plain_page(graded):
    course, rows = graded.course, graded.rows
    row = rows["crashes_feedback"]
    assert float(row["score"]) == float(row["max_score"]) > 0
    assert "the grader failed while writing the feedback" in row["problem"]
    page = (course / "feedback" / "crashes_feedback" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "writing the feedback" in page


def test_tracebacks_go_to_the_log(graded):
    course = graded.course
    log = (course / ERROR_LOG).read_text()
    assert "RuntimeError: injected failure in autograde" in log
    assert "KeyError: 'grade_id'" in log and "crashes_feedback" in log
    assert "fine" not in log


def test_one_feedback_exporter_serves_the_whole_class(graded):
    # Two students' pages were written by nbgrader (the third's feedback failed on purpose):
    # a converter made per student, as NbGraderAPI.generate_feedback makes, builds two.
    course, exporters = graded.course, graded.exporters
    written = {page.parent.parent.name for page in course.glob(f"feedback/*/{ASSIGNMENT}/{NOTEBOOK}.html")}
    assert written == {"crashes_autograde", "crashes_feedback", "fine"}
    assert len(exporters) == 1, f"{len(exporters)} HTML exporters for one class"


def test_feedback_pages_are_the_ones_nbgrader_writes_per_student(graded):
    course, grader = graded.course, graded.grader
    for student in ("fine", "crashes_autograde"):
        page = course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html"
        ours = page.read_bytes()
        assert grader.api.generate_feedback(ASSIGNMENT, student, force=True)["success"]
        assert page.read_bytes() == ours, f"{student}'s page differs from nbgrader's own"
