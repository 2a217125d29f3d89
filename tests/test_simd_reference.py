"""The simd reference solution: np.maximum(x, 0) exactly, vectorized, and a stable softmax."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from autograder.reference import load_reference
from coursekit.machine import describe_machine

SPECIALS = [np.nan, -np.nan, np.inf, -np.inf, 0.0, -0.0, 1e-45, -1e-45, 3e38, -3e38, -2.5, 2.5]
F32 = numba.float32[::1]
on_avx = pytest.mark.skipif("avx" not in describe_machine().isa, reason="an x86 CPU with AVX")


@pytest.fixture(scope="module")
def ref():
    return load_reference("simd")


def assert_same_bits(actual, expected):
    """Equal dtype, shape and values, NaN where expected, the same sign on every zero."""
    actual, expected = np.asarray(actual), np.asarray(expected)
    assert actual.dtype == expected.dtype and actual.shape == expected.shape
    assert np.array_equal(actual, expected, equal_nan=True)
    numbers = ~np.isnan(expected)
    assert np.array_equal(np.signbit(actual[numbers]), np.signbit(expected[numbers]))


def test_the_assignment_text_is_right_about_numpys_signed_zeros():
    zeros = np.full(19, -0.0, np.float32)
    assert not np.signbit(np.maximum(zeros, 0)).any() and np.signbit(np.maximum(0, zeros)).all()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_relu_is_np_maximum_bit_for_bit(ref, dtype):
    x = np.array(SPECIALS * 3, dtype)
    before = x.copy()
    result = ref.vectorized_relu(x)
    assert_same_bits(result, np.maximum(x, 0))
    assert_same_bits(x, before)
    assert not np.shares_memory(result, x)


@pytest.mark.parametrize("view", [lambda a: a, lambda a: a[:, ::3], np.transpose,
                                  lambda a: a[::-1, 2:], np.asfortranarray],
                         ids=["c-order", "strided", "transposed", "reversed", "fortran"])
def test_relu_of_any_layout(ref, view):
    base = np.random.default_rng(0).standard_normal((9, 14)).astype(np.float32)
    base.reshape(-1)[:len(SPECIALS)] = SPECIALS
    x = view(base)
    assert_same_bits(ref.vectorized_relu(x), np.maximum(x, 0))


@pytest.mark.parametrize("x", [np.array(-0.0, np.float32), np.array(np.nan), np.array(-1.5),
                               np.zeros(0, np.float32), np.zeros((3, 0, 2))],
                         ids=["0-d zero", "0-d nan", "0-d negative", "empty", "empty 3-d"])
def test_relu_of_0d_and_empty_arrays(ref, x):
    assert_same_bits(ref.vectorized_relu(x), np.asarray(np.maximum(x, 0)))


@pytest.mark.parametrize("order, view", [("C", lambda a: a), ("F", lambda a: a), ("C", lambda a: a[:, ::2]),
                                         ("C", np.transpose), ("C", lambda a: a[::-1, 3:7]),
                                         ("C", lambda a: a.reshape(-1)[1::5])],
                         ids=["c-order", "fortran", "strided", "transposed", "reversed", "1-d strided"])
def test_inplace_writes_where_the_view_points_and_nowhere_else(ref, order, view):
    base = np.random.default_rng(1).standard_normal((8, 12)).astype(np.float32)
    base.reshape(-1)[:len(SPECIALS)] = SPECIALS
    base = np.asarray(base, order=order)
    expected = base.copy(order="K")
    target = view(expected)
    target[...] = np.maximum(target, 0)
    x = view(base)
    assert ref.relu_inplace(x) is x
    assert_same_bits(base, expected)


def test_inplace_of_0d_and_empty_arrays(ref):
    zero = np.array(-0.0, np.float32)
    assert ref.relu_inplace(zero) is zero and not np.signbit(zero)
    assert ref.relu_inplace(np.zeros((0, 3))).shape == (0, 3)


@on_avx
def test_the_relu_kernels_are_vectorized(ref):
    assert ref.vector_width(ref._relu_into, (F32, F32)) in (4, 8, 16)
    assert ref.vector_width(ref._relu_contiguous_inplace, (F32,)) in (4, 8, 16)
    assert ref.vector_width(ref._relu_into, (numba.float64[::1],) * 2) in (2, 4, 8)


def test_the_scalar_baseline_is_scalar_and_right_without_nan(ref):
    assert ref.vector_width(ref.relu_scalar_loop, (F32,)) == 1
    x = np.random.default_rng(2).standard_normal(1000).astype(np.float32)
    assert_same_bits(ref.relu_scalar_loop(x), ref.vectorized_relu(x))
    assert_same_bits(ref.copy_three_times(x), x)


class Listing:
    """A stand-in for a compiled function whose assembly is `text`."""

    def __init__(self, text):
        self.text, self.signatures = text, [("signature",)]

    def inspect_asm(self, signature):
        return self.text


@pytest.mark.parametrize("text, lanes", [
    ("\tvmaxps\t(%rcx,%r9,4), %ymm0, %ymm1\n", 8),
    ("\tvcmpnleps\t%ymm0, %ymm1, %k1\n", 8),
    ("\tvfmadd231ps\t(%rsi), %zmm1, %zmm0 {%k1}\n", 16),
    ("\tvmaxpd\t%ymm1, %ymm2, %ymm3\n\tvaddps\t%xmm0, %xmm1, %xmm1\n", 4),
    ("\tvmaxss\t%xmm1, %xmm0, %xmm0\n", 1),
    ("\tvxorps\t%xmm0, %xmm0, %xmm0\n\tvmovups\t%zmm1, (%rax)\n", 1),
    ("\tvxorps\t.LCPI0_0(%rip), %ymm0, %ymm0\n", 8),
    ("\tvcvtpd2ps\t%zmm2, %ymm2\n", 1),
    ("\tmaxps\t%xmm1, %xmm0\n", 4),
    ("\tcvtps2pd\t%xmm0, %xmm1\n\tcvtdq2ps\t%xmm2, %xmm2\n\tcvtsi2sd\t%rax, %xmm0\n", 1),
    ("\tvgatherqps\t(%rax,%zmm1,4), %ymm0 {%k1}\n", 8),
    ("\tvscatterqps\t%ymm0, (%rax,%zmm1,4) {%k1}\n", 8),
    ("\tvxorps\t%ymm1, %ymm1, %ymm2\n\txorps\t%xmm3, %xmm3\n", 1),
    ("\tvxorps\t%ymm1, %ymm2, %ymm2\n", 8),
    ("\tvxorps\t%xmm1, %xmm10, %xmm1\n", 4),
], ids=["ymm float32", "mask compare", "zmm fma", "widest wins", "scalar", "moves and zeroing",
        "xor with memory", "conversion", "sse", "sse conversions", "gather: data register",
        "scatter: data register", "zeroing xor, other destination", "xor of two registers",
        "xmm1 is not xmm10"])
def test_the_packed_instruction_rule(ref, text, lanes):
    assert ref.vector_width(Listing(text)) == lanes


def test_signature_none_reads_the_compiled_signature(ref):
    @numba.njit
    def halve(x, out):
        for i in range(x.size):
            out[i] = x[i] * np.float32(0.5)

    with pytest.raises(ValueError, match="never compiled"):
        ref.vector_width(halve)
    x = np.ones(16, np.float32)
    halve(x, x.copy())
    assert ref.vector_width(halve) == ref.vector_width(halve, (F32, F32))
    assert ref.vector_width(halve, "void(float32[::1], float32[::1])") == ref.vector_width(halve)


def softmax_float64(x):
    x = np.asarray(x, np.float64)
    e = np.exp(x - x.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@pytest.mark.parametrize("scale", [1e-2, 1.0, 1e2, 1e4])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_matches_float64_and_rows_sum_to_one(ref, scale, dtype):
    x = (scale * np.random.default_rng(3).standard_normal((17, 257))).astype(dtype)
    before = x.copy()
    p = ref.stable_softmax(x)
    single = dtype == np.float32
    assert p.dtype == dtype and p.shape == x.shape
    np.testing.assert_allclose(p, softmax_float64(x), rtol=1e-5 if single else 1e-10,
                               atol=1e-7 if single else 1e-15)
    np.testing.assert_allclose(p.sum(axis=1, dtype=np.float64), 1.0, atol=1e-6 if single else 1e-13)
    assert_same_bits(x, before)


def test_softmax_never_overflows(ref):
    big = np.finfo(np.float32).max
    x = np.array([[big, -big, 0.0], [big, big, big], [1e4, 1e4 - 1, -1e4], [0.0, -np.inf, 0.0]], np.float32)
    p = ref.stable_softmax(x)
    assert np.isfinite(p).all()
    np.testing.assert_allclose(p, softmax_float64(x), rtol=1e-6, atol=1e-7)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert np.isnan(naive[:3]).any(), "the inputs must be large enough to break the naive formula"


def test_softmax_rows_without_probabilities_are_nan(ref):
    """All -inf, holding +inf or holding NaN: NaN throughout, as scipy.special.softmax gives."""
    inf, nan = np.inf, np.nan
    x = np.array([[-inf, -inf, -inf], [1.0, inf, 2.0], [inf, inf, 0.0], [0.5, nan, 1.0], [nan, 1.0, 2.0],
                  [1.0, 2.0, -inf]])
    for dtype in (np.float32, np.float64):
        p = ref.stable_softmax(x.astype(dtype))
        assert np.isnan(p[:5]).all()
        np.testing.assert_allclose(p[5], softmax_float64(x[5:])[0], rtol=1e-6)


def test_softmax_of_views_and_odd_shapes(ref):
    base = np.random.default_rng(4).standard_normal((30, 20)).astype(np.float32)
    for x in (base.T, base[::2, 1::3]):
        np.testing.assert_allclose(ref.stable_softmax(x), softmax_float64(x), rtol=1e-5, atol=1e-7)
    assert ref.stable_softmax(np.zeros((0, 4))).shape == (0, 4)
    assert ref.stable_softmax(np.zeros((3, 0))).shape == (3, 0)
    np.testing.assert_array_equal(ref.stable_softmax(np.ones((1, 1), np.float32)), [[1.0]])
    for bad in (np.ones(3), np.ones((2, 2, 2)), np.array(1.0)):
        with pytest.raises(ValueError, match="2-D"):
            ref.stable_softmax(bad)


def _machine_with(*caches):
    from dataclasses import replace

    from coursekit.machine import CacheLevel

    levels = tuple(CacheLevel(level, kind, size, 64, 8) for level, kind, size in caches)
    return replace(describe_machine(), caches=levels)


@pytest.mark.parametrize("caches, cache_bytes", [
    ([(1, "Data", 32 * 2**10), (2, "Unified", 256 * 2**10)], 256 * 2**10),
    ([(1, "Data", 48 * 2**10), (2, "Unified", 2**20), (3, "Unified", 32 * 2**20)], 2**20),
    ([(1, "Data", 48 * 2**10), (2, "Unified", 2 * 2**20)], 2 * 2**20),
    ([(1, "Instruction", 32 * 2**10), (1, "Data", 64 * 2**10)], 64 * 2**10),
], ids=["256 KiB L2", "1 MiB L2", "2 MiB L2", "L1 only"])
def test_the_in_cache_size_fills_half_of_the_machines_l2(ref, caches, cache_bytes):
    elements = ref.in_cache_elements(_machine_with(*caches))
    assert elements * 2 * np.dtype(np.float32).itemsize == cache_bytes // 2


def test_no_reported_cache_is_an_error_not_a_guess(ref):
    with pytest.raises(RuntimeError, match="no L1 or L2"):
        ref.in_cache_elements(_machine_with())


def test_the_width_check_reads_only_the_functions_the_entry_point_calls():
    from autograder.anticheat import numba_functions_behind

    source = '''

import numba
@numba.njit
def _inner(x, out):
    pass
@numba.njit
def _kernel(x, out):
    _inner(x, out)
def _loop(x):
    pass
compiled = numba.njit(_loop)
@numba.njit
def _vectorized_elsewhere(x, out):
    pass
def _wrapper(x):
    _kernel(x, x)
def vectorized_relu(x):
    _wrapper(x)
    compiled(x)
'''
    assert numba_functions_behind(source, ("vectorized_relu",)) == ["_inner", "_kernel", "compiled"]
    assert numba_functions_behind("def broken(:", ("vectorized_relu",)) == []
