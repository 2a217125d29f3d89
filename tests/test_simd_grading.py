"""The simd assignment through calibration and grading, on the host CPU and on an AVX2-only target.

ReLU speed points need two pieces of evidence: the vector width of the student's own loop
(read from its assembly) and a speed ratio on data in the L2 cache. Each planted submission
gets the same verdict whichever CPU numba compiles for, and the same score when graded again.
"""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys

import pytest

from cpu_targets import emits_zmm, environment
from student_work import appended, calibrated_course, grade_class, released_notebook, student_notebook

pytestmark = [pytest.mark.slow, pytest.mark.timing(reason=(
    "ReLU speed ratios on data in the L2 cache judged against a calibration measured on this machine, the"
    " same when graded again"))]
ASSIGNMENT = NOTEBOOK = "simd"
SPEED_CHECKS = ("simd.relu_vs_scalar", "simd.relu_vs_copy")
SPEED_CELLS = ("test_relu_vs_scalar", "test_relu_vs_copy")
# The class is graded on a local Dask cluster, whose two workers grade side by side (timing
# alone, `autograder.machine_lock`) in the environment Dask gives its workers; the stability
# test grades the same submissions again serially and requires the same scores.
CLUSTER_OPTIONS = ("--workers", "2")
# What the stability test grades again: the reference and the submissions whose speed
# verdicts are decided by measurement (the others fail a correctness test before any timing).
STABILITY_STUDENTS = ("full", "scalar", "decoy")

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

# Right for every input; a loop with a data-dependent break (values above a limit), so scalar.
BREAKING_RELU = '''

@numba.njit
def _relu_until_large(x, out, start, limit):
    i = start
    while i < x.size:
        v = x[i]
        if v > limit:
            break
        out[i] = 0 if v <= 0 else v
        i += 1
    return i


def vectorized_relu(x):
    x = np.asarray(x)
    flat, out = x.reshape(-1), np.empty(x.size, x.dtype)
    i = _relu_until_large(flat, out, 0, 1e30)
    while i < flat.size:
        out[i] = flat[i]  # above the limit: positive, kept
        i = _relu_until_large(flat, out, i + 1, 1e30)
    return out.reshape(x.shape)
'''

# Wide assembly as evidence, scalar work: a vectorized kernel on 16 values, then the scalar
# loop does everything. The width check passes; the speed ratio must not.
DECOY_RELU = SCALAR_RELU.replace(
    "    i = _scalar_relu_from(flat, out, 0)\n",
    "    _relu_into(flat[:16], out[:16])  # the reference's vectorized kernel, on 16 values\n"
    "    i = _scalar_relu_from(flat, out, 0)\n")

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

# A right softmax in numba, not fused: two temporaries the size of x. Fusion is not graded.
UNFUSED_SOFTMAX = '''

@numba.njit
def _unfused_softmax(x):
    rows, cols = x.shape
    peaks = np.full(rows, -np.inf)
    for r in range(rows):
        for j in range(cols):
            peaks[r] = max(peaks[r], x[r, j])
    shifted = np.empty(x.shape)
    for r in range(rows):
        for j in range(cols):
            shifted[r, j] = x[r, j] - peaks[r]
    e = np.exp(shifted)
    sums = np.zeros(rows)
    for r in range(rows):
        for j in range(cols):
            sums[r] += e[r, j]
    out = np.empty(x.shape, x.dtype)
    for r in range(rows):
        for j in range(cols):
            out[r, j] = e[r, j] / sums[r]
    return out


def stable_softmax(x):
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError("a 2-D array, please")
    return _unfused_softmax(x)
'''

# A right softmax, but NumPy's whole-array operations, no numba function of the student's.
NUMPY_SOFTMAX = '''

def stable_softmax(x):
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError("a 2-D array, please")
    e = np.exp(x - x.max(axis=1, keepdims=True, initial=-np.inf))
    return e / e.sum(axis=1, keepdims=True)
'''

_LANES_PROBE = """
import numba, numpy as np
from autograder.reference import load_reference
loop = load_reference("simd")._relu_into
print(load_reference("simd").vector_width(loop, (numba.float32[::1], numba.float32[::1])))
"""


def _notebooks() -> dict:
    def edit(**cells):
        return student_notebook(ASSIGNMENT, NOTEBOOK, edits={k: appended(v) for k, v in cells.items()})

    return {
        "full": student_notebook(ASSIGNMENT, NOTEBOOK),
        # Two plants per notebook where they touch different cells, to keep the grading short.
        "scalar": edit(vectorized_relu=SCALAR_RELU, stable_softmax=UNFUSED_SOFTMAX),
        "breaking": edit(vectorized_relu=BREAKING_RELU, stable_softmax=NUMPY_SOFTMAX),
        "decoy": edit(vectorized_relu=DECOY_RELU),
        "mutating": edit(vectorized_relu=MUTATING_RELU),
        "numpy": edit(vectorized_relu=NUMPY_RELU),
        "stub": released_notebook(ASSIGNMENT),
    }


@pytest.fixture(scope="module")
def course(target, tmp_path_factory):
    return calibrated_course(ASSIGNMENT, target, tmp_path_factory, SPEED_CHECKS)


@pytest.fixture(scope="module")
def graded(target, course, tmp_path_factory):
    """student -> their row of the exported grades, graded on a Dask cluster with numba
    compiling for `target`."""
    folder = tmp_path_factory.mktemp(f"submissions-{target}")
    return grade_class(ASSIGNMENT, _notebooks(), folder, course, *CLUSTER_OPTIONS, env=environment(target))[1]


def _feedback(course, student: str) -> str:
    text = (course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def _speed_points(row) -> list[float]:
    return [float(row[cell]) for cell in SPEED_CELLS]


def test_the_target_took(target, course, graded):
    """The grader's reference width is what numba gives the reference loop for this target."""
    probe = subprocess.run([sys.executable, "-c", _LANES_PROBE], env=environment(target),
                           capture_output=True, text=True, check=True)
    lanes = int(probe.stdout.strip())
    reported = set(re.findall(r"the reference's loop runs (\d+)", _feedback(course, "full")))
    assert reported == {str(lanes)}, f"feedback reports {reported}, numba compiles {lanes} lanes"
    if target == "avx2":
        assert not emits_zmm(target) and lanes * 32 <= 256, "the AVX2 target must not use zmm registers"


def test_reference_solution_gets_full_marks(graded):
    assert float(graded["full"]["score"]) == float(graded["full"]["max_score"])


@pytest.mark.parametrize("student", ["scalar", "breaking"])
def test_a_correct_but_scalar_relu_gets_no_speed_points(graded, course, student):
    row = graded[student]
    assert float(row["test_vectorized_relu"]) == 4
    assert _speed_points(row) == [0, 0]
    # LLVM's straight-line vectorizer may pair a few scalar operations in an xmm register:
    # the feedback then names those lanes, still fewer than the reference loop's.
    verdicts = re.findall(r"No credit: your (?:loop is scalar \((1) lane|widest loop runs (\d+) float32 lanes)"
                          r".*?; the reference's loop runs (\d+) float32 lanes on this machine: see the "
                          r"SIMD chapter, 'Reading the assembly numba generates'", _feedback(course, student))
    assert len(verdicts) == len(SPEED_CELLS), "each speed cell says which evidence failed"
    assert all(int(scalar or widest) < int(reference) for scalar, widest, reference in verdicts), verdicts


def test_wide_assembly_without_the_speed_earns_nothing(graded, course):
    """A vectorized kernel on a few values gives wide assembly; the in-cache ratio still decides."""
    row = graded["decoy"]
    assert float(row["test_vectorized_relu"]) == 4
    assert _speed_points(row) == [0, 0]
    feedback = _feedback(course, "decoy")
    assert "Vector width: your widest loop runs" in feedback and "no credit" in feedback


def test_a_relu_that_changes_its_input_earns_nothing_for_it(graded, course):
    row = graded["mutating"]
    assert float(row["test_vectorized_relu"]) == 0
    assert _speed_points(row) == [0, 0], "correctness gates speed"
    assert float(row["test_stable_softmax"]) == 4 and float(row["test_vector_width"]) == 4
    assert "vectorized_relu changed its input" in _feedback(course, "mutating")


def test_a_relu_that_calls_numpy_earns_no_relu_points(graded, course):
    row = graded["numpy"]
    assert float(row["test_vectorized_relu"]) == 0
    assert _speed_points(row) == [0, 0], "correctness gates speed"
    assert float(row["test_relu_inplace"]) == 2, "relu_inplace is still the student's own loop"
    assert "must run a numba loop of your own" in _feedback(course, "numpy")


def test_softmax_grades_what_the_instructions_say(graded, course):
    """An unfused numba softmax earns the softmax points (fusion is not graded); NumPy's does not."""
    assert float(graded["scalar"]["test_stable_softmax"]) == 4
    assert float(graded["breaking"]["test_stable_softmax"]) == 0
    assert "stable_softmax must run a numba loop of your own" in _feedback(course, "breaking")


def test_the_stub_scores_zero(graded):
    assert float(graded["stub"]["score"]) == 0


def test_both_thresholds_come_from_a_reference_clearly_faster_than_its_baseline(course):
    checks = json.loads((course / "calibration.json").read_text())["checks"]
    for check in SPEED_CHECKS:
        threshold = checks[check]
        assert threshold["zero_credit"] < threshold["full_credit"] < threshold["reference_speedup"]
        assert threshold["zero_credit"] > 1, f"{check}: an unoptimised kernel (1x) must earn nothing"


@pytest.mark.parametrize("target", ["host"], indirect=True)  # one target keeps the suite short
def test_grading_again_changes_no_score(target, course, graded, tmp_path_factory):
    """The reference and the planted submissions timed again, serially this time: every
    score is the one the Dask cluster gave."""
    notebooks = {student: nb for student, nb in _notebooks().items() if student in STABILITY_STUDENTS}
    folder, again = tmp_path_factory.mktemp("stability"), tmp_path_factory.mktemp("course-again")
    shutil.copy(course / "calibration.json", again)  # the same thresholds, a gradebook of these only
    rows = grade_class(ASSIGNMENT, notebooks, folder, again, env=environment(target))[1]
    for student in STABILITY_STUDENTS:
        assert rows[student]["score"] == graded[student]["score"], \
            f"{student}: {graded[student]['score']} on the cluster, then {rows[student]['score']} serially"
