"""The matmul reference solution: correct, bitwise faithful, and its traces as specified."""

from __future__ import annotations

import numpy as np
import pytest

from autograder.reference import load_reference
from coursekit.cachesim import CacheConfig, matrix_bases, simulate

L1 = CacheConfig(size_bytes=32 * 1024, line_bytes=64, ways=8)


@pytest.fixture(scope="module")
def ref():
    return load_reference("matmul")


# Shapes around the reference's blocks: 4 x 2 register blocks, panels of 256 x 1024, packing
# in 8 x 8 blocks; each has an edge in some dimension.
SHAPES = [(1, 1, 1), (1, 300, 2), (300, 1, 70), (65, 1025, 67), (130, 67, 2050), (5, 257, 1031), (3, 600, 2049)]


@pytest.mark.parametrize("shape", SHAPES)
def test_reorder_is_bitwise_equal_to_the_baseline(ref, shape):
    A, B = _inputs(shape)
    assert np.array_equal(ref.matmul_ikj(A, B), ref.matmul_baseline(A, B))


def _inputs(shape, scale=1.0):
    n, m, p = shape
    rng = np.random.default_rng(sum(shape))
    return (scale * rng.standard_normal((n, m))).astype(np.float32), rng.standard_normal((m, p)).astype(np.float32)


@pytest.mark.parametrize("scale", [1e-3, 1e3])
@pytest.mark.parametrize("shape", SHAPES)
def test_blocked_kernel_keeps_the_contract(ref, shape, scale):
    """float32 products added in float64, in another order of k: the baseline's numbers to rtol=1e-5,
    and within the forward error bound the hidden test checks."""
    A, B = _inputs(shape, scale)
    expected = ref.matmul_baseline(A, B)
    for a, b in [(A, B), (np.asfortranarray(A), B), (A, np.asfortranarray(B))]:
        np.testing.assert_allclose(ref.cache_friendly_matmul(a, b), expected, rtol=1e-5, atol=0)
    exact = A.astype(np.float64) @ B.astype(np.float64)
    bound = shape[1] * np.finfo(np.float32).eps * (np.abs(A).astype(np.float64) @ np.abs(B).astype(np.float64))
    assert np.all(np.abs(ref.cache_friendly_matmul(A, B) - exact) <= bound)


def test_blocked_kernel_takes_strided_views(ref):
    A, B = _inputs((70, 300, 530))
    expected = ref.matmul_baseline(A[::2], B[:, ::3].copy())
    np.testing.assert_allclose(ref.cache_friendly_matmul(A[::2], B[:, ::3]), expected, rtol=1e-5, atol=0)
    np.testing.assert_allclose(ref.cache_friendly_matmul(B.T, A.T), ref.matmul_baseline(B.T.copy(), A.T.copy()),
                               rtol=1e-5, atol=0)


def test_bad_shapes_are_refused(ref):
    with pytest.raises(ValueError, match="2-D"):
        ref.cache_friendly_matmul(np.ones(3), np.ones((3, 3)))
    with pytest.raises(ValueError, match="inner dimensions"):
        ref.cache_friendly_matmul(np.ones((2, 3)), np.ones((4, 2)))


def test_trace_reads_a_b_then_c_in_c_order(ref):
    n, m, p = 5, 7, 3
    trace = ref.matmul_trace(n, m, p)
    a, b, c = matrix_bases(n, m, p)
    assert trace.dtype == np.int64 and trace.size == 3 * n * m * p
    assert trace[:6].tolist() == [a, b, c, a + 8, b + p * 8, c]


def test_every_loop_order_and_tiling_visits_the_same_addresses(ref):
    n, m, p = 37, 29, 41
    expected = np.sort(ref.matmul_trace(n, m, p))
    for order in ref.LOOP_ORDERS:
        np.testing.assert_array_equal(np.sort(ref.matmul_trace(n, m, p, order=order)), expected)
    np.testing.assert_array_equal(np.sort(ref.blocked_matmul_trace(n, m, p, block=16)), expected)


def test_tiling_cuts_simulated_misses_by_at_least_the_origin_pages_40_percent(ref):
    n = 192  # three 288 KiB float64 matrices against a 32 KiB L1
    naive = simulate(ref.matmul_trace(n, n, n), L1)
    tiled = simulate(ref.blocked_matmul_trace(n, n, n, block=32), L1)
    assert tiled.misses <= 0.6 * naive.misses
    assert tiled.compulsory_misses == naive.compulsory_misses, "both touch the same lines"


@pytest.mark.parametrize("call", [
    lambda ref: ref.matmul_trace(4, 4, 4, order="iik"),
    lambda ref: ref.matmul_trace(4, 4, 4, order="IJK"),
    lambda ref: ref.matmul_trace(0, 4, 4),
    lambda ref: ref.matmul_trace(4, 4, 2.5),
    lambda ref: ref.matmul_trace(4, 4, 4, itemsize=0),
    lambda ref: ref.blocked_matmul_trace(4, 4, 4, block=0),
    lambda ref: ref.blocked_matmul_trace(4, 4, 4, block=2.5),
    lambda ref: ref.blocked_matmul_trace(4, 4, 4, block=True),
    lambda ref: ref.blocked_matmul_trace(4, -1, 4),
], ids=["order", "order case", "n=0", "p=2.5", "itemsize=0", "block=0", "block=2.5", "block=True", "m=-1"])
def test_trace_functions_refuse_bad_arguments_with_value_error(ref, call):
    with pytest.raises(ValueError):
        call(ref)


def test_a_block_larger_than_the_matrices_is_one_tile(ref):
    np.testing.assert_array_equal(ref.blocked_matmul_trace(3, 2, 4, block=50), ref.matmul_trace(3, 2, 4, order="ikj"))
