"""The profiler's compare_operations must interleave: a block-timed one loses exactly those points.

Graded under the host CPU and an AVX2-only numba target (the profiler compiles nothing, so
the verdicts must not move), and three times in a row on the host with no change of score.
"""

from __future__ import annotations

import pytest

from cpu_targets import GRADED_TARGETS, environment
from student_work import appended, grade_class, student_notebook

pytestmark = pytest.mark.slow
ASSIGNMENT = NOTEBOOK = "profiler"
COPIES = 3  # each submission graded 3 times on the host, in one class

# Every key of the specification, right on a steady machine, but all the baseline's runs
# come before all the optimized ones: on a drifting machine the drift becomes the speedup.
_BLOCK_TIMED = appended('''

def _compare_block_after_block(self, baseline_op, optimized_op, *args, num_runs=100):
    baseline = self.profile_operation(baseline_op, *args, num_runs=num_runs)
    optimized = self.profile_operation(optimized_op, *args, num_runs=num_runs)
    ratios = np.asarray(baseline["times"]) / np.asarray(optimized["times"])
    return {"speedup": baseline["median_time"] / optimized["median_time"],
            "round_ratios": [float(r) for r in ratios],
            "speedup_iqr": tuple(float(q) for q in np.percentile(ratios, [25, 75])),
            "significant": self.statistical_significance(baseline, optimized),
            "baseline": baseline, "optimized": optimized}


PerformanceProfiler.compare_operations = _compare_block_after_block
''')
EXPECTED = {  # student -> test cell -> points
    "full": {"test_measure_memory_usage": 4, "test_profile_operation": 4, "test_profile_errors": 2,
             "test_compare_operations": 4},
    "block_timed": {"test_measure_memory_usage": 4, "test_profile_operation": 4, "test_profile_errors": 2,
                    "test_compare_operations": 0},
}


@pytest.fixture(scope="module", params=GRADED_TARGETS)
def gradings(request, tmp_path_factory):
    """(target, course, rows): on the host, COPIES of each submission in one class."""
    target = request.param
    notebooks = {}
    for copy in range(1, (COPIES if target == "host" else 1) + 1):
        suffix = "" if copy == 1 else f"_{copy}"
        notebooks["full" + suffix] = student_notebook(ASSIGNMENT, NOTEBOOK)
        notebooks["block_timed" + suffix] = student_notebook(ASSIGNMENT, NOTEBOOK,
                                                             edits={"performance_profiler": _BLOCK_TIMED})
    course = tmp_path_factory.mktemp(f"course-{target}")
    _, rows = grade_class(ASSIGNMENT, notebooks, tmp_path_factory.mktemp(f"subs-{target}"), course,
                          env=environment(target))
    return target, course, rows


def test_each_submission_gets_its_expected_points_every_time(gradings):
    target, _, rows = gradings
    assert len(rows) == len(EXPECTED) * (COPIES if target == "host" else 1)
    for student_id, row in rows.items():
        cells = EXPECTED[student_id.rsplit("_", 1)[0] if student_id[-1].isdigit() else student_id]
        got = {cell: float(row[cell]) for cell in cells}
        assert got == cells, f"{student_id} on {target}: {got}"


def test_the_block_timed_comparison_is_told_why(gradings):
    _, course, _ = gradings
    feedback = (course / "feedback" / "block_timed" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "drifting machine" in feedback and "interleaved" in feedback
    assert "_DriftingWork" not in feedback, "feedback must not reveal hidden test code"
