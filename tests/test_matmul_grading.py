"""The matmul assignment through calibration and grading: speed is judged, BLAS is refused."""

from __future__ import annotations

import json

import pytest

from conftest import run_cli
from student_work import (appended, calibrate, grade_class, planted, released_notebook, student_notebook,
                          write_submission)

pytestmark = pytest.mark.slow
ASSIGNMENT = NOTEBOOK = "matmul"


# Correct and validating, but unoptimised: the checks pass, then the baseline runs.
_TILED_IS_THE_NAIVE_LOOP = planted("return _tiled_kernel(np.ascontiguousarray(A), np.ascontiguousarray(B), C)",
                                   "return matmul_baseline(A, B)")
_USES_BLAS = appended("\n\ndef cache_friendly_matmul(A, B):\n"
                      "    return A.astype(np.float64) @ B.astype(np.float64)\n")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    assert "matmul.tiled_vs_naive: reference" in calibrate(ASSIGNMENT, course).stdout
    return course


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    notebooks = {
        "full": student_notebook(ASSIGNMENT, NOTEBOOK),
        "naive": student_notebook(ASSIGNMENT, NOTEBOOK, edits={"cache_friendly_matmul": _TILED_IS_THE_NAIVE_LOOP}),
        "blas": student_notebook(ASSIGNMENT, NOTEBOOK, edits={"cache_friendly_matmul": _USES_BLAS}),
        "stub": released_notebook(ASSIGNMENT),
    }
    return grade_class(ASSIGNMENT, notebooks, tmp_path_factory.mktemp("submissions"), course)


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
