"""Interleaved timing: order alternates between rounds, ratios are taken round by round."""

import pytest

from coursekit.timing import interleaved_samples, ratio


def test_rounds_alternate_the_order_after_one_untimed_call_each():
    calls = []
    samples = interleaved_samples({"a": lambda: calls.append("a"), "b": lambda: calls.append("b")}, rounds=3)
    assert calls == ["a", "b"] + ["a", "b", "b", "a", "a", "b"]
    assert [len(v) for v in samples.values()] == [3, 3]


def test_the_ratio_is_taken_round_by_round():
    samples = {"slow": [4.0, 6.0, 9.0], "fast": [2.0, 2.0, 3.0]}
    assert ratio(samples, "slow", "fast") == {"median": 3.0, "min": 2.0, "max": 3.0}


def test_no_rounds_is_refused():
    with pytest.raises(ValueError, match="rounds must be positive"):
        interleaved_samples({"a": lambda: None}, rounds=0)
