"""Amdahl's law, parallel efficiency and the scaling harness behave as their formulas say."""

import math
import time

import numpy as np
import pytest

from coursekit.parallel import (
    Scaling,
    amdahl_limit,
    amdahl_speedup,
    array_nbytes,
    best_times,
    blas_matmul_task,
    karp_flatt_serial_fraction,
    measure_scaling,
    on_numba_threads,
    parallel_efficiency,
    python_busy_loop,
    relu_array,
    run_cuda_script,
    worker_counts,
)

pytestmark = pytest.mark.timing(reason=(
    "measures scaling over worker counts and runs process pools (it asserts only positive times: kept "
    "alone until it is tried beside another test's load)"))


def test_amdahl_is_one_on_one_worker_and_bounded_by_its_limit():
    for p in (0.0, 0.3, 0.9, 0.99):
        assert amdahl_speedup(p, 1) == pytest.approx(1.0)
        assert amdahl_speedup(p, 10**9) == pytest.approx(amdahl_limit(p), rel=1e-6)
        assert amdahl_speedup(p, 10**9) <= amdahl_limit(p)


def test_amdahl_extremes():
    assert amdahl_speedup(0.0, 64) == pytest.approx(1.0)  # nothing parallel: no gain
    assert amdahl_speedup(1.0, 64) == pytest.approx(64.0)  # all parallel: perfect scaling
    assert amdahl_limit(0.0) == 1.0
    assert amdahl_limit(1.0) == math.inf
    assert amdahl_limit(0.95) == pytest.approx(20.0)


def test_amdahl_textbook_value():
    # p = 0.5 on 2 workers: half the work halves, the other half stays: 1 / 0.75.
    assert amdahl_speedup(0.5, 2) == pytest.approx(4 / 3)


def test_amdahl_accepts_arrays_and_grows_with_workers():
    workers = np.array([1, 2, 4, 8, 16])
    speedups = amdahl_speedup(0.9, workers)
    assert speedups.shape == workers.shape
    assert np.all(np.diff(speedups) > 0)
    assert isinstance(amdahl_speedup(0.9, 4), float)


@pytest.mark.parametrize("fraction", [-0.1, 1.1, math.nan, "0.5", None, True])
def test_amdahl_rejects_bad_fractions(fraction):
    with pytest.raises(ValueError):
        amdahl_speedup(fraction, 2)
    with pytest.raises(ValueError):
        amdahl_limit(fraction)


@pytest.mark.parametrize("workers", [0, 0.5, -2, math.inf, "4", True, [1, 0]])
def test_amdahl_rejects_bad_worker_counts(workers):
    with pytest.raises(ValueError):
        amdahl_speedup(0.5, workers)


def test_parallel_efficiency_is_the_origin_formula():
    # single_time / (parallel_time * num_cores)
    assert parallel_efficiency(8.0, 2.0, 4) == pytest.approx(1.0)
    assert parallel_efficiency(8.0, 4.0, 4) == pytest.approx(0.5)
    assert parallel_efficiency(8.0, 8.0, 4) == pytest.approx(0.25)  # no gain: 1 / workers


@pytest.mark.parametrize("bad", [0.0, -1.0, math.nan, math.inf, None, "1"])
def test_parallel_efficiency_rejects_bad_times(bad):
    with pytest.raises(ValueError):
        parallel_efficiency(bad, 1.0, 2)
    with pytest.raises(ValueError):
        parallel_efficiency(1.0, bad, 2)


@pytest.mark.parametrize("bad", [0, -1, 2.5, True, "2"])
def test_parallel_efficiency_rejects_bad_worker_counts(bad):
    with pytest.raises(ValueError):
        parallel_efficiency(1.0, 1.0, bad)


def test_karp_flatt_recovers_the_serial_fraction_of_an_amdahl_speedup():
    for p in (0.5, 0.9, 0.99):
        for n in (2, 4, 16):
            assert karp_flatt_serial_fraction(amdahl_speedup(p, n), n) == pytest.approx(1 - p)
    with pytest.raises(ValueError):
        karp_flatt_serial_fraction(1.5, 1)


def test_worker_counts_are_powers_of_two_ending_at_the_maximum():
    assert worker_counts(1) == [1]
    assert worker_counts(2) == [1, 2]
    assert worker_counts(6) == [1, 2, 4, 6]
    assert worker_counts(16) == [1, 2, 4, 8, 16]
    for bad in (0, -1, 2.0, True):
        with pytest.raises(ValueError):
            worker_counts(bad)


def test_scaling_speedups_and_efficiencies_follow_from_the_times():
    scaling = Scaling(workers=(1, 2, 4), seconds=(4.0, 2.0, 2.0))
    assert scaling.speedups == pytest.approx((1.0, 2.0, 2.0))
    assert scaling.efficiencies == pytest.approx((1.0, 1.0, 0.5))


def test_measure_scaling_calls_each_count_and_keeps_positive_times():
    calls = []
    scaling = measure_scaling(calls.append, [1, 2, 4], rounds=2)
    assert scaling.workers == (1, 2, 4)
    assert all(t > 0 and math.isfinite(t) for t in scaling.seconds)
    # One untimed call each, then the rounds, interleaved in alternating order.
    assert calls == [1, 2, 4] + [1, 2, 4] + [4, 2, 1]


@pytest.mark.parametrize("counts", [[], [2, 4], [1, 0], [1, 2.5]])
def test_measure_scaling_needs_a_baseline_of_one_and_whole_counts(counts):
    with pytest.raises(ValueError):
        measure_scaling(lambda n: None, counts)


def test_best_times_interleaves_after_one_untimed_call_each():
    order = []

    def a():
        order.append("a")
        time.sleep(0.002)

    times = best_times(a, lambda: order.append("b"), rounds=3)
    assert order == ["a", "b"] + ["a", "b", "b", "a", "a", "b"]  # the order alternates by round
    assert len(times) == 2 and times[0] >= 0.002, times  # a sleep lasts at least what it asked
    with pytest.raises(ValueError):
        best_times(lambda: None, rounds=0)


def test_on_numba_threads_sets_the_count_for_the_call_and_restores_it():
    import numba

    before = numba.get_num_threads()
    seen = []
    on_numba_threads(lambda: seen.append(numba.get_num_threads()))(1)
    assert seen == [1]
    assert numba.get_num_threads() == before


def test_worker_functions_compute_what_they_say():
    assert python_busy_loop(10) == sum(i * i % 7 for i in range(10))
    assert array_nbytes(np.zeros(5)) == 40
    np.testing.assert_array_equal(relu_array(np.array([-1.0, 0.0, 2.0])), [0.0, 0.0, 2.0])
    a = np.random.default_rng(8).random((8, 8))
    assert blas_matmul_task(8, blas_threads=1) == pytest.approx(np.trace(a @ a))
    assert blas_matmul_task(8) == pytest.approx(blas_matmul_task(8, blas_threads=1))


def test_worker_functions_survive_a_fresh_process_pool():
    import multiprocessing

    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(python_busy_loop, (10,)) == python_busy_loop(10)
        assert pool.apply(array_nbytes, (np.zeros(3),)) == 24


def test_cuda_script_runs_in_the_simulator_in_a_fresh_process():
    script = "import json, numba; from numba import cuda; print(json.dumps({'sim': numba.config.ENABLE_CUDASIM}))"
    assert run_cuda_script(script) == {"sim": 1}
    off = "import json, numba; print(json.dumps({'sim': numba.config.ENABLE_CUDASIM}))"
    assert run_cuda_script(off, simulate=False) == {"sim": 0}


def test_cuda_script_failure_is_reported_with_its_error():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        run_cuda_script("1 / 0")
