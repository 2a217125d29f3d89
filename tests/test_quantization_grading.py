"""The quantization assignment through calibration and grading, on the host CPU and an AVX2 target.

Each planted fault costs its part; a per-channel model, which the chapter recommends, keeps
every point (accuracy is judged against the grader's own int8 model of the same trained
weights, memory with an allowance per output column). The int8 speed check times a batch
of one against a weight matrix beyond the caches, where int8 wins by its bytes on AVX2 and
AVX-512 alike: the reference gets full credit and a correct scalar int8 kernel none, under
both targets. Verdicts do not move when graded again.
"""

from __future__ import annotations

import json

import pytest

from cpu_targets import environment
from student_work import calibrated_course, grade_class, planted, released_notebook, student_notebook

pytestmark = [pytest.mark.slow, pytest.mark.timing(reason=(
    "the int8 speed check judged against a calibration measured on this machine, the same when graded "
    "again"))]
ASSIGNMENT = NOTEBOOK = "quantization"
SPEED_CHECKS = ("quantization.int8_vs_fp32", "quantization.csr_vs_dense")
INT8_SPEED = "test_int8_speed"


# The zero-point cross terms dropped: right only when both zero points are 0.
_NO_CROSS_TERMS = planted("int8_matmul(A, B) - zb * row_sums - za * col_sums + K * za * zb",
                           "int8_matmul(A, B) + K * za * zb")
# Casting without clipping: 200.0 becomes -56.
_WRAPS_AROUND = planted("np.clip(codes, -128, 127).astype(np.int8)", "codes.astype(np.int64).astype(np.int8)")
# Exact int32 sums, but an overflow check on every step: LLVM cannot vectorise a loop that
# may leave early, so the int8 kernel reads one byte per step, slower than memory delivers.
_SCALAR_INT8 = planted("                acc += a[k] * b[k]\n",
                       "                acc += a[k] * b[k]\n"
                       "                if acc > 2147483647 or acc < -2147483648:\n"
                       "                    raise OverflowError(\"the sum left int32\")\n")


def _per_channel(source: str) -> str:
    """One symmetric scale per output column of each weight matrix."""
    source = planted('w_scale, _ = choose_qparams(layer["W"], symmetric=True)',
                     'w_scale, _ = choose_qparams(layer["W"], symmetric=True, axis=1)')(source)
    return planted('quantize(layer["W"], w_scale, 0)', 'quantize(layer["W"], w_scale, 0, axis=1)')(source)


# Each submission: the reference with these edits (grade_id -> edit); None is the release.
# `faults` holds three independent faults in cells that do not share a test: a scalar int8
# kernel (exact, so only the speed cell can catch it), dropped cross terms, wraparound.
SUBMISSIONS = {"full": {}, "per_channel": {"quantized_model": _per_channel},
               "faults": {"int8_kernel": _SCALAR_INT8, "quantized_matmul": _NO_CROSS_TERMS,
                          "quantize": _WRAPS_AROUND},
               "stub": None}
# One class per target, graded once under one calibration. The AVX2 target grades the
# submissions whose verdicts come from their own compiled kernels; the per-channel model
# (the reference's kernels; its accuracy and memory come from NumPy and exact integer
# sums) and the stub (nothing compiled) are graded on the host only. The stability test:
# on the host the reference's kernels are graded three times in the same class, as `full`,
# `full_2` and `per_channel` (which differs only in its model's scales, so its speed cells
# time the same code): their speed verdicts are the measured ones closest to a threshold;
# the scalar kernel's is far below the zero-credit floor (the instructor guide,
# "Quantization", has both figures).
ON_EVERY_TARGET = ("full", "faults")
COPIES = {"full": 2}
FULL_MARKS = ("full", "per_channel")
SPEED_CELLS = (INT8_SPEED, "test_csr_speed")


def _class(target):
    notebooks = {}
    for student, edits in SUBMISSIONS.items():
        if target != "host" and student not in ON_EVERY_TARGET:
            continue
        for copy in range(1, (COPIES.get(student, 1) if target == "host" else 1) + 1):
            notebook = (released_notebook(ASSIGNMENT) if edits is None
                        else student_notebook(ASSIGNMENT, NOTEBOOK, edits=edits))
            notebooks[student if copy == 1 else f"{student}_{copy}"] = notebook
    return notebooks


@pytest.fixture(scope="module")
def course(target, tmp_path_factory):
    return calibrated_course(ASSIGNMENT, target, tmp_path_factory, SPEED_CHECKS)


@pytest.fixture(scope="module")
def graded(target, course, tmp_path_factory):
    """(grading output, exported rows by student id): the whole class of this target, graded once."""
    return grade_class(ASSIGNMENT, _class(target), tmp_path_factory.mktemp(f"submissions-{target}"), course,
                       env=environment(target))


@pytest.fixture(scope="module")
def rows(graded):
    return graded[1]


def _copies(rows, student):
    return [row for student_id, row in rows.items() if student_id == student or student_id.startswith(f"{student}_")
            and student_id[len(student) + 1:].isdigit()]


def _points(row):
    return {cell: float(points) for cell, points in row.items() if cell.startswith("test")}


def test_calibration_records_both_speed_checks(course):
    checks = json.loads((course / "calibration.json").read_text())["checks"]
    assert all(checks[check]["reference_speedup"] > 1 for check in SPEED_CHECKS)


@pytest.mark.parametrize("student", [pytest.param(student, marks=() if student in ON_EVERY_TARGET
                                                  else pytest.mark.host_only) for student in FULL_MARKS])
def test_the_reference_and_a_per_channel_model_get_full_marks_every_time(rows, student, target):
    copies = _copies(rows, student)
    assert len(copies) == (COPIES.get(student, 1) if target == "host" else 1)
    for row in copies:
        assert float(row["score"]) == float(row["max_score"]), _points(row)
        assert float(row[INT8_SPEED]) == 4, f"{student} on {target}: {_points(row)}"


@pytest.mark.host_only  # the stability test
def test_the_reference_kernels_get_the_same_speed_points_three_times_on_the_host(rows, target):
    gradings = _copies(rows, "full") + _copies(rows, "per_channel")
    assert len(gradings) == 3
    assert {tuple(float(row[cell]) for cell in SPEED_CELLS) for row in gradings} == {(4.0, 3.0)}


def test_a_correct_scalar_int8_kernel_gets_no_int8_speed_points(rows, course, target):
    row = rows["faults"]
    assert float(row["test_int8_matmul"]) == 4, "the scalar kernel is exact"
    assert float(row[INT8_SPEED]) == 0, f"a scalar int8 loop earned int8 speed points on {target}"
    feedback = (course / "feedback" / "faults" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "quantization.int8_vs_fp32" in feedback and "no credit" in feedback


def test_dropped_cross_terms_lose_the_quantized_matmul_points(rows):
    assert float(rows["faults"]["test_quantized_matmul"]) == 0


def test_wraparound_instead_of_saturation_loses_the_quantize_points(rows):
    row = rows["faults"]
    assert float(row["test_quantize"]) == 0
    assert float(row["test_choose_qparams"]) == 3 and float(row["test_csr_speed"]) == 3, "the other parts stand"


@pytest.mark.host_only  # see ON_EVERY_TARGET
def test_the_stub_scores_zero(rows, target):
    assert float(rows["stub"]["score"]) == 0
