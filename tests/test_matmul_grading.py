"""The matmul assignment through calibration and grading: speed is judged, BLAS is refused."""

from __future__ import annotations

import csv
import json

import nbformat
import pytest

from autograder.release import ASSIGNMENTS_DIR
from conftest import run_cli
from student_work import student_notebook, write_submission

pytestmark = pytest.mark.slow
ASSIGNMENT = NOTEBOOK = "matmul"


def _tiled_is_the_naive_loop(source: str) -> str:
    """Correct and validating, but unoptimised: the checks pass, then the baseline runs."""
    naive = source.replace("return _tiled_kernel(np.ascontiguousarray(A), np.ascontiguousarray(B), C)",
                           "return matmul_baseline(A, B)")
    assert naive != source, "the planted change no longer matches the solution's code"
    return naive


def _uses_blas(source: str) -> str:
    return source + ("\n\ndef cache_friendly_matmul(A, B):\n"
                     "    return A.astype(np.float64) @ B.astype(np.float64)\n")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    output = run_cli("calibrate", ASSIGNMENT, "--course-dir", course, "--runs", "1").stdout
    assert "matmul.tiled_vs_naive: reference" in output
    return course


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    subs = tmp_path_factory.mktemp("submissions")
    write_submission(subs, "full", student_notebook(ASSIGNMENT, NOTEBOOK), NOTEBOOK)
    write_submission(subs, "naive", student_notebook(
        ASSIGNMENT, NOTEBOOK, edits={"cache_friendly_matmul": _tiled_is_the_naive_loop}), NOTEBOOK)
    write_submission(subs, "blas", student_notebook(
        ASSIGNMENT, NOTEBOOK, edits={"cache_friendly_matmul": _uses_blas}), NOTEBOOK)
    stub = nbformat.read(ASSIGNMENTS_DIR / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    write_submission(subs, "stub", stub, NOTEBOOK)
    output = run_cli("grade", ASSIGNMENT, subs, "--course-dir", course).stdout
    run_cli("export", ASSIGNMENT, "--course-dir", course, "-o", course / "grades.csv")
    with (course / "grades.csv").open() as handle:
        return output, {row["student_id"]: row for row in csv.DictReader(handle)}


def test_calibration_names_the_machine(course):
    data = json.loads((course / "calibration.json").read_text())
    assert data["machine"]["fingerprint"] and data["checks"]["matmul.tiled_vs_naive"]["reference_speedup"] > 1


def test_reference_solution_gets_full_marks(graded):
    _, rows = graded
    assert float(rows["full"]["score"]) == float(rows["full"]["max_score"])


def test_a_correct_but_naive_kernel_gets_no_speed_points(graded):
    _, rows = graded
    assert float(rows["naive"]["test_cache_friendly_correctness"]) == 4
    assert float(rows["naive"]["test_cache_friendly_speed"]) == 0


def test_blas_in_the_kernel_earns_nothing_for_it(graded, course):
    _, rows = graded
    assert float(rows["blas"]["test_cache_friendly_correctness"]) == 0
    assert float(rows["blas"]["test_cache_friendly_speed"]) == 0
    feedback = (course / "feedback" / "blas" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "without BLAS" in feedback and "the @ operator" in feedback


def test_the_stub_scores_zero(graded):
    _, rows = graded
    assert float(rows["stub"]["score"]) == 0


def test_grading_without_calibration_stops_with_a_reason(tmp_path):
    result = run_cli("grade", ASSIGNMENT, tmp_path, "--course-dir", tmp_path / "c", check=False)
    assert result.returncode == 2 and "autograder calibrate matmul" in result.stderr


def test_a_calibration_from_another_machine_is_refused_unless_forced(course, tmp_path):
    other = tmp_path / "course"
    other.mkdir()
    data = json.loads((course / "calibration.json").read_text())
    data["machine"]["fingerprint"] = "0000000000000000"
    (other / "calibration.json").write_text(json.dumps(data))
    subs = tmp_path / "subs"
    write_submission(subs, "full", student_notebook(ASSIGNMENT, NOTEBOOK), NOTEBOOK)
    refused = run_cli("grade", ASSIGNMENT, subs, "--course-dir", other, check=False)
    assert refused.returncode == 2 and "another machine" in refused.stderr
    forced = run_cli("grade", ASSIGNMENT, subs, "--course-dir", other, "--force-calibration")
    assert "full: " in forced.stdout
