"""Hidden tests' comparisons: a failure names the case and the first wrong element."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.compare import assert_matches, case_seed, describe_case
from autograder.session import GradingSession, active


def failure(actual, expected, **options) -> str:
    with pytest.raises(AssertionError) as caught:
        assert_matches(actual, expected, case="f(A)", **options)
    return str(caught.value)


def test_describe_case_names_dtype_shape_layout_and_seed():
    A = np.zeros((6, 4), dtype=np.float32)
    text = describe_case(A, B=np.asfortranarray(A), C=A[:, ::2], k=3, seed=1234)
    assert text == ("float32 (6, 4) C-contiguous, B float32 (6, 4) F-contiguous, "
                    "C float32 (6, 2) strided (strides (4, 2) elements), k 3, inputs drawn from seed 1234")


def test_a_transposed_view_is_f_contiguous_and_a_vector_just_contiguous():
    A = np.zeros((3, 5), dtype=np.int8)
    assert describe_case(A.T) == "int8 (5, 3) F-contiguous"
    assert describe_case(np.zeros(7)) == "float64 (7,) contiguous"
    assert describe_case(np.zeros(8)[::2]) == "float64 (4,) strided (strides (2,) elements)"


def test_the_first_mismatch_is_named_with_expected_and_got():
    expected = np.arange(12.0).reshape(3, 4)
    actual = expected.copy()
    actual[2, 3] = -1.0
    actual[1, 2] = 6.5
    message = failure(actual, expected)
    assert message.startswith("f(A): 2 of 12 elements differ, the first at [1, 2]: expected 6.0, got 6.5")
    assert "then at [2, 3]: expected 11.0, got -1.0" in message


def test_tolerances_are_relative_to_the_expected_value_and_may_be_per_element():
    expected = np.array([1000.0, 1.0])
    assert_matches(expected * (1 + 9e-6), expected, case="f", rtol=1e-5)
    assert "the first at [0]" in failure(expected * (1 + 2e-5), expected, rtol=1e-5)
    bound = np.array([0.0, 0.5])
    assert_matches(expected + [0.0, 0.4], expected, case="f", atol=bound)
    message = failure(expected + [0.1, 0.0], expected, atol=bound)
    assert "at [0]: expected 1000.0, got 1000.1 (allowed difference 0)" in message


def test_wrong_shape_and_dtype_are_named():
    expected = np.zeros((3, 4), dtype=np.float32)
    assert failure(expected.T, expected) == "f(A): wrong shape (4, 3), expected (3, 4)"
    assert failure(expected.astype(np.float64), expected, dtype=np.float32) == \
        "f(A): wrong dtype float64, expected float32"
    assert_matches(expected.astype(np.float64), expected, case="f")  # dtype checked only when asked


def test_nan_matches_nan_but_not_a_number():
    expected = np.array([np.nan, 1.0])
    assert_matches(expected.copy(), expected, case="f", rtol=1e-3)
    assert "at [0]: expected nan, got 0.0" in failure(np.array([0.0, 1.0]), expected, rtol=1e-3)


def test_integers_compare_exactly_without_overflow():
    expected = np.array([-128, 127], dtype=np.int8)
    assert "at [1]: expected 127, got -128" in failure(np.array([-128, -128], dtype=np.int8), expected)
    big = np.array([2**62 + 1], dtype=np.int64)
    assert "got 4611686018427387904" in failure(big - 1, big)


def test_a_list_is_compared_and_a_ragged_result_is_a_failure():
    assert_matches([1, 2, 3], np.array([1, 2, 3]), case="f")
    assert failure([[1, 2], [3]], np.array([1, 2])).startswith("f(A): the result ")


def test_case_seed_is_the_grading_sessions_seed():
    session = GradingSession(seed=987654)
    with active(session):
        assert case_seed() == 987654
    assert len({case_seed() for _ in range(4)}) > 1, "outside grading, every case draws a new seed"
