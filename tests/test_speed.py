"""Speed checks: ratios measured in one run, judged by calibration, stable under load."""

from __future__ import annotations

import multiprocessing
import os
import sys

import cloudpickle
import numpy as np
import pytest

from autograder.sandbox import Limits, StudentProcess
from autograder.session import GradingSession, active
from autograder.speed import Credit, assert_same_result, speed_check
from autograder.thresholds import Calibration, CalibrationError, Threshold

pytestmark = pytest.mark.timing(reason=(
    "speed checks measured and judged in the test, stable under a load the test itself makes"))

# A kernel and a baseline whose speed differs by a large, machine-independent factor:
# numpy's vectorised sum against a Python loop over the same 20,000 floats.
KERNELS = """
import numpy as np

def fast_sum(x):
    return float(np.sum(x))

def wrong_sum(x):
    return float(np.sum(x)) + 1.0

def naive_sum(x):
    total = 0.0
    for value in x.tolist():
        total += value
    return total

def sorted_half_sum(x):
    return float(np.sum(np.sort(x)[::2]))
"""

# An honest kernel (sorted_half_sum: numpy's sort, far heavier than hashing its input) written
# to game a timing loop that repeats calls on the same inputs: one attack per record, with the
# credit its honest twin gets as the expectation, or none with the reason the feedback gives.
# A student who caches results for convenience trips the first three without meaning to cheat;
# the grader's fresh inputs make them pay nothing.
GAMED = {
    "cached_by_identity": ("""
_seen = {}
def gamed(x):
    key = id(x)
    if key not in _seen:
        _seen[key] = (x, sorted_half_sum(x))
    return _seen[key][1]
""", 1.0, None),
    "cached_by_hash": ("""
import hashlib
_seen = {}
def gamed(x):
    key = hashlib.blake2b(x.tobytes(), digest_size=16).digest()
    if key not in _seen:
        _seen[key] = sorted_half_sum(x)
    return _seen[key]
""", 1.0, None),
    "cached_by_sampled_values": ("""
_seen = {}
def gamed(x):
    key = (x.shape, float(x[0]), float(x[len(x) // 2]), float(x[-1]))
    if key not in _seen:
        _seen[key] = sorted_half_sum(x)
    return _seen[key]
""", 1.0, None),
    # Replaces the grader's own loop inside its process (found through the garbage
    # collector): one real call per request, its result repeated for the others.
    "runs_fewer_calls": ("""
import gc
from autograder.protocol import Apply, Value
gamed = sorted_half_sum
for _table in [o for o in gc.get_objects() if type(o) is dict and Apply in o]:
    _real = _table[Apply]
    def _fewer(request, _real=_real):
        reply = _real(type(request)(request.function, request.inputs, False))
        return reply
    _table[Apply] = _fewer
""", 0.0, "timed call(s) and kept 1 result"),
}

# The baseline and input factory below travel to the grader's processes by value, as
# functions defined in a hidden test cell do.
cloudpickle.register_pickle_by_value(sys.modules[__name__])


def loop_sum(x):
    total = 0.0
    for value in x.tolist():
        total += value
    return total


def loop_sorted_half_sum(x):
    return float(sum(sorted(x.tolist())[::2]))


_ring: dict = {}


def make_inputs(seed):
    """A window sliding one element per seed along a ring (as simd's in-cache check draws
    its inputs): thousands of fresh inputs for a microsecond kernel, built in no time."""
    if "values" not in _ring:
        _ring.update(first=seed, values=np.random.default_rng(seed).random(20_000 + 2**16))
    offset = (seed - _ring["first"]) % 2**16
    return (_ring["values"][offset:offset + 20_000],)


def compare_sums(expected, actual):
    assert np.isclose(expected, actual), f"sum {actual} differs from {expected}"


@pytest.fixture(scope="module")
def student():
    with StudentProcess(Limits(call_timeout=60)) as process:
        process.run_cells([(0, KERNELS)])
        yield process


# The two checks these tests grade: check id -> (baseline, its name in the feedback).
CHECKS = {"sum.fast": (loop_sum, "a Python loop"), "sort.fast": (loop_sorted_half_sum, "Python's sorted")}


def check(student, name, context, check_id="sum.fast"):
    baseline, baseline_name = CHECKS[check_id]
    with active(context):
        return speed_check(check_id, student.get(name), baseline, make_inputs,
                           compare=compare_sums, baseline_name=baseline_name)


def calibrated(student, name, check_id, runs):
    """The reference `name` measured `runs` times for `check_id`: the measurements."""
    context = GradingSession(calibrating=True)
    try:
        for _ in range(runs):
            check(student, name, context, check_id)
    finally:
        context.close()
    return context.measurements


@pytest.fixture(scope="module")
def calibration(student):
    measurements = calibrated(student, "fast_sum", "sum.fast", runs=2)
    assert min(measurements["sum.fast"]) > 3, "numpy's sum is far faster than a Python loop"
    return Calibration.from_measurements(measurements)


def grade(student, name, calibration) -> Credit:
    context = GradingSession(calibration=calibration)
    try:
        return check(student, name, context)
    finally:
        context.close()


def test_thresholds_never_reward_an_unoptimised_kernel():
    for reference in (1.3, 1.5, 4.0, 16.0, 200.0):
        threshold = Threshold.from_reference(reference)
        assert threshold.credit(1.0) == 0
        assert threshold.credit(reference) == 1
        assert 1 < threshold.zero_credit < threshold.full_credit < reference
        credits = [threshold.credit(s) for s in np.geomspace(1, reference, 50)]
        assert credits == sorted(credits), "more speed never earns less"
        assert set(credits) <= {0, 0.25, 0.5, 0.75, 1.0}


def test_a_check_the_machine_cannot_judge_is_recorded_as_such_and_costs_no_points():
    """A wrong verdict on some machines is worse than none: below 1.2x the reference cannot
    be told from its baseline, so every correct kernel keeps the points, and every verdict says why."""
    threshold = Threshold.from_reference(1.05)
    assert not threshold.judged and threshold.credit(0.5) == threshold.credit(3.0) == 1.0
    assert "only 1.05x faster" in threshold.not_judged_reason()
    calibration = Calibration.from_measurements({"sum.slow": [0.8, 0.9, 1.0], "sum.fast": [3.0, 3.1, 2.9]})
    assert list(calibration.not_judged()) == ["sum.slow"] and calibration.checks["sum.fast"].judged
    # The blocking check's reference varies more between gradings: it needs 2x to be judged.
    blocking = Calibration.from_measurements({"matmul.tiled_vs_reordered": [1.6]}).checks["matmul.tiled_vs_reordered"]
    assert not blocking.judged and "below the 2x needed" in blocking.not_judged_reason()


def test_calibration_round_trips_through_its_file(calibration, tmp_path):
    calibration.save(tmp_path / "c.json")
    loaded = Calibration.load(tmp_path / "c.json")
    assert loaded.checks == calibration.checks and loaded.fingerprint == calibration.fingerprint


def test_reference_speed_gets_full_credit_and_says_why(student, calibration):
    credit = grade(student, "fast_sum", calibration)
    assert credit.fraction == 1
    assert "faster than a Python loop" in credit.message and "full credit" in credit.message


def test_the_baseline_itself_never_passes(student, calibration):
    assert grade(student, "naive_sum", calibration).fraction == 0


def test_a_wrong_result_earns_no_speed_credit(student, calibration):
    with pytest.raises(AssertionError, match="differs") as caught:
        grade(student, "wrong_sum", calibration)
    # The feedback names the timed input, described from the hidden test's own factory.
    assert any(note.startswith("sum.fast checks the result before timing it; the timed input: "
                               "float64 (20000,) contiguous, inputs drawn from seed ")
               for note in caught.value.__notes__)


def test_the_default_gate_names_the_first_wrong_element():
    expected = np.linspace(0.0, 1.0, 5)
    actual = expected.copy()
    actual[3] += 0.01
    with pytest.raises(AssertionError, match=r"1 of 5 elements differ, the first at \[3\]: expected 0.75, got 0.76"):
        assert_same_result(expected, actual)
    assert_same_result(expected, expected * (1 + 5e-6))  # within float32 rounding


@pytest.fixture(scope="module")
def sort_calibration(student):
    """The honest twin is the reference: full credit from the square root of its ratio."""
    return Calibration.from_measurements(calibrated(student, "sorted_half_sum", "sort.fast", runs=1))


@pytest.mark.parametrize("attack", GAMED)
def test_a_gamed_timing_loop_scores_what_its_honest_twin_scores(attack, student, sort_calibration):
    code, expected_credit, reason = GAMED[attack]
    honest = GradingSession(calibration=sort_calibration)
    try:
        assert check(student, "sorted_half_sum", honest, "sort.fast").fraction == 1.0
    finally:
        honest.close()
    gamed = GradingSession(calibration=sort_calibration)
    with StudentProcess(Limits(call_timeout=60)) as process:
        ran = process.run_cells([(0, KERNELS + code)])
        assert all(result.error is None for result in ran.results)
        try:
            credit = check(process, "gamed", gamed, "sort.fast")
        finally:
            gamed.close()
    assert credit.fraction == expected_credit, credit.message
    if reason is not None:
        assert reason in credit.message and "no speed credit" in credit.message


def test_a_function_that_failed_its_correctness_cell_is_not_timed(student, calibration):
    """Correctness gates speed for the whole function: the timed input alone could hide an
    edge-tile bug, so a failed correctness cell of the same grading takes the points."""
    context = GradingSession(calibration=calibration, student=student)
    context.passed_cells.update(test_sum_shapes=False, test_sum_basics=True)
    try:
        with active(context):
            credit = speed_check("sum.fast", student.get("fast_sum"), loop_sum, make_inputs,
                                 compare=compare_sums, requires=("test_sum_basics", "test_sum_shapes"))
    finally:
        context.close()
    assert credit.fraction == 0
    assert "must first pass test_sum_shapes" in credit.message and "test_sum_basics" not in credit.message
    assert context._reference is None, "nothing was timed: no baseline process was started"


def test_a_calibrated_value_is_recorded_from_the_reference_and_read_back_when_grading(tmp_path):
    """A quantity that is not a speedup (a fixed cost's share) judged against the reference's."""
    from autograder.testing import calibrated_value

    assert calibrated_value("fixed.fp32", 0.3) is None, "outside the grader there is no reference"
    calibrating = GradingSession(calibrating=True)
    with active(calibrating):
        assert [calibrated_value("fixed.fp32", v) for v in (0.02, -0.04, 0.05)] == [0.02, -0.04, 0.05]
    Calibration.from_measurements({}, calibrating.reference_values).save(tmp_path / "c.json")
    loaded = Calibration.load(tmp_path / "c.json")
    with active(GradingSession(calibration=loaded)):
        assert calibrated_value("fixed.fp32", 0.9) == 0.02, "the median of the reference's runs"
        with pytest.raises(CalibrationError, match="no calibrated value for 'fixed.int8'"):
            calibrated_value("fixed.int8", 0.0)


def test_uncalibrated_grading_stops_with_a_reason(student):
    with pytest.raises(Exception, match="autograder calibrate"):
        grade(student, "fast_sum", Calibration(machine={"fingerprint": "x"}))


def _burn():
    while True:
        pass


def test_verdicts_are_stable_also_while_another_process_loads_a_core(student, calibration):
    """Five gradings of each, quiet and then with a CPU-bound process on one core."""
    verdicts = [grade(student, name, calibration).fraction for name in ("fast_sum", "naive_sum") * 5]
    load = multiprocessing.get_context("fork").Process(target=_burn, daemon=True)
    load.start()
    try:
        loaded = [grade(student, name, calibration).fraction for name in ("fast_sum", "naive_sum") * 5]
    finally:
        load.kill()
    assert verdicts == loaded == [1, 0] * 5


def test_a_submission_cannot_slow_the_baseline_down(calibration):
    # Busy child processes started by the submission would steal the baseline's CPU if
    # the submission kept running while the baseline is timed.
    hog = KERNELS + (
        "\nimport multiprocessing\n"
        "def _spin():\n    while True:\n        pass\n"
        "_hogs = [multiprocessing.get_context('fork').Process(target=_spin, daemon=True)\n"
        f"         for _ in range({os.cpu_count() or 1})]\n"
        "for _h in _hogs:\n    _h.start()\n"
        )
    with StudentProcess(Limits(call_timeout=120)) as process:
        process.run_cells([(0, hog)])
        assert grade(process, "naive_sum", calibration).fraction == 0
