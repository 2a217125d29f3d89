"""The capstone through calibration and grading: each planted fault costs its own part, BLAS is refused."""

from __future__ import annotations

import json

import pytest

from student_work import appended, calibrate, grade_class, planted, released_notebook, student_notebook

pytestmark = [pytest.mark.slow, pytest.mark.timing(reason=(
    "speed verdicts (batch scaling, int8 against fp32) judged against a calibration measured on this "
    "machine"))]
ASSIGNMENT = NOTEBOOK = "capstone"
SPEED_CHECKS = ("capstone.fp32_tiled_vs_untiled", "capstone.int8_vs_fp32")

# One scale for the whole matrix: the small channels keep a handful of codes.
_PER_TENSOR = planted("scales = (np.abs(W_t).max(axis=1) / np.float32(127)).astype(np.float32)",
                      "scales = np.full(W_t.shape[0], np.abs(W_t).max() / np.float32(127), np.float32)")
# A multiply-add counted as one FLOP: the report is half the grader's measurement.
_ONE_FLOP_PER_FMA = planted("return 2 * X.shape[0] * W_t.shape[0] * W_t.shape[1] / best / 1e9",
                            "return X.shape[0] * W_t.shape[0] * W_t.shape[1] / best / 1e9")


def _fixed_cost(share: float):
    """fp32_mlp with a fixed cost per call of `share` of a batch-16 call, measured on CPU time
    when the submission starts (so it is that share on whatever machine grades it). Half a
    batch-16 call is caught in every grading; a fifth in most (see the instructor guide)."""
    return appended(f"""

import time as _time
_honest_fp32_mlp = fp32_mlp
_X16, _layers16 = make_batch(0, 16), make_model(0)
_honest_fp32_mlp(_X16, _layers16)
_started = _time.process_time()
for _ in range(5):
    _honest_fp32_mlp(_X16, _layers16)
_FIXED_SECONDS = {share} * (_time.process_time() - _started) / 5


def fp32_mlp(X, layers):
    _until = _time.process_time() + _FIXED_SECONDS
    while _time.process_time() < _until:
        pass
    return _honest_fp32_mlp(X, layers)
""")


_USES_BLAS = appended("\n\ndef fp32_layer(X, W_t, b, relu=True):\n"
                      "    out = (X @ W_t.T + b).astype(np.float32)\n"
                      "    return np.maximum(out, 0) if relu else out\n")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    output = calibrate(ASSIGNMENT, course).stdout
    assert all(f"{check}: reference" in output for check in SPEED_CHECKS), output
    return course


# Each submission: the reference with these edits (grade_id -> edit); "stub" is the release.
SUBMISSIONS = {
    "full": {},
    # Three independent faults, each in its own part (one submission keeps the test short);
    # the fixed cost is half a batch-16 call, which the batch-scaling rule must catch every time.
    "faulty": {"quantize_weights": _PER_TENSOR, "achieved_gflops": _ONE_FLOP_PER_FMA,
               "pipelines": _fixed_cost(0.5)},
    "blas": {"fp32_layer": _USES_BLAS},
}


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    notebooks = {student: student_notebook(ASSIGNMENT, NOTEBOOK, edits=edits)
                 for student, edits in SUBMISSIONS.items()}
    notebooks["stub"] = released_notebook(ASSIGNMENT)
    return grade_class(ASSIGNMENT, notebooks, tmp_path_factory.mktemp("submissions"), course)


def test_calibration_records_both_speed_checks(course):
    checks = json.loads((course / "calibration.json").read_text())["checks"]
    assert all(checks[check]["reference_speedup"] > 1 for check in SPEED_CHECKS)


def test_reference_solution_gets_full_marks(graded):
    _, rows = graded
    assert float(rows["full"]["score"]) == float(rows["full"]["max_score"]), rows["full"]


def test_per_tensor_scales_and_a_miscounted_flop_rate_lose_their_parts(graded):
    row = graded[1]["faulty"]
    assert float(row["test_quantize_weights"]) == 0
    assert float(row["test_pipelines"]) == 0, "int8_mlp with per-tensor weights is not the grader's int8 model"
    assert float(row["test_achieved_gflops"]) == 0
    assert float(row["test_fp32_layer"]) == 4 and float(row["test_int8_layer"]) == 4, "the kernels themselves are right"


def test_a_fixed_cost_per_call_fails_the_batch_scaling(graded, course):
    assert float(graded[1]["faulty"]["test_scaling"]) == 0
    feedback = (course / "feedback" / "faulty" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "a fixed cost per call" in feedback


def test_blas_in_the_layer_earns_nothing_for_the_kernels(graded):
    row = graded[1]["blas"]
    kernel_tests = ("test_fp32_layer", "test_int8_layer", "test_speed_fp32", "test_speed_int8")
    assert all(float(row[test]) == 0 for test in kernel_tests)


def test_the_stub_scores_zero(graded):
    assert float(graded[1]["stub"]["score"]) == 0
