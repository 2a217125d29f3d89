"""The whole path for one assignment: submissions made from the sources, graded by the CLI."""

from __future__ import annotations

import csv
import re
import zipfile

import nbformat
import pytest

from course_cli import run_cli
from student_work import grade_class, planted, released_notebook, student_notebook, write_submission

pytestmark = pytest.mark.slow
ASSIGNMENT = NOTEBOOK = "profiler"


# A deliberate bug: the warm-up calls are never made.
_SKIP_WARMUP = planted("for _ in range(self.warmup):\n            operation(*args)\n        ", "")


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    """Grade a small class once: full solution, untouched stub, one bug, bad entries."""
    subs = tmp_path_factory.mktemp("submissions")
    stub = released_notebook(ASSIGNMENT)
    # A student who deleted a test cell and edited another to always pass.
    cheat = student_notebook(ASSIGNMENT, NOTEBOOK, edits={"performance_profiler": _SKIP_WARMUP})
    cheat.cells = [c for c in cheat.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "test_profile_errors"]
    for cell in cheat.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "test_profile_operation":
            cell.source = "pass"
    (subs / "notes.pdf").write_bytes(b"%PDF-1.4")
    (subs / "broken.ipynb").write_text("{ this is not json")
    (subs / "wrongname").mkdir()
    nbformat.write(stub, subs / "wrongname" / "my_profiler_final.ipynb")

    notebooks = {"full": student_notebook(ASSIGNMENT, NOTEBOOK), "stub": stub, "edited_tests": cheat,
                 "buggy": student_notebook(ASSIGNMENT, NOTEBOOK, edits={"performance_profiler": _SKIP_WARMUP})}
    course = tmp_path_factory.mktemp("course")
    output, rows = grade_class(ASSIGNMENT, notebooks, subs, course)
    return course, output, rows


def test_full_solution_gets_full_marks(graded):
    _, _, rows = graded
    assert float(rows["full"]["score"]) == float(rows["full"]["max_score"]) > 0


def test_untouched_stub_scores_zero_without_crashing(graded):
    _, _, rows = graded
    assert float(rows["stub"]["score"]) == 0
    assert rows["stub"]["problem"] == ""


def test_one_bug_costs_exactly_the_test_that_catches_it(graded):
    course, _, rows = graded
    row = rows["buggy"]
    assert float(row["test_profile_operation"]) == 0
    for other in ("test_measure_memory_usage", "test_profile_errors", "test_compare_operations"):
        assert float(row[other]) > 0, other
    assert 0 < float(row["score"]) < float(row["max_score"])
    feedback = (course / "feedback" / "buggy" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "warm-up" in feedback, "the failing hidden check must explain itself in the feedback"
    assert "_ScriptedWork" not in feedback, "feedback must not reveal hidden test code"


def test_deleted_and_edited_test_cells_are_restored(graded):
    _, _, rows = graded
    assert rows["edited_tests"]["score"] == rows["buggy"]["score"]
    assert float(rows["edited_tests"]["test_profile_errors"]) > 0


@pytest.mark.parametrize("student, reason", [
    ("notes", "not a notebook"),
    ("broken", "not a valid Jupyter notebook"),
    ("wrongname", "expected profiler.ipynb, found my_profiler_final.ipynb"),
])
def test_bad_entries_score_zero_with_a_reason(graded, student, reason):
    course, output, rows = graded
    assert float(rows[student]["score"]) == 0
    assert reason in rows[student]["problem"]
    assert reason in output
    feedback = (course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "could not be graded" in feedback


def test_progress_is_reported_per_submission(graded):
    _, output, rows = graded
    for number in range(1, len(rows) + 1):
        assert f"[{number}/{len(rows)}]" in output


def test_regrading_skips_unchanged_and_keeps_scores(graded, tmp_path):
    course, _, rows = graded
    subs = tmp_path / "again"
    write_submission(subs, "full", student_notebook(ASSIGNMENT, NOTEBOOK), NOTEBOOK)
    output = run_cli("grade", ASSIGNMENT, subs, "--course-dir", course).stdout
    assert "unchanged, kept earlier grade" in output
    assert f"{float(rows['full']['score']):g}/" in output


def test_zip_of_submissions(tmp_path):
    archive = tmp_path / "class.zip"
    nb = student_notebook(ASSIGNMENT, NOTEBOOK)
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(f"zoe/{NOTEBOOK}.ipynb", nbformat.writes(nb))
        zf.writestr("__MACOSX/._zoe", b"")
    course = tmp_path / "course"
    output = run_cli("grade", ASSIGNMENT, archive, "--course-dir", course).stdout
    assert re.search(r"zoe: (\d+)/\1 ", output), output


def test_empty_zip_is_a_clear_error(tmp_path):
    archive = tmp_path / "empty.zip"
    zipfile.ZipFile(archive, "w").close()
    result = run_cli("grade", ASSIGNMENT, archive, "--course-dir", tmp_path / "course", check=False)
    assert result.returncode == 1
    assert "holds no submissions" in result.stderr


def test_the_export_command_writes_the_class_as_read_here(graded, tmp_path):
    course, _, rows = graded
    result = run_cli("export", ASSIGNMENT, "--course-dir", course, "-o", tmp_path / "grades.csv")
    assert result.stdout.strip() == f"wrote {len(rows)} rows to {tmp_path / 'grades.csv'}"
    with (tmp_path / "grades.csv").open() as handle:
        assert {row["student_id"]: row for row in csv.DictReader(handle)} == rows
