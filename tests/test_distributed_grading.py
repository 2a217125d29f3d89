"""Grading on a Dask cluster gives the serial grades; the client alone writes the course."""

from __future__ import annotations

import re
import subprocess
import time
from types import SimpleNamespace

import nbformat
import pytest
from distributed import KilledWorker

from autograder import confinement
from autograder.defaults import SOLUTIONS_DIR
from autograder.distributed import DaskGrading, GradingUnit
from autograder.grading import ERROR_LOG, ClassGrader
from autograder.reports import KEYS_FILE, export_csv
from corpus import APPEND
from course_cli import BIN, run_cli
from student_work import grade_class, planted, released_notebook, student_notebook, write_submission

pytestmark = pytest.mark.slow
ASSIGNMENT = NOTEBOOK = "profiler"
_SKIP_WARMUP = planted("for _ in range(self.warmup):\n            operation(*args)\n        ", "")


def _class() -> dict:
    return {"full": student_notebook(ASSIGNMENT, NOTEBOOK), "stub": released_notebook(ASSIGNMENT),
            "buggy": student_notebook(ASSIGNMENT, NOTEBOOK, edits={"performance_profiler": _SKIP_WARMUP})}


def _feedback_text(course, student: str) -> str:
    """The feedback page with measured numbers masked: runs time differently."""
    page = (course / "feedback" / student / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    return re.sub(r"\d+(\.\d+)?", "#", page)


@pytest.fixture(scope="module")
def serial_and_distributed(tmp_path_factory):
    graded = {}
    for mode, options in (("serial", ()), ("distributed", ("--workers", "2"))):
        course = tmp_path_factory.mktemp(mode)
        output, rows = grade_class(ASSIGNMENT, _class(), tmp_path_factory.mktemp(f"{mode}-class"),
                                   course, *options)
        graded[mode] = course, output, rows
    return graded


def test_the_cluster_gives_the_serial_grades_and_feedback(serial_and_distributed):
    serial_course, _, serial = serial_and_distributed["serial"]
    cluster_course, output, distributed = serial_and_distributed["distributed"]
    assert "Dask: 2 workers" in output
    assert serial == distributed
    assert float(distributed["buggy"]["test_profile_operation"]) == 0
    for student in serial:
        assert _feedback_text(serial_course, student) == _feedback_text(cluster_course, student)


def test_a_second_run_grades_only_what_was_not_recorded(serial_and_distributed, tmp_path):
    course, _, before = serial_and_distributed["distributed"]
    folder = tmp_path / "class"
    for student, nb in _class().items():
        write_submission(folder, student, nb, NOTEBOOK)
    # As if the run had been interrupted before "buggy" was recorded.
    keys = course / KEYS_FILE
    keys.write_text(keys.read_text().replace('"buggy"', '"not-recorded"'))
    result = run_cli("grade", ASSIGNMENT, folder, "--course-dir", course, "--workers", "1")
    assert result.stdout.count("unchanged, kept earlier grade") == 2
    assert re.search(r"buggy: [\d.]+/[\d.]+ \(\d", result.stdout), result.stdout


def test_a_worker_that_dies_costs_that_student_a_reason_not_a_row(tmp_path):
    grader = ClassGrader(tmp_path / "course", ASSIGNMENT)
    grader.prepare()

    class DeadWorker:
        def result(self):
            raise KilledWorker("grade-victim", SimpleNamespace(address="tcp://127.0.0.1:1"), allowed_failures=1)

    unit = GradingUnit(ASSIGNMENT, "victim", {}, None, {}, {}, 60, 10.0)
    result = DaskGrading._record(grader, DeadWorker(), unit, "key", 0.0, [])
    assert result.score == 0 and result.grader_error
    assert "grading on a Dask worker" in result.problem
    assert "KilledWorker" in (tmp_path / "course" / ERROR_LOG).read_text()
    export_csv(tmp_path / "course", ASSIGNMENT, tmp_path / "grades.csv")
    assert "victim,0.0" in (tmp_path / "grades.csv").read_text()


@pytest.mark.skipif(confinement.available_abi() < 1, reason=confinement.describe())
def test_stock_nbgrader_in_the_course_directory_runs_the_sandboxed_pipeline(serial_and_distributed):
    course, _, _ = serial_and_distributed["serial"]
    hidden_tests = SOLUTIONS_DIR / ASSIGNMENT / f"{NOTEBOOK}.md"
    hostile = student_notebook(ASSIGNMENT, NOTEBOOK, edits={"measure_memory_usage": lambda source: source + (
        APPEND + f"def measure_memory_usage(obj):\n    return len(open({str(hidden_tests)!r}).read())\n")})
    write_submission(course / "submitted", "hostile", hostile, f"{ASSIGNMENT}/{NOTEBOOK}")
    subprocess.run([BIN / "nbgrader", "autograde", ASSIGNMENT, "--student", "hostile", "--force"],
                   cwd=course, check=True, capture_output=True, text=True)
    graded = nbformat.read(course / "autograded" / "hostile" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    test = next(c for c in graded.cells
                if c.metadata.get("nbgrader", {}).get("grade_id") == "test_measure_memory_usage")
    assert "Permission denied" in str(test.outputs), test.outputs


@pytest.fixture
def scheduler_file(tmp_path):
    """A Dask cluster started as the Slurm recipe starts one: `dask scheduler` and `dask
    worker` processes that meet through a scheduler file."""
    path = tmp_path / "scheduler.json"
    scheduler = subprocess.Popen([BIN / "dask", "scheduler", "--scheduler-file", path, "--port", "0",
                                  "--dashboard-address", ":0"], stderr=subprocess.DEVNULL)
    worker = subprocess.Popen([BIN / "dask", "worker", "--scheduler-file", path, "--nworkers", "1",
                               "--nthreads", "1"], stderr=subprocess.DEVNULL)
    try:
        yield path
    finally:
        for process in (worker, scheduler):
            process.terminate()
            process.wait(timeout=60)


def test_an_existing_cluster_is_reached_through_its_scheduler_file(scheduler_file, tmp_path):
    from distributed import Client

    for _ in range(600):  # the scheduler writes its file once it listens
        if scheduler_file.exists():
            break
        time.sleep(0.1)
    with Client(scheduler_file=str(scheduler_file), timeout=60) as client:
        client.wait_for_workers(1, timeout=120)
    output, rows = grade_class(ASSIGNMENT, {"full": student_notebook(ASSIGNMENT, NOTEBOOK)},
                               tmp_path / "class", tmp_path / "course", "--scheduler", scheduler_file)
    assert "Dask: 1 workers" in output
    assert float(rows["full"]["score"]) == float(rows["full"]["max_score"]) > 0
