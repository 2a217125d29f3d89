"""The quantization assignment through calibration and grading: each planted bug costs its part."""

from __future__ import annotations

import json

import pytest

from student_work import calibrate, grade_class, planted, released_notebook, student_notebook

pytestmark = pytest.mark.slow
ASSIGNMENT = NOTEBOOK = "quantization"
SPEED_CHECKS = ("quantization.int8_vs_fp32", "quantization.csr_vs_dense")


# The zero-point cross terms dropped: right only when both zero points are 0.
_NO_CROSS_TERMS = planted("int8_matmul(A, B) - zb * row_sums - za * col_sums + K * za * zb",
                           "int8_matmul(A, B) + K * za * zb")
# Casting without clipping: 200.0 becomes -56.
_WRAPS_AROUND = planted("np.clip(codes, -128, 127).astype(np.int8)", "codes.astype(np.int64).astype(np.int8)")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    output = calibrate(ASSIGNMENT, course).stdout
    assert all(f"{check}: reference" in output for check in SPEED_CHECKS), output
    return course


# Each submission: the reference with these edits (grade_id -> edit); "stub" is the release.
SUBMISSIONS = {"full": {}, "no_cross_terms": {"quantized_matmul": _NO_CROSS_TERMS},
               "wraps": {"quantize": _WRAPS_AROUND}}


@pytest.fixture(scope="module")
def rows(course, tmp_path_factory):
    """The exported gradebook: one row per submission, one column per test cell."""
    notebooks = {student: student_notebook(ASSIGNMENT, NOTEBOOK, edits=edits)
                 for student, edits in SUBMISSIONS.items()}
    notebooks["stub"] = released_notebook(ASSIGNMENT)
    return grade_class(ASSIGNMENT, notebooks, tmp_path_factory.mktemp("submissions"), course)[1]


def test_calibration_records_both_speed_checks(course):
    checks = json.loads((course / "calibration.json").read_text())["checks"]
    assert all(checks[check]["reference_speedup"] > 1 for check in SPEED_CHECKS)


def test_reference_solution_gets_full_marks(rows):
    assert float(rows["full"]["score"]) == float(rows["full"]["max_score"])


def test_dropped_cross_terms_lose_the_quantized_matmul_points(rows):
    row = rows["no_cross_terms"]
    assert float(row["test_quantized_matmul"]) == 0
    assert float(row["test_int8_matmul"]) == 4 and float(row["test_int8_speed"]) == 4, "the kernel itself is right"


def test_wraparound_instead_of_saturation_loses_the_quantize_points(rows):
    row = rows["wraps"]
    assert float(row["test_quantize"]) == 0
    assert float(row["test_choose_qparams"]) == 3 and float(row["test_quantized_matmul"]) == 5


def test_the_stub_scores_zero(rows):
    assert float(rows["stub"]["score"]) == 0
