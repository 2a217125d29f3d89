"""The matmul assignment through calibration and grading, on the host CPU and an AVX2 target.

The blocking points are judged against a loop reorder without tiles, at sizes chosen from
the grading machine's caches (`coursekit.blocking`): a reorder alone must earn none of them,
under either target, and every verdict must be the same when the class is graded again.
"""

from __future__ import annotations

import json

import pytest

from autograder.thresholds import MIN_REFERENCE_SPEEDUP_FOR, Calibration
from course_cli import run_cli
from cpu_targets import emits_zmm, environment
from student_work import (
    appended,
    calibrated_course,
    grade_class,
    planted,
    released_notebook,
    student_notebook,
    write_submission,
)

pytestmark = [pytest.mark.slow, pytest.mark.timing(reason=(
    "blocking and float32 speed points judged against a calibration measured on this machine, the same "
    "when graded again"))]
ASSIGNMENT = NOTEBOOK = "matmul"
CHECK = "matmul.tiled_vs_reordered"
SPEED, CORRECT = "test_cache_friendly_speed", "test_cache_friendly_correctness"

_REFERENCE_CALL = "return _tiled_kernel(np.ascontiguousarray(A), B, C)"
# Correct, compiled, the good loop order, no tiles: Part 2's kernel under Part 3's name.
_REORDER_WITHOUT_TILES = planted(_REFERENCE_CALL, "return matmul_ikj(A, B)")
# The reorder again, with its results kept by a hash of A's bytes (B by identity): before every
# timed call got fresh inputs, this measured 61,794x the reorder and took the blocking points.
_KEEP_RESULTS = appended("""

import hashlib
_uncached, _kept = cache_friendly_matmul, {}


def cache_friendly_matmul(A, B):
    A = np.asarray(A)
    key = (hashlib.blake2b(np.ascontiguousarray(A).tobytes()).hexdigest(), id(B), A.shape, np.shape(B))
    if key not in _kept:
        _kept[key] = (B, _uncached(A, B))
    return _kept[key][1]
""")


def _cached_reorder(source: str) -> str:
    return _KEEP_RESULTS(_REORDER_WITHOUT_TILES(source))

# The reference with an edge-tile bug: wrong wherever the rows are not a multiple of 16, right
# at the timed shape (whose rows are). Before correctness gated speed for the whole function,
# it took the speed points that its own correctness cell refused it.
_EDGE_BUG = appended("""

_right_matmul = cache_friendly_matmul


def cache_friendly_matmul(A, B):
    C = _right_matmul(A, B)
    if C.shape[0] % 16:
        C[-1] = 0.0
    return C
""")
_USES_BLAS = appended("\n\ndef cache_friendly_matmul(A, B):\n"
                      "    return A.astype(np.float64) @ B.astype(np.float64)\n")

# No planted naive i, j, k kernel: it runs the reorder's compiled arithmetic with B walked
# by columns, so it is slower than the reorder wherever B lies beyond the caches (over a
# minute to grade here), and the credit only grows with the measured speedup: the reorder
# earning nothing already shows that nothing short of tiling reaches the floor.
SUBMISSIONS = {
    "full": {},
    "reorder": {"cache_friendly_matmul": _REORDER_WITHOUT_TILES},
    "cached": {"cache_friendly_matmul": _cached_reorder},
    "edge": {"cache_friendly_matmul": _EDGE_BUG},
    "blas": {"cache_friendly_matmul": _USES_BLAS},
    "stub": None,
}
# The speed points each must get, on every target and every time it is graded.
EXPECTED_SPEED = {"full": 4, "reorder": 0, "cached": 0, "edge": 0, "blas": 0, "stub": 0}
# The submissions whose speed verdicts are measured, graded COPIES times on the host (the
# stability test, in the same class, under one calibration) and once on the AVX2 target.
# The others fail the correctness gate before anything is timed (BLAS is refused by reading
# the source, the stub raises), whatever the CPU: graded once, on the host.
MEASURED = ("full", "reorder")
COPIES = 3
# Graded once on every target: a gamed timing loop must score what its honest twin (the
# reorder) scores, whatever the CPU.
GAMED = ("cached",)


def _notebook(student):
    edits = SUBMISSIONS[student]
    return released_notebook(ASSIGNMENT) if edits is None else student_notebook(ASSIGNMENT, NOTEBOOK, edits=edits)


def _class(target):
    """student id -> notebook: on the host, COPIES of each measured submission (suffixed _2, _3)."""
    notebooks = {}
    for student in SUBMISSIONS:
        if target != "host" and student not in MEASURED + GAMED:
            continue
        copies = COPIES if target == "host" and student in MEASURED else 1
        for copy in range(1, copies + 1):
            notebooks[student if copy == 1 else f"{student}_{copy}"] = _notebook(student)
    return notebooks


@pytest.fixture(scope="module")
def course(target, tmp_path_factory):
    return calibrated_course(ASSIGNMENT, target, tmp_path_factory, (CHECK,))


@pytest.fixture(scope="module")
def graded(target, course, tmp_path_factory):
    """(grading output, rows by student id) of the class for this target."""
    return grade_class(ASSIGNMENT, _class(target), tmp_path_factory.mktemp(f"submissions-{target}"), course,
                       env=environment(target))


def test_the_avx2_target_takes():
    assert not emits_zmm("avx2")


def _judged(course) -> bool:
    """Whether this machine can tell blocking from a reorder: where memory feeds the reorder well
    the reference falls short of MIN_REFERENCE_SPEEDUP_FOR (the guide's "Blocking (matmul)")."""
    return Calibration.load(course / "calibration.json").checks[CHECK].judged


def test_calibration_names_the_machine_and_the_sizes(course):
    data = json.loads((course / "calibration.json").read_text())
    reference = data["checks"][CHECK]["reference_speedup"]
    assert data["machine"]["fingerprint"] and reference > 0
    assert _judged(course) == (reference >= MIN_REFERENCE_SPEEDUP_FOR[CHECK])


def test_reference_solution_gets_full_marks(graded):
    _, rows = graded
    assert float(rows["full"]["score"]) == float(rows["full"]["max_score"])


def test_a_reorder_without_tiles_gets_no_blocking_points_where_the_machine_can_judge(graded, course, target):
    _, rows = graded
    assert float(rows["reorder"][CORRECT]) == 4 and float(rows["reorder"]["test_matmul_ikj"]) == 2
    feedback = (course / "feedback" / "reorder" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    if not _judged(course):  # no verdict rather than a wrong one, and the page says so
        assert float(rows["reorder"][SPEED]) == 4 and "Not judged on this machine" in feedback
        return
    assert float(rows["reorder"][SPEED]) == 0, f"a loop reorder earned blocking points on {target}"
    assert "an i, k, j kernel without tiles" in feedback and "no credit" in feedback


def test_results_kept_between_calls_score_what_the_honest_reorder_scores(graded, course, target):
    """Every timed call gets inputs no earlier call saw: a cache of results saves nothing."""
    _, rows = graded
    assert float(rows["cached"][CORRECT]) == 4
    assert rows["cached"][SPEED] == rows["reorder"][SPEED], f"on {target}"
    feedback = (course / "feedback" / "cached" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "on fresh inputs, every result counted and sampled results checked" in feedback


@pytest.mark.host_only  # the correctness cell decides, on any CPU
def test_a_kernel_wrong_on_other_shapes_gets_no_speed_points(graded, course, target):
    _, rows = graded
    assert float(rows["edge"][CORRECT]) == 0 and float(rows["edge"][SPEED]) == 0
    feedback = (course / "feedback" / "edge" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "Correctness gates speed: the function must first pass test_cache_friendly_correctness" in feedback


@pytest.mark.host_only  # refused by reading the source, on any CPU
def test_blas_in_the_kernel_earns_nothing_for_it(graded, course, target):
    _, rows = graded
    assert float(rows["blas"][CORRECT]) == 0
    assert float(rows["blas"][SPEED]) == 0
    feedback = (course / "feedback" / "blas" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "without BLAS" in feedback and "the @ operator" in feedback


@pytest.mark.host_only  # raises on any CPU
def test_the_stub_scores_zero(graded, target):
    _, rows = graded
    assert float(rows["stub"]["score"]) == 0


def test_every_speed_verdict_is_the_expected_one_every_time(graded, course, target):
    _, rows = graded
    expected = EXPECTED_SPEED if _judged(course) else {**EXPECTED_SPEED, "reorder": 4, "cached": 4}
    for student_id, row in rows.items():
        student = student_id.split("_")[0]
        assert float(row[SPEED]) == expected[student], f"{student_id} on {target}: {row[SPEED]} speed points"
    for student in SUBMISSIONS:
        copies = [row["score"] for student_id, row in rows.items() if student_id.split("_")[0] == student]
        assert len(set(copies)) == (student in _class(target)), f"{student} on {target}: scores {copies}"
    if target == "host":
        assert all(sum(student_id.split("_")[0] == student for student_id in rows) == COPIES for student in MEASURED)


@pytest.mark.host_only  # the same on every target
def test_grading_without_calibration_stops_with_a_reason(tmp_path, target):
    write_submission(tmp_path / "subs", "stub", released_notebook(ASSIGNMENT), NOTEBOOK)
    result = run_cli("grade", ASSIGNMENT, tmp_path / "subs", "--course-dir", tmp_path / "c", check=False)
    assert result.returncode == 1 and "autograder calibrate matmul" in result.stderr


@pytest.mark.host_only  # the same on every target
def test_a_calibration_from_another_machine_is_refused_unless_forced(course, tmp_path, target):
    other = tmp_path / "course"
    other.mkdir()
    data = json.loads((course / "calibration.json").read_text())
    data["machine"]["fingerprint"] = "0000000000000000"
    (other / "calibration.json").write_text(json.dumps(data))
    subs = tmp_path / "subs"
    # The stub: forcing the calibration is about the grading going ahead, not about timing.
    write_submission(subs, "stub", released_notebook(ASSIGNMENT), NOTEBOOK)
    refused = run_cli("grade", ASSIGNMENT, subs, "--course-dir", other, check=False)
    assert refused.returncode == 1 and "another machine" in refused.stderr
    forced = run_cli("grade", ASSIGNMENT, subs, "--course-dir", other, "--force-calibration")
    assert "stub: " in forced.stdout
