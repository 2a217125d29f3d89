"""The speed measurement students run is the grader's, and every assignment states its rule."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest

from autograder import speed, timing_harness
from autograder.defaults import SOLUTIONS_DIR
from autograder.thresholds import Threshold
from coursekit import speedcheck
from coursekit.speedcheck import (
    baseline_goes_first,
    credit_share,
    interleaved_ratios,
    loops_for,
    measure_speedup,
    predicted_credit,
    thresholds,
)

pytestmark = pytest.mark.timing(reason=(
    "runs the students' speed measurement on small kernels (kept alone until it is tried beside another "
    "test's load)"))

TIMED_ASSIGNMENTS = ("matmul", "quantization", "parallel", "simd")


def test_the_grader_uses_coursekits_loop_and_constants():
    assert speed.ROUNDS is speedcheck.ROUNDS is timing_harness.ROUNDS
    assert timing_harness.loops_for is loops_for and timing_harness.baseline_goes_first is baseline_goes_first
    assert not hasattr(timing_harness, "MIN_REQUEST_SECONDS"), "one definition, in coursekit.speedcheck"


def test_the_graders_rounds_alternate_give_every_call_fresh_inputs_and_check_its_results():
    """Here (no processes) the harness runs both sides itself, so the order and the seeds show."""
    calls = []

    def kernel(name):
        return lambda x: calls.append((name, int(x[0]))) or x[0]

    candidate = timing_harness.TimedSide(kernel("candidate"), lambda seed: (np.array([seed]),), None)
    baseline = timing_harness.TimedSide(kernel("baseline"), lambda seed: (np.array([seed]),), None)
    rounds = timing_harness._Rounds(candidate, baseline, None, lambda want, got: None, iter(range(1000)))
    loops = {baseline: 2, candidate: 3}
    seen: set[int] = set()
    for number in range(4):
        rounds.ratio(number, loops, {baseline: True, candidate: True})
        timed, checked = calls[:5], calls[5:]
        assert timed[0][0] == ("baseline" if number % 2 == 0 else "candidate"), "which goes first alternates"
        candidate_seeds = [seed for name, seed in timed if name == "candidate"]
        baseline_seeds = [seed for name, seed in timed if name == "baseline"]
        assert baseline_seeds == candidate_seeds[:2], "both start on the same inputs"
        assert not seen & set(candidate_seeds) and len(set(candidate_seeds)) == 3, "fresh inputs for every call"
        # Every call of the candidate is checked here (3 drawn of 3): the two the baseline
        # timed on the same inputs from its own results, the third by one more baseline call.
        assert checked == [("baseline", candidate_seeds[2])]
        seen |= set(candidate_seeds)
        calls.clear()


def test_rounds_that_disagree_carry_a_warning_and_rounds_that_agree_do_not():
    steady = speedcheck.Speedup.from_ratios([2.0, 2.05, 1.98, 2.02, 2.01, 1.99, 2.03])
    noisy = speedcheck.Speedup.from_ratios([2.0, 2.9, 1.6, 2.1, 2.0, 1.9, 2.2])
    assert steady.warning is None and "warning" not in str(steady)
    assert noisy.median == 2.0 and "varied by 65%" in noisy.warning
    assert str(noisy).endswith(noisy.warning)


@pytest.mark.parametrize("reference", [1.2, 1.5, 2.55, 9.0, 16.0, 300.0])
def test_the_graders_threshold_and_the_students_prediction_agree(reference, capsys):
    threshold = Threshold.from_reference(reference)
    assert (threshold.full_credit, threshold.zero_credit) == thresholds(reference)
    for ratio in np.geomspace(0.5, 2 * reference, 60):
        assert predicted_credit(float(ratio), reference) == threshold.credit(float(ratio))
    capsys.readouterr()


def test_the_credit_rule_in_numbers():
    full, zero = thresholds(16.0)
    assert (full, round(zero, 2)) == (4.0, 1.74)
    assert credit_share(4.0, full, zero) == 1.0 and credit_share(zero, full, zero) == 0.0
    # Halfway on the log scale between 1.74x and 4x: 2.64x earns 50%, just below it 25%.
    middle = math.sqrt(full * zero)
    assert credit_share(middle * 1.001, full, zero) == 0.5
    assert credit_share(middle * 0.999, full, zero) == 0.25
    assert credit_share(1.0, full, zero) == 0.0


def test_the_prediction_is_one_line_with_or_without_the_reference(capsys):
    assert predicted_credit(3.0, 9.0) == 1.0
    assert capsys.readouterr().out == ("3.00x against a reference at 9.00x: full credit from 3.00x, "
                                       "none at or below 1.55x, so 100% of the speed points\n")
    assert predicted_credit(2.0) is None
    assert capsys.readouterr().out == ("2.00x earns full credit wherever the reference solution is at most "
                                       "4.00x faster than the baseline, and none where it is 32.00x or more\n")


def test_rounds_alternate_which_side_goes_first():
    order = []
    ratios = interleaved_ratios(lambda: order.append("b") or 6.0, lambda: order.append("c") or 2.0, rounds=4)
    assert order == ["b", "c", "c", "b", "b", "c", "c", "b"]
    assert ratios == [3.0, 3.0, 3.0, 3.0]


def test_loops_double_until_one_request_lasts_the_minimum():
    per_call = speedcheck.MIN_REQUEST_SECONDS / 5  # a request of 5 calls is still too short
    asked = []
    loops = loops_for(lambda n: asked.append(n) or n * per_call)
    assert asked == [1, 2, 4, 8] and loops == 8


def test_measure_speedup_reports_median_spread_and_every_round():
    def loop_sum(x):
        total = 0.0
        for value in x.tolist():
            total += value
        return total

    result = measure_speedup(np.sum, loop_sum, lambda seed: (np.random.default_rng(seed).random(20_000),))
    assert len(result.ratios) == speedcheck.ROUNDS
    assert result.median == float(np.median(result.ratios))
    assert result.spread == pytest.approx((max(result.ratios) - min(result.ratios)) / result.median)
    assert result.median > 3, "numpy's sum is far faster than a Python loop"
    assert str(result).startswith(f"{result.median:.2f}x faster (median of {speedcheck.ROUNDS} interleaved rounds")


@pytest.mark.parametrize("assignment", TIMED_ASSIGNMENTS)
def test_every_timed_assignment_states_the_rule_the_grader_applies(assignment):
    source = " ".join((SOLUTIONS_DIR / assignment / f"{assignment}.md").read_text().split())
    assert (f"every timing repeats the call until it lasts at least {speedcheck.MIN_REQUEST_SECONDS} s, the two "
            f"functions alternate over {speedcheck.ROUNDS} rounds") in source
    assert (f"full credit from `R ** {speedcheck.FULL_CREDIT_EXPONENT}`, none at or below "
            f"`R ** {speedcheck.ZERO_CREDIT_EXPONENT}`") in source
    assert f"rounded down to a multiple of {speedcheck.CREDIT_STEP:.0%}" in source
    example = re.search(r"if the reference is (\d+)x faster than the baseline, full credit needs "
                        r"([\d.]+)x and ([\d.]+)x or less earns nothing", source)
    threshold = Threshold.from_reference(float(example.group(1)))
    assert (f"{threshold.full_credit:.3g}", f"{threshold.zero_credit:.3g}") == example.group(2, 3)


@pytest.mark.parametrize("assignment", TIMED_ASSIGNMENTS)
def test_visible_speed_cells_measure_with_coursekit(assignment):
    source = (SOLUTIONS_DIR / assignment / f"{assignment}.md").read_text()
    visible = re.sub(r"### BEGIN HIDDEN TESTS.*?### END HIDDEN TESTS", "", source, flags=re.S)
    assert "measure_speedup(" in visible and "predicted_credit(" in visible
    assert "time.perf_counter()" not in visible, "a one-shot timing next to the graded one misleads"
    assert not re.search(r"^(MIN_TIMING_SECONDS|ROUNDS) = ", visible, re.M), "no copy of the grader's constants"


def test_inside_the_grader_a_visible_cell_does_not_time_the_pipe():
    """The grader's test cells see a student's functions as proxies: timing them there
    would time the transfer of their inputs, so the student's own comparison is left out."""
    with speedcheck.left_to_the_grader(), pytest.raises(speedcheck.NotTimedWhileGrading, match="graded check"):
        measure_speedup(np.sum, np.sum, lambda seed: (np.ones(10),))
    assert measure_speedup(np.sum, np.sum, lambda seed: (np.ones(10),)).median > 0  # and outside, it times
