"""Number-format facts and bf16 rounding behave as the formats define them."""

import numpy as np
import pytest

from coursekit.numformats import first_overflowing_k, int8_dot_paths, number_formats, round_to_bf16, worst_products


def test_format_table_matches_the_formats():
    formats = {f.name: f for f in number_formats()}
    assert [f.bytes for f in formats.values()] == [4, 2, 2, 1]
    assert formats["fp16"].largest == 65504.0
    assert formats["bf16"].step_at_one == 2.0**-7
    assert formats["bf16"].smallest_normal == formats["fp32"].smallest_normal
    # bf16 keeps fp32's exponent: nearly the same range, far coarser steps.
    assert 0.99 < formats["bf16"].largest / formats["fp32"].largest < 1
    assert formats["int8"].largest == 127


def test_bf16_rounds_to_nearest_with_ties_to_even():
    step = 2.0**-7
    values = np.array([1.0, 1 + step / 2, 1 + 1.5 * step, 1 + 0.6 * step, -3.0], dtype=np.float32)
    expected = np.array([1.0, 1.0, 1 + 2 * step, 1 + step, -3.0], dtype=np.float32)
    np.testing.assert_array_equal(round_to_bf16(values), expected)


def test_bf16_result_is_representable_and_close():
    x = np.random.default_rng(0).standard_normal(10_000).astype(np.float32) * 1e3
    y = round_to_bf16(x)
    assert y.dtype == np.float32 and y.shape == x.shape
    assert np.all(y.view(np.uint32) & 0xFFFF == 0)
    assert np.all(np.abs(y - x) <= np.abs(x) * 2.0**-8)
    np.testing.assert_array_equal(round_to_bf16(y), y)


def test_bf16_keeps_nan_and_infinity():
    y = round_to_bf16([np.nan, np.inf, -np.inf])
    assert np.isnan(y[0]) and y[1] == np.inf and y[2] == -np.inf


def test_int8_products_and_overflow_bounds():
    assert worst_products() == (-128 * 127, 128 * 128)
    assert first_overflowing_k(np.int16) == 2
    assert first_overflowing_k(np.int32) == (2**31 - 1) // 2**14 + 1


@pytest.mark.parametrize("acc", [np.int16, np.int32])
def test_overflow_bound_is_tight(acc):
    k = first_overflowing_k(acc)
    info = np.iinfo(acc)
    low, high = worst_products()
    assert (k - 1) * high <= info.max and (k - 1) * low >= info.min
    assert k * high > info.max or k * low < info.min


def test_int8_paths_follow_the_flags_best_first():
    assert int8_dot_paths(()) == ()
    paths = int8_dot_paths(("avx2", "avx512_vnni", "sse4_2"))
    assert [p.flag for p in paths] == ["avx512_vnni", "avx2", "sse4_2"]
    assert "vpdpbusd" in paths[0].instructions
