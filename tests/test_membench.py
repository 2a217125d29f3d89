"""The memory micro-benchmarks: chains that really are one cycle, sweeps built from the caches, clear errors.

Behaviour only: the timings are checked to be positive and finite, never against seconds.
"""

from __future__ import annotations

import dataclasses
import math
import time

import numpy as np
import pytest

from coursekit import membench
from coursekit.machine import CacheLevel, describe_machine
from coursekit.membench import (
    best_seconds,
    chase_chain,
    line_bytes_of,
    pointer_chase_ns,
    random_cycle,
    read_bandwidth_gbs,
    sweep_sizes,
    working_set_sizes,
)

pytestmark = pytest.mark.timing(reason=(
    "times pointer chases and strided reads (it asserts only positive, finite values: kept alone until it"
    " is tried beside another test's load)"))

KIB, MIB = 1024, 1024**2


def machine_with(*caches: CacheLevel):
    return dataclasses.replace(describe_machine(), caches=caches)


def follow(successor: np.ndarray, start: int, steps: int) -> list[int]:
    path, i = [], start
    for _ in range(steps):
        path.append(i)
        i = int(successor[i])
    return path + [i]


@pytest.mark.parametrize("n", [1, 2, 7, 1000])
def test_random_cycle_is_one_cycle_through_every_slot(n):
    successor = random_cycle(n, seed=3)
    path = follow(successor, start=n // 2, steps=n)
    assert sorted(path[:-1]) == list(range(n))
    assert path[-1] == path[0]


def test_random_cycle_is_reproducible_and_depends_on_the_seed():
    np.testing.assert_array_equal(random_cycle(500, seed=1), random_cycle(500, seed=1))
    assert not np.array_equal(random_cycle(500, seed=1), random_cycle(500, seed=2))


def test_chase_chain_visits_each_line_once_through_its_first_slot():
    line = 64
    chain = chase_chain(16 * KIB, line_bytes=line, seed=5)
    step = line // membench.ELEMENT_BYTES
    lines = 16 * KIB // line
    assert chain.dtype == np.int64 and chain.nbytes == 16 * KIB
    path = follow(chain, start=0, steps=lines)
    assert sorted(path[:-1]) == list(range(0, chain.size, step))
    assert path[-1] == 0
    off_line_start = np.ones(chain.size, bool)
    off_line_start[::step] = False
    assert not chain[off_line_start].any()


@pytest.mark.parametrize("kwargs, error, words", [
    ({"working_set_bytes": 1000}, ValueError, "multiple of the line size"),
    ({"working_set_bytes": 0}, ValueError, "positive"),
    ({"working_set_bytes": 4096.0}, TypeError, "integer"),
    ({"working_set_bytes": 4096, "line_bytes": 48}, ValueError, "power of two"),
    ({"working_set_bytes": 4096, "line_bytes": 4}, ValueError, "multiple of the element size"),
])
def test_chase_chain_rejects_impossible_sizes(kwargs, error, words):
    with pytest.raises(error, match=words):
        chase_chain(**kwargs)


def test_pointer_chase_gives_a_positive_finite_latency():
    ns = pointer_chase_ns(8 * KIB, line_bytes=64, loads=10_000, repeats=2)
    assert math.isfinite(ns) and ns > 0


@pytest.mark.parametrize("stride", [8, 16, 64, 4096])
def test_read_bandwidth_is_positive_and_finite(stride):
    gbs = read_bandwidth_gbs(64 * KIB, stride_bytes=stride, repeats=1)
    assert math.isfinite(gbs) and gbs > 0


@pytest.mark.parametrize("ws, stride, error, words", [
    (64 * KIB, 12, ValueError, "multiple of the element size"),
    (64 * KIB, 0, ValueError, "positive"),
    (64 * KIB, 8 * KIB * KIB, ValueError, "exceeds working_set_bytes"),
    (1001, 8, ValueError, "multiple of the element size"),
    (64 * KIB, "8", TypeError, "integer"),
])
def test_read_bandwidth_rejects_bad_strides_and_sizes(ws, stride, error, words):
    with pytest.raises(error, match=words):
        read_bandwidth_gbs(ws, stride_bytes=stride)


def test_working_set_sizes_are_whole_lines_spaced_geometrically():
    sizes = working_set_sizes(4 * KIB, 4 * MIB, per_octave=2, line_bytes=64)
    assert sizes[0] == 4 * KIB and sizes[-1] == 4 * MIB
    assert np.all(np.diff(sizes) > 0)
    assert np.all(sizes % 64 == 0)
    assert sizes.size == 2 * 10 + 1  # ten doublings, two points each, both ends
    np.testing.assert_allclose(sizes[1:] / sizes[:-1], math.sqrt(2), rtol=0.02)


@pytest.mark.parametrize("smallest, largest", [(8 * KIB, 4 * KIB), (32, 4 * KIB)])
def test_working_set_sizes_reject_an_empty_or_sub_line_range(smallest, largest):
    with pytest.raises(ValueError, match="smallest"):
        working_set_sizes(smallest, largest, line_bytes=64)


def test_sweep_crosses_every_reported_cache_and_goes_beyond():
    machine = machine_with(CacheLevel(1, "Data", 32 * KIB, 64, 8), CacheLevel(1, "Instruction", 32 * KIB, 64, 8),
                           CacheLevel(2, "Unified", 1 * MIB, 64, 16), CacheLevel(3, "Unified", 8 * MIB, 64, 16))
    sizes = sweep_sizes(machine)
    assert sizes[0] == membench.SMALLEST_WORKING_SET
    assert sizes[-1] >= membench.BEYOND_LAST_CACHE * 8 * MIB
    for cache in machine.caches:
        assert sizes[0] < cache.size_bytes < sizes[-1]


def test_sweep_goes_well_past_a_cache_of_odd_size():
    odd = machine_with(CacheLevel(3, "Unified", 480 * MIB, 64, 16))  # as some VMs report
    assert sweep_sizes(odd)[-1] >= membench.BEYOND_LAST_CACHE * 480 * MIB


def test_sweep_is_capped_and_still_works_without_cache_information():
    huge = machine_with(CacheLevel(3, "Unified", 64 * 1024 * MIB, 64, 16))
    assert sweep_sizes(huge)[-1] == membench.LARGEST_WORKING_SET
    assert sweep_sizes(machine_with()).size >= 2


def test_line_size_is_read_from_the_machine_with_a_fallback():
    assert line_bytes_of(machine_with(CacheLevel(1, "Data", 32 * KIB, 128, 8))) == 128
    assert line_bytes_of(machine_with()) == membench.FALLBACK_LINE_BYTES


def test_best_seconds_warms_up_once_then_times_each_repeat():
    calls = []

    def record_and_sleep(value):
        calls.append(value)
        time.sleep(0.002)

    seconds = best_seconds(record_and_sleep, "x", repeats=4)
    assert calls == ["x"] * 5
    assert 0.002 <= seconds < 1, seconds  # a sleep lasts at least what it asked
    with pytest.raises(ValueError, match="repeats"):
        best_seconds(calls.append, "x", repeats=0)
