"""The simd assignment through calibration and grading: speed is judged, inputs stay untouched."""

from __future__ import annotations

import json

import pytest

from student_work import appended, calibrate, grade_class, released_notebook, student_notebook

pytestmark = pytest.mark.slow
ASSIGNMENT = NOTEBOOK = "simd"
SPEED_CHECKS = ("simd.relu_vs_scalar", "simd.relu_vs_copy")
SPEED_CELLS = ("test_relu_vs_scalar", "test_relu_vs_copy")

# Right for every input, NaN included, but the loop may leave early: LLVM keeps it scalar.
SCALAR_RELU = '''

@numba.njit
def _scalar_relu_from(x, out, start):
    for i in range(start, x.size):
        v = x[i]
        if v != v:
            return i
        out[i] = v if v > 0 else 0
    return x.size


def vectorized_relu(x):
    x = np.asarray(x)
    flat, out = x.reshape(-1), np.empty(x.size, x.dtype)
    i = _scalar_relu_from(flat, out, 0)
    while i < flat.size:
        out[i] = flat[i]  # a NaN stays NaN
        i = _scalar_relu_from(flat, out, i + 1)
    return out.reshape(x.shape)
'''

# The right values, fast, in a new array; but the caller's array is overwritten too.
MUTATING_RELU = '''

def vectorized_relu(x):
    x = np.asarray(x)
    _relu_into(x.reshape(-1), x.reshape(-1))  # the caller's array, when it is contiguous
    return x.copy()
'''

# Right values, fast, new array: but NumPy's loop, not the student's.
NUMPY_RELU = '''

def vectorized_relu(x):
    return np.maximum(np.asarray(x), np.zeros((), np.asarray(x).dtype))
'''


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    course = tmp_path_factory.mktemp("course")
    output = calibrate(ASSIGNMENT, course).stdout
    assert all(f"{check}: reference" in output for check in SPEED_CHECKS)
    return course


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    """student -> their row of the exported grades."""
    notebooks = {
        "full": student_notebook(ASSIGNMENT, NOTEBOOK),
        "scalar": student_notebook(ASSIGNMENT, NOTEBOOK, edits={"vectorized_relu": appended(SCALAR_RELU)}),
        "mutating": student_notebook(ASSIGNMENT, NOTEBOOK, edits={"vectorized_relu": appended(MUTATING_RELU)}),
        "stub": released_notebook(ASSIGNMENT),
        "numpy": student_notebook(ASSIGNMENT, NOTEBOOK, edits={"vectorized_relu": appended(NUMPY_RELU)}),
    }
    return grade_class(ASSIGNMENT, notebooks, tmp_path_factory.mktemp("submissions"), course)[1]


def _feedback(course, student: str) -> str:
    return (course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()


def test_reference_solution_gets_full_marks(graded):
    assert float(graded["full"]["score"]) == float(graded["full"]["max_score"])


def test_a_correct_but_scalar_relu_gets_no_speed_points(graded):
    row = graded["scalar"]
    assert float(row["test_vectorized_relu"]) == 4
    assert all(float(row[cell]) == 0 for cell in SPEED_CELLS)


def test_a_relu_that_changes_its_input_earns_nothing_for_it(graded, course):
    row = graded["mutating"]
    assert float(row["test_vectorized_relu"]) == 0
    assert all(float(row[cell]) == 0 for cell in SPEED_CELLS), "correctness gates speed"
    assert float(row["test_stable_softmax"]) == 4 and float(row["test_vector_width"]) == 4
    assert "vectorized_relu changed its input" in _feedback(course, "mutating")


def test_the_stub_scores_zero(graded):
    assert float(graded["stub"]["score"]) == 0


def test_both_thresholds_come_from_a_reference_clearly_faster_than_its_baseline(course):
    checks = json.loads((course / "calibration.json").read_text())["checks"]
    assert all(checks[check]["reference_speedup"] > 1.3 for check in SPEED_CHECKS)


def test_a_relu_that_calls_numpy_earns_no_relu_points(graded, course):
    row = graded["numpy"]
    assert float(row["test_vectorized_relu"]) == 0
    assert all(float(row[cell]) == 0 for cell in SPEED_CELLS), "correctness gates speed"
    assert float(row["test_relu_inplace"]) == 2, "relu_inplace is still the student's own loop"
    assert "must run a numba loop of your own" in _feedback(course, "numpy")
