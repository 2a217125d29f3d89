"""The capstone's roofline: factors read or marked unknown, kernels placed by arithmetic, power laws fitted."""

import math

import numpy as np
import pytest

from coursekit.machine import CacheLevel, MachineInfo
from coursekit.roofline import (
    Bend,
    KernelPoint,
    best_times_by_size,
    find_bend,
    fit_power_law,
    fma_chains_for,
    fma_recurrence,
    level_holding,
    level_working_sets,
    peak_gflops,
    read_clock_ghz,
    theoretical_peak,
)

pytestmark = pytest.mark.timing(reason=(
    "measures the FMA peak (it asserts only rates of the work done: kept alone until it is tried beside "
    "another test's load)"))

SMALL_FMA_ITERATIONS = 2**8


def _machine(isa=("avx2", "fma"), caches=(), cpus=4) -> MachineInfo:
    return MachineInfo("test CPU", cpus, cpus, tuple(isa), tuple(caches), "3", "2", "0.6", "none")


def test_float64_uses_half_the_chains_of_float32():
    assert fma_chains_for(np.float64) * 2 == fma_chains_for(np.float32)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_the_fma_kernel_computes_the_recurrence(dtype):
    chains, iterations = 8, 5
    acc = np.arange(chains, dtype=np.float64)
    for _ in range(iterations):
        acc = acc * 0.999 + 0.001
    expected = acc.sum()
    got = fma_recurrence(dtype, chains, iterations)
    assert got == pytest.approx(expected, rel=1e-5 if dtype is np.float32 else 1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_peak_is_a_rate_of_the_work_done(dtype):
    gflops = peak_gflops(dtype, parallel=False, iterations=SMALL_FMA_ITERATIONS, repeats=1)
    assert math.isfinite(gflops) and gflops > 0


@pytest.mark.parametrize("bad", [np.int32, np.float16, "complex64"])
def test_peak_refuses_types_without_fma_lanes_here(bad):
    with pytest.raises(ValueError):
        peak_gflops(bad, iterations=SMALL_FMA_ITERATIONS)


def test_lanes_follow_the_widest_vector_extension_and_the_type():
    clock = (3.0, "test")
    assert theoretical_peak(np.float32, _machine(("avx512f", "avx2")), clock).lanes == 16
    assert theoretical_peak(np.float64, _machine(("avx512f", "avx2")), clock).lanes == 8
    assert theoretical_peak(np.float32, _machine(("avx2",)), clock).lanes == 8
    assert theoretical_peak(np.float32, _machine(()), clock).lanes is None


def test_the_theoretical_peak_stays_unknown_without_fma_units():
    peak = theoretical_peak(np.float32, _machine(("avx2",), cpus=2), (2.5, "test"))
    assert peak.fma_units is None and peak.gflops is None
    assert peak.gflops_per_fma_unit == pytest.approx(8 * 2 * 2.5 * 2)
    assert peak.implied_fma_units(160.0) == pytest.approx(2.0)
    assert "not reported by the OS" in peak.describe()


def test_without_a_clock_nothing_is_derived():
    peak = theoretical_peak(np.float32, _machine(("avx2",)), (None, "no clock"))
    assert peak.gflops_per_fma_unit is None and peak.implied_fma_units(10.0) is None
    assert "clock unknown" in peak.describe()


def test_clock_from_cpufreq_is_preferred_and_in_ghz(tmp_path):
    cpufreq, cpuinfo = tmp_path / "max", tmp_path / "cpuinfo"
    cpufreq.write_text("3700000\n")
    cpuinfo.write_text("cpu MHz\t\t: 2596.1\nflags\t\t: fpu avx2 hypervisor\n")
    assert read_clock_ghz(cpufreq, cpuinfo) == (3.7, "cpufreq maximum")


def test_clock_under_a_hypervisor_is_named_as_nominal(tmp_path):
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("cpu MHz\t\t: 2596.1\nflags\t\t: fpu avx2 hypervisor\n")
    ghz, source = read_clock_ghz(tmp_path / "absent", cpuinfo)
    assert ghz == pytest.approx(2.5961) and "hypervisor" in source
    cpuinfo.write_text("flags\t\t: fpu\n")
    assert read_clock_ghz(tmp_path / "absent", cpuinfo)[0] is None


def test_working_sets_fit_each_reported_level_and_end_in_dram():
    caches = (CacheLevel(1, "Data", 32768, 64, 8), CacheLevel(1, "Instruction", 32768, 64, 8),
              CacheLevel(2, "Unified", 1 << 20, 64, 16), CacheLevel(3, "Unified", 3 << 20, 64, 12))
    sets = dict(level_working_sets(_machine(caches=caches)))
    assert list(sets) == ["L1", "L2", "L3", "DRAM"]
    assert sets["L1"] < 32768 and sets["L2"] < 1 << 20 and sets["L2"] > 32768
    assert sets["DRAM"] > 3 << 20 and all(size % 8 == 0 for size in sets.values())
    assert [name for name, _ in level_working_sets(_machine())] == ["DRAM"]
    machine = _machine(caches=caches)
    assert [level_holding(n, machine) for n in (32768, 32769, 3 << 20, (3 << 20) + 1)] == ["L1", "L2", "L3", "DRAM"]


def test_a_kernel_point_is_placed_by_its_arithmetic():
    point = KernelPoint("axpy", flops=2e9, bytes=12e9, seconds=0.5)
    assert point.intensity == pytest.approx(1 / 6) and point.gflops == pytest.approx(4.0)
    # Roof at 1/6 FLOP/byte with 48 GB/s: 8 GFLOP/s; the point reaches half of it.
    assert point.fraction_of_roof(100.0, 48.0) == pytest.approx(0.5)
    assert point.bound(100.0, 48.0) == "memory"
    assert KernelPoint("gemm", 2e9, 1e6, 0.1).bound(100.0, 48.0) == "compute"
    with pytest.raises(ValueError):
        KernelPoint("bad", 0, 1, 1)


def test_the_fitted_exponent_recovers_a_planted_power_law():
    sizes = np.array([8, 16, 32, 64, 128])
    law = fit_power_law(sizes, 3e-4 * sizes**1.0 * np.array([1.02, 0.98, 1.01, 0.99, 1.0]))
    assert law.exponent == pytest.approx(1.0, abs=0.02)
    assert fit_power_law(sizes, 1e-3 * sizes**0.5).exponent == pytest.approx(0.5)
    with pytest.raises(ValueError):
        fit_power_law([1, 2], [1.0, 2.0])


def test_a_bend_is_found_where_it_was_planted_and_not_on_a_straight_line():
    sizes = 2.0 ** np.arange(1, 10)
    # Flat up to 32 (a fixed cost dominates), linear beyond.
    times = np.where(sizes <= 32, 1.0, sizes / 32)
    bend = find_bend(sizes, times)
    assert isinstance(bend, Bend) and bend.at == 32
    assert bend.before == pytest.approx(0.0, abs=1e-9) and bend.after == pytest.approx(1.0)
    assert find_bend(sizes, 2.0 * sizes) is None


def test_sizes_are_timed_in_alternating_rounds_and_the_best_kept():
    calls, now = [], [0.0]
    # The second timed call of size 2 is slowed by a planted burst of load.
    durations = {(2, 1): 9.0}

    def clock():
        return now[0]

    def run(size):
        calls.append(size)
        timed_call = calls.count(size) - 1  # the first call is the untimed warm-up
        now[0] += durations.get((size, timed_call), float(size))

    best = best_times_by_size(run, [1, 2, 4], rounds=3, clock=clock)
    assert calls == [1, 2, 4, 1, 2, 4, 4, 2, 1, 1, 2, 4]
    assert best == [1.0, 2.0, 4.0]
