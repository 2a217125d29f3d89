"""The quantization reference solution: exact integer arithmetic, saturation, the model's claims."""

from __future__ import annotations

import dataclasses
import platform

import numpy as np
import pytest
import scipy.sparse

from autograder import speed
from autograder.defaults import TEST_CELL_TIMEOUT
from autograder.reference import load_reference
from autograder.sandbox import Limits
from coursekit import int8_sizes
from coursekit.int8_sizes import Int8SizeError, int8_speed_sizes
from coursekit.machine import CacheLevel, describe_machine

pytestmark = pytest.mark.timing(reason=(
    "runs the reference's int8 kernels and sizes the int8 speed check from this machine's caches (kept "
    "alone until it is tried beside another test's load)"))


@pytest.fixture(scope="module")
def ref():
    return load_reference("quantization")


@pytest.fixture(scope="module")
def qmodel(ref):
    return ref.quantize_model(ref.mlp, ref.X_train)


def _int8(rng, shape):
    return rng.integers(-128, 128, size=shape, dtype=np.int8)


def test_k_max_is_the_longest_sum_an_int32_accumulator_holds(ref):
    largest_product = 128 * 128  # (-128) * (-128)
    assert ref.K_MAX * largest_product <= 2**31 - 1 < (ref.K_MAX + 1) * largest_product


@pytest.mark.parametrize("symmetric", [False, True])
def test_the_range_fills_int8_and_zero_is_exact(ref, symmetric):
    x = np.random.default_rng(0).normal(1.0, 3.0, size=1000)
    scale, zero_point = ref.choose_qparams(x, symmetric=symmetric)
    q = ref.quantize(np.array([x.min(), 0.0, x.max()]), scale, zero_point)
    assert q[1] == zero_point and ref.dequantize(q, scale, zero_point)[1] == 0
    if symmetric:  # the larger side reaches 127 in magnitude; -128 stays unused
        assert max(-int(q[0]), int(q[2])) == 127 and q[0] >= -127
    else:
        assert (q[0], q[2]) == (-128, 127)
    assert np.all(np.abs(ref.dequantize(ref.quantize(x, scale, zero_point), scale, zero_point) - x) <= 0.5001 * scale)


def test_constant_tensors_need_no_division_by_zero(ref):
    with np.errstate(all="raise"):
        assert ref.choose_qparams(np.zeros((3, 4))) == (1.0, 0)
        scale, zero_point = ref.choose_qparams(np.full(7, 2.5))
        assert ref.dequantize(ref.quantize(np.full(7, 2.5), scale, zero_point), scale, zero_point) == pytest.approx(2.5)
        scales, zero_points = ref.choose_qparams(np.array([[0.0, 1.0], [0.0, -2.0]]), axis=1)
    assert scales[0] == 1.0 and zero_points[0] == 0


def test_out_of_range_values_saturate_instead_of_wrapping(ref):
    q = ref.quantize(np.array([1e9, 128.0, -129.0, -1e9]), 1.0, 0)
    assert q.dtype == np.int8 and q.tolist() == [127, 127, -128, -128]
    assert ref.quantize(np.array([50.0]), 1.0, 100).tolist() == [127]
    np.testing.assert_array_equal(ref.dequantize(np.array([127, -128], np.int8), 1.0, -128), [255.0, 0.0])


def test_halves_round_to_even_before_the_zero_point_is_added(ref):
    halves = np.array([-127.5, -2.5, -1.5, -0.5, 0.5, 1.5, 2.5, 126.5])
    assert ref.quantize(halves, 1.0, 0).tolist() == [-128, -2, -2, 0, 0, 2, 2, 126]
    assert ref.quantize(0.25 * halves, 0.25, 3).tolist() == [-125, 1, 1, 3, 3, 5, 5, 127]
    assert [int((ref.magnitude_prune(np.arange(1.0, n + 1), 0.5) == 0).sum()) for n in (5, 7, 9)] == [2, 4, 4]


def test_per_channel_parameters_match_each_channel_alone(ref):
    W = np.random.default_rng(1).standard_normal((20, 4)) * np.array([1e-3, 0.1, 1.0, 10.0])
    scales, zero_points = ref.choose_qparams(W, axis=1)
    Q = ref.quantize(W, scales, zero_points, axis=1)
    for c in range(W.shape[1]):
        scale, zero_point = ref.choose_qparams(W[:, c])
        assert scales[c] == pytest.approx(scale) and zero_points[c] == zero_point
        np.testing.assert_array_equal(Q[:, c], ref.quantize(W[:, c], scale, zero_point))
    np.testing.assert_array_equal(ref.quantize(W.T, scales, zero_points, axis=0), Q.T)


@pytest.mark.parametrize("shape", [(1, 1, 1), (1, 513, 3), (130, 1, 70), (67, 200, 45)])
def test_int8_matmul_is_exact_in_int32(ref, shape):
    m, k, n = shape
    rng = np.random.default_rng(sum(shape))
    A, B = _int8(rng, (m, k)), _int8(rng, (k, n))
    C = ref.int8_matmul(A, B)
    assert C.dtype == np.int32
    np.testing.assert_array_equal(C, A.astype(np.int64) @ B.astype(np.int64))
    np.testing.assert_array_equal(ref.int8_matmul(np.asfortranarray(A), B), C)
    np.testing.assert_allclose(ref.fp32_matmul(A.astype(np.float32), B.astype(np.float32)), C)


def test_int8_matmul_holds_the_extreme_sum_of_k_max_products(ref):
    column = np.full((ref.K_MAX, 1), -128, dtype=np.int8)
    assert ref.int8_matmul(column.T.copy(), column)[0, 0] == ref.K_MAX * 128 * 128


def test_bad_inputs_are_refused(ref):
    with pytest.raises(ValueError, match="2-D"):
        ref.int8_matmul(np.ones(3, np.int8), np.ones((3, 3), np.int8))
    with pytest.raises(ValueError, match="inner dimensions"):
        ref.int8_matmul(np.ones((2, 3), np.int8), np.ones((4, 2), np.int8))
    with pytest.raises(TypeError, match="int8"):
        ref.int8_matmul(np.ones((2, 2), np.int16), np.ones((2, 2), np.int8))
    # Shapes are checked before types, as the instructions say.
    with pytest.raises(ValueError, match="2-D"):
        ref.int8_matmul(np.ones(3, np.float32), np.ones((3, 3), np.int8))
    with pytest.raises(ValueError, match="inner dimensions"):
        ref.int8_matmul(np.ones((2, 3), np.float32), np.ones((4, 2), np.float32))


@pytest.mark.skipif(platform.machine() != "x86_64", reason="reads x86 assembly")
def test_the_int8_kernel_multiplies_16_bit_pairs_into_32_bit_lanes(ref):
    ref.int8_matmul(np.ones((2, 2), np.int8), np.ones((2, 2), np.int8))
    assembly = "\n".join(ref._rows_times_rows.inspect_asm().values())
    assert any(op in assembly for op in ("pmaddwd", "vpdpwssd")), "the int8 sum is not vectorised in 32-bit lanes"


@pytest.mark.parametrize("zero_points", [(0, 0), (77, 0), (0, -90), (77, -90)])
def test_every_zero_point_cross_term_is_applied(ref, zero_points):
    za, zb = zero_points
    rng = np.random.default_rng(2)
    A, B = _int8(rng, (33, 90)), _int8(rng, (90, 21))
    expected = 0.02 * 0.5 * (A.astype(np.float64) - za) @ (B.astype(np.float64) - zb)
    C = ref.quantized_matmul(A, B, 0.02, 0.5, za, zb)
    assert C.dtype == np.float32
    np.testing.assert_allclose(C, expected, rtol=1e-6, atol=1e-6 * np.abs(expected).max())


def test_per_row_and_per_column_parameters(ref):
    rng = np.random.default_rng(3)
    A, B = _int8(rng, (5, 40)), _int8(rng, (40, 6))
    sa, sb = rng.uniform(0.01, 1, 5), rng.uniform(0.01, 1, 6)
    za, zb = rng.integers(-128, 128, 5), rng.integers(-128, 128, 6)
    expected = np.outer(sa, sb) * ((A - za[:, None]).astype(np.float64) @ (B - zb[None, :]).astype(np.float64))
    np.testing.assert_allclose(ref.quantized_matmul(A, B, sa, sb, za, zb), expected, rtol=1e-6)


def test_zero_point_corrections_beyond_int32_at_k_max(ref):
    column = np.full((ref.K_MAX, 1), -128, dtype=np.int8)
    C = ref.quantized_matmul(column.T.copy(), column, 1.0, 1.0, 127, 127)
    assert C[0, 0] == pytest.approx(ref.K_MAX * 255.0**2, rel=1e-6)


def test_quantized_product_is_within_the_bound_set_by_the_scales(ref):
    rng = np.random.default_rng(4)
    A, B = rng.normal(0.3, 1.0, (40, 120)), rng.normal(-0.1, 0.2, (120, 30))
    (sa, za), (sb, zb) = ref.choose_qparams(A), ref.choose_qparams(B)
    C = ref.quantized_matmul(ref.quantize(A, sa, za), ref.quantize(B, sb, zb), sa, sb, za, zb)
    bound = sb / 2 * np.abs(A).sum(1, keepdims=True) + sa / 2 * np.abs(B).sum(0, keepdims=True) + 120 * sa * sb / 4
    assert np.all(np.abs(C - A @ B) <= bound)


def _per_channel(ref):
    """The reference's model with one weight scale per output column (the chapter's advice)."""
    qmodel = ref.quantize_model(ref.mlp, ref.X_train)
    for layer, fp32 in zip(qmodel, ref.mlp, strict=True):
        scales, _ = ref.choose_qparams(fp32["W"], symmetric=True, axis=1)
        layer["W_q"], layer["W_scale"] = ref.quantize(fp32["W"], scales, 0, axis=1), scales
    return qmodel


def test_int8_models_stay_within_two_test_digits_of_fp32(ref, qmodel):
    # The graded margin is against the grader's own int8 model; both stay this close to fp32.
    assert ref.fp32_accuracy > 0.95, "the fp32 model did not train"
    fp32_correct = round(ref.fp32_accuracy * len(ref.y_test))
    for model in (qmodel, _per_channel(ref)):
        correct = int(np.sum(np.argmax(ref.quantized_forward(model, ref.X_test), axis=1) == ref.y_test))
        assert abs(correct - fp32_correct) <= 2


def test_weights_are_4x_smaller_and_per_channel_scales_fit_the_per_column_allowance(ref, qmodel):
    weights = sum(layer["W"].size for layer in ref.mlp)
    columns = sum(layer["W"].shape[1] for layer in ref.mlp)
    for model, scale_bytes in ((qmodel, 0), (_per_channel(ref), 8 * columns)):
        assert [set(layer) for layer in model] == [{"W_q", "W_scale", "b", "x_scale", "x_zero_point"}] * len(ref.mlp)
        assert sum(layer["W_q"].nbytes for layer in model) * 4 == sum(layer["W"].nbytes for layer in ref.mlp)
        # weight codes, float32 biases, and float64 per-channel scales where there are any
        assert ref.measure_memory_usage(model) == weights + 4 * columns + scale_bytes <= weights + 12 * columns
    assert ref.measure_memory_usage(ref.mlp) / ref.measure_memory_usage(qmodel) >= 3.9


@pytest.mark.skipif(platform.machine() != "x86_64", reason="the assignment states what x86-64 does")
def test_a_plain_cast_wraps_200_to_minus_56_without_a_warning_as_the_assignment_says():
    import warnings

    from autograder.defaults import SOLUTIONS_DIR

    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning would fail here
        assert np.array([200.0]).astype(np.int8).tolist() == [-56]
    with pytest.warns(RuntimeWarning, match="invalid value encountered in cast"):
        assert np.array([1e10]).astype(np.int8).tolist() == [0]
    text = " ".join((SOLUTIONS_DIR / "quantization" / "quantization.md").read_text().split())
    assert f"pins ({np.__version__}, on x86-64), `np.array([200.0]).astype(np.int8)` gives `-56`" in text
    assert "**without any warning**" in text and "such as `1e10`, which gives `0`" in text


def test_memory_counts_each_buffer_once(ref):
    a = np.arange(1000, dtype=np.int8)
    holder = [a[:10], a[::2], {"again": a, "scale": 0.5}]
    holder.append(holder)
    assert ref.measure_memory_usage(holder) == 1000


@pytest.mark.parametrize("sparsity", [0.0, 0.5, 0.95, 1.0])
def test_pruning_zeroes_the_smallest_magnitudes(ref, sparsity):
    W = np.random.default_rng(5).standard_normal((31, 17)).astype(np.float32)
    pruned = ref.magnitude_prune(W, sparsity)
    zeroed = pruned == 0
    assert zeroed.sum() == round(sparsity * W.size)
    np.testing.assert_array_equal(pruned[~zeroed], W[~zeroed])
    if 0 < sparsity < 1:
        assert np.abs(W[zeroed]).max() <= np.abs(W[~zeroed]).min()
    with pytest.raises(ValueError):
        ref.magnitude_prune(W, -0.1)


@pytest.mark.parametrize("sparsity", [0.0, 0.95, 1.0])
def test_csr_matches_scipy_and_the_dense_product(ref, sparsity):
    rng = np.random.default_rng(6)
    A = ref.magnitude_prune(rng.standard_normal((40, 70)).astype(np.float32), sparsity)
    A[3] = 0  # an empty row
    B = rng.standard_normal((70, 25)).astype(np.float32)
    data, indices, indptr = ref.to_csr(A)
    assert data.dtype == A.dtype and indices.dtype == indptr.dtype == np.int64
    expected = scipy.sparse.csr_matrix(A)
    np.testing.assert_array_equal(data, expected.data)
    np.testing.assert_array_equal(indices, expected.indices)
    np.testing.assert_array_equal(indptr, expected.indptr)
    C = ref.csr_matmul(data, indices, indptr, B)
    assert C.dtype == np.float32
    np.testing.assert_array_equal(ref.csr_matmul(expected.data, expected.indices, expected.indptr, B), C)
    np.testing.assert_allclose(C, A.astype(np.float64) @ B.astype(np.float64), rtol=1e-5, atol=1e-5)


# The int8 speed check's sizes (coursekit.int8_sizes): other machines' caches -> K = N picked,
# B (int8) twice the outermost cache, rounded up to whole 64-byte lines.
def _machine(*caches):
    """This machine's description with other caches: (level, kind, bytes) triples."""
    levels = tuple(CacheLevel(level, kind, size, 64, 16) for level, kind, size in caches)
    return dataclasses.replace(describe_machine(), caches=(CacheLevel(1, "Data", 48 * 1024, 64, 12), *levels))


MiB = 2**20
OTHER_MACHINES = {
    "1 MiB L2 only": (((2, "Unified", MiB),), 1472),
    "2 MiB L2 only": (((2, "Unified", 2 * MiB),), 2048),
    "1 MiB L2, 32 MiB shared L3": (((2, "Unified", MiB), (3, "Unified", 32 * MiB)), 8192),
    "2 MiB L2, 32 MiB shared L3": (((2, "Unified", 2 * MiB), (3, "Unified", 32 * MiB)), 8192),
}


@pytest.mark.parametrize("name", OTHER_MACHINES)
def test_int8_speed_sizes_put_b_beyond_the_outermost_cache_within_the_budgets(name):
    caches, side = OTHER_MACHINES[name]
    sizes = int8_speed_sizes(_machine(*caches))
    assert (sizes.m, sizes.k, sizes.n) == (1, side, side), "a batch of one, B square"
    outermost = max(size for _, _, size in caches)
    assert sizes.outermost_bytes == outermost
    assert sizes.int8_bytes >= 2 * outermost and sizes.fp32_bytes == 4 * sizes.int8_bytes
    assert sizes.predicted_seconds() <= int8_sizes.BUDGET_SHARE * TEST_CELL_TIMEOUT
    assert sizes.input_bytes <= int8_sizes.MEMORY_SHARE * Limits.memory_bytes


def test_int8_speed_sizes_cut_b_to_the_memory_limit_under_a_huge_cache_and_refuse_a_missing_l2():
    # 480 MiB of L3 (a server Xeon's report): B beyond it would be 961 MiB in int8 and 3.8 GiB
    # in float32, in each of two processes. It is cut to the largest square that fits.
    sizes = int8_speed_sizes(_machine((2, "Unified", 2 * MiB), (3, "Unified", 480 * MiB)))
    share = int8_sizes.MEMORY_SHARE * Limits.memory_bytes
    assert sizes.memory_capped and sizes.k == sizes.n and sizes.k % int8_sizes.ALIGN == 0
    assert sizes.input_bytes <= share < int8_sizes.Int8Sizes(1, sizes.k + int8_sizes.ALIGN, sizes.n + int8_sizes.ALIGN,
                                                              3, 480 * MiB).input_bytes
    assert "capped by the grader's memory limit" in sizes.describe()
    assert not int8_speed_sizes(_machine((2, "Unified", MiB), (3, "Unified", 32 * MiB))).memory_capped
    with pytest.raises(Int8SizeError, match="no L2"):
        int8_speed_sizes(_machine())


def test_int8_speed_sizes_use_the_graders_limits():
    assert int8_sizes.CELL_BUDGET_SECONDS == TEST_CELL_TIMEOUT
    assert int8_sizes.MEMORY_LIMIT_BYTES == Limits.memory_bytes
    # the visible cell's measurement and the grader's: each a first call, a loop calibration
    # and the interleaved rounds
    assert int8_sizes.CELL_CALLS >= 2 * (1 + 1 + speed.ROUNDS)


def test_this_machine_gets_an_int8_b_beyond_its_outermost_cache():
    machine = describe_machine()
    if machine.cache_bytes(2) is None:
        pytest.skip("the OS reports no L2 here")
    sizes = int8_speed_sizes(machine)
    outermost = max(machine.cache_bytes(level) or 0 for level in (2, 3, 4))
    if sizes.memory_capped:  # a cache of hundreds of MiB: B as large as the memory limit allows
        assert sizes.int8_bytes < 2 * outermost
        assert sizes.input_bytes <= int8_sizes.MEMORY_SHARE * Limits.memory_bytes
    else:
        assert sizes.int8_bytes >= 2 * outermost
