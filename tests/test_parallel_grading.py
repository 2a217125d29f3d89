"""The parallel assignment through calibration and grading: order, errors, prange speed, CUDA."""

from __future__ import annotations

import json

import pytest

from autograder.defaults import SOLUTIONS_DIR
from autograder.release import read_source
from autograder.sandbox import StudentProcess
from autograder.thresholds import Calibration
from coursekit.bandwidth import usable_threads
from coursekit.parallel import CUDASIM_VARIABLE
from student_work import appended, calibrate, grade_class, planted, released_notebook, student_notebook

pytestmark = [pytest.mark.slow, pytest.mark.timing(reason=(
    "prange speed points judged against a calibration measured on this machine, with every core busy"))]
ASSIGNMENT = NOTEBOOK = "parallel"
SPEED_CHECK = "parallel.prange_vs_serial"
NOT_ORDER_TESTS = ("test_batch_activation_correct", "test_parallel_efficiency", "test_cuda_tiled_matmul")


# A plausible slip: imap_unordered hands results back as the workers finish them.
_RESULTS_IN_COMPLETION_ORDER = planted("pool.imap(", "pool.imap_unordered(")
# Right values in the right order, but no pool: everything runs in the student's process.
_SERIAL = appended("\n\ndef parallel_batch_processing(batch_data, operation, num_workers=4):\n"
                   "    return np.array([operation(item) for item in batch_data])\n")


def _naive_kernel(source: str) -> str:
    """A correct CUDA kernel that reads A and B from global memory: no shared tiles."""
    return ("TILE = 16\n\n@cuda.jit\ndef _block_product(A, B, C):\n"
            "    i, j = cuda.grid(2)[1], cuda.grid(2)[0]\n"
            "    if i < C.shape[0] and j < C.shape[1]:\n"
            "        acc = numba.float32(0.0)\n"
            "        for k in range(A.shape[1]):\n"
            "            acc += A[i, k] * B[k, j]\n"
            "        C[i, j] = acc\n")


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A calibrated course directory. With one usable core no prange speedup exists, so the
    check cannot be judged; with two, it is judged where the reference shows its speedup."""
    course = tmp_path_factory.mktemp("course")
    assert f"{SPEED_CHECK}: reference" in calibrate(ASSIGNMENT, course).stdout
    judged = Calibration.load(course / "calibration.json").checks[SPEED_CHECK].judged
    assert usable_threads() >= 2 or not judged, "a prange speedup judged on one core"
    return course


@pytest.fixture(scope="module")
def graded(course, tmp_path_factory):
    notebooks = {
        "full": student_notebook(ASSIGNMENT, NOTEBOOK),
        "unordered": student_notebook(ASSIGNMENT, NOTEBOOK,
                                      edits={"parallel_batch_processing": _RESULTS_IN_COMPLETION_ORDER}),
        "stub": released_notebook(ASSIGNMENT),
        "serial": student_notebook(ASSIGNMENT, NOTEBOOK, edits={"parallel_batch_processing": _SERIAL}),
        "no_shared_tiles": student_notebook(ASSIGNMENT, NOTEBOOK,
                                            edits={"cuda_tiled_matmul_helpers": _naive_kernel}),
    }
    return grade_class(ASSIGNMENT, notebooks, tmp_path_factory.mktemp("submissions"), course)


def test_calibration_records_the_prange_check(course):
    data = json.loads((course / "calibration.json").read_text())
    assert data["machine"]["fingerprint"] and data["checks"][SPEED_CHECK]["reference_speedup"] > 0


def test_reference_solution_gets_full_marks(graded, course):
    _, rows = graded
    full = rows["full"]
    speed = float(full["test_batch_activation_speed"])
    assert float(full["score"]) - speed == float(full["max_score"]) - 3, "every correctness point"
    assert speed == 3  # judged, or (one core) not judged, which costs a correct kernel nothing


def test_results_out_of_order_lose_the_order_points_only(graded):
    _, rows = graded
    unordered = rows["unordered"]
    assert float(unordered["test_batch_order"]) == 0
    assert all(float(unordered[test]) == float(rows["full"][test]) for test in NOT_ORDER_TESTS)


def test_the_stub_scores_zero(graded):
    _, rows = graded
    assert float(rows["stub"]["score"]) == 0


def test_the_setup_cell_switches_the_simulator_on_in_the_graders_worker(monkeypatch):
    """The worker imports IPython and numpy, not numba, so the first cell is early enough."""
    monkeypatch.delenv(CUDASIM_VARIABLE, raising=False)
    setup = next(c.source for c in read_source(SOLUTIONS_DIR / ASSIGNMENT / f"{NOTEBOOK}.md").cells
                 if c.cell_type == "code")
    with StudentProcess() as process:
        ran = process.run_cells([(0, "import sys\nnumba_before = 'numba' in sys.modules"),
                                 (1, setup), (2, "simulating = bool(numba.config.ENABLE_CUDASIM)")])
        assert [r.error for r in ran.results] == [None, None, None]
        assert process.get("numba_before") is False, "the worker imported numba before the first cell"
        assert process.get("simulating") is True


def test_a_batch_run_in_one_process_loses_the_order_points(graded, course):
    _, rows = graded
    assert float(rows["serial"]["test_batch_order"]) == 0
    feedback = (course / "feedback" / "serial" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "all items ran in one process" in feedback


def test_a_kernel_without_shared_tiles_loses_the_cuda_points(graded, course):
    _, rows = graded
    assert float(rows["no_shared_tiles"]["test_cuda_tiled_matmul"]) == 0
    assert float(rows["no_shared_tiles"]["test_batch_order"]) == float(rows["full"]["test_batch_order"])
    feedback = (course / "feedback" / "no_shared_tiles" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "_block_product" in feedback and "(0, 0)" in feedback
