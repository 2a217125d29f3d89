"""The roofline's inputs are measured, positive and finite; its shape is min(peak, I * bw)."""

import math

import numpy as np
import pytest

from coursekit.bandwidth import ridge_point, roofline, triad_bandwidth, usable_threads
from coursekit.roofline import peak_gflops

pytestmark = pytest.mark.timing(reason=(
    "measures memory bandwidth and the FMA peak on every numba thread (it asserts only positive, finite "
    "values: kept alone until it is tried beside another test's load)"))

# Small enough to run in milliseconds: these tests check behaviour, never speed.
SMALL_TRIAD = 2**14
SMALL_FMA_ITERATIONS = 2**10
PEAK, BANDWIDTH = 100.0, 20.0  # GFLOP/s and GB/s: ridge point at 5 FLOP/byte


@pytest.mark.parametrize("parallel", [True, False])
def test_triad_bandwidth_is_positive_and_finite(parallel):
    gbs = triad_bandwidth(n_elements=SMALL_TRIAD, repeats=2, parallel=parallel)
    assert math.isfinite(gbs) and gbs > 0


def test_measurements_leave_numba_thread_count_unchanged():
    import numba

    before = numba.get_num_threads()
    triad_bandwidth(n_elements=SMALL_TRIAD, repeats=1, parallel=True)
    peak_gflops(parallel=True, iterations=SMALL_FMA_ITERATIONS, repeats=1)
    assert numba.get_num_threads() == before
    assert 1 <= usable_threads() <= numba.config.NUMBA_NUM_THREADS


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "10"])
def test_measurements_reject_bad_sizes(bad):
    with pytest.raises(ValueError):
        triad_bandwidth(n_elements=bad)
    with pytest.raises(ValueError):
        triad_bandwidth(n_elements=SMALL_TRIAD, repeats=bad)
    with pytest.raises(ValueError):
        peak_gflops(iterations=bad)
    with pytest.raises(ValueError):
        peak_gflops(iterations=SMALL_FMA_ITERATIONS, repeats=bad)


def test_ridge_point_is_peak_over_bandwidth():
    assert ridge_point(PEAK, BANDWIDTH) == pytest.approx(PEAK / BANDWIDTH)


def test_roofline_is_linear_below_the_ridge():
    low = np.array([0.01, 0.1, 1.0, 4.9])
    np.testing.assert_allclose(roofline(low, PEAK, BANDWIDTH), low * BANDWIDTH)
    assert roofline(2.0, PEAK, BANDWIDTH) == pytest.approx(2 * roofline(1.0, PEAK, BANDWIDTH))


def test_roofline_is_flat_above_the_ridge():
    high = np.array([5.0, 5.1, 50.0, 1e6])
    np.testing.assert_allclose(roofline(high, PEAK, BANDWIDTH), PEAK)


def test_roofline_is_continuous_and_non_decreasing():
    intensities = np.logspace(-3, 3, 200)
    attainable = roofline(intensities, PEAK, BANDWIDTH)
    assert attainable.shape == intensities.shape
    assert np.all(np.diff(attainable) >= 0)
    assert roofline(ridge_point(PEAK, BANDWIDTH), PEAK, BANDWIDTH) == pytest.approx(PEAK)
    assert roofline(0.0, PEAK, BANDWIDTH) == 0.0


def test_roofline_returns_a_float_for_a_scalar():
    assert isinstance(roofline(1.0, PEAK, BANDWIDTH), float)


@pytest.mark.parametrize("intensity", [-1.0, math.nan, math.inf, [1.0, -0.5]])
def test_roofline_rejects_bad_intensity(intensity):
    with pytest.raises(ValueError):
        roofline(intensity, PEAK, BANDWIDTH)


@pytest.mark.parametrize("bad", [0.0, -5.0, math.nan, math.inf, None, "100"])
def test_roofs_must_be_positive_and_finite(bad):
    with pytest.raises(ValueError):
        roofline(1.0, bad, BANDWIDTH)
    with pytest.raises(ValueError):
        roofline(1.0, PEAK, bad)
    with pytest.raises(ValueError):
        ridge_point(bad, BANDWIDTH)
    with pytest.raises(ValueError):
        ridge_point(PEAK, bad)
