"""The cache simulator against cases whose answers are known by hand."""

from __future__ import annotations

import numpy as np
import pytest

from coursekit import machine
from coursekit.cachesim import CacheConfig, matrix_bases, miss_mask, simulate, simulate_hierarchy

LINE = 64
L1 = CacheConfig(size_bytes=32 * 1024, line_bytes=LINE, ways=8)


def scan(nbytes: int, passes: int = 1) -> np.ndarray:
    """Read 8-byte elements of an nbytes array front to back, `passes` times."""
    return np.tile(np.arange(0, nbytes, 8), passes)


@pytest.mark.parametrize("nbytes", [L1.size_bytes // 4, L1.size_bytes * 4])
def test_sequential_scan_misses_once_per_line(nbytes):
    stats = simulate(scan(nbytes), L1)
    assert stats.accesses == nbytes // 8
    assert stats.misses == stats.compulsory_misses == nbytes // LINE
    assert stats.hits == stats.accesses - stats.misses
    assert stats.miss_rate == pytest.approx(8 / LINE)


def test_array_that_fits_hits_throughout_the_second_pass():
    trace = scan(L1.size_bytes, passes=2)
    missed = miss_mask(trace, L1)
    assert not missed[trace.size // 2:].any()
    assert simulate(trace, L1).misses == L1.size_bytes // LINE


def test_cyclic_scan_of_twice_the_cache_thrashes_lru():
    trace = scan(2 * L1.size_bytes, passes=2)
    second_pass = slice(trace.size // 2, None)
    np.testing.assert_array_equal(miss_mask(trace, L1)[second_pass], trace[second_pass] % LINE == 0)
    stats = simulate(trace, L1)
    assert stats.misses == 2 * stats.compulsory_misses == 2 * (2 * L1.size_bytes // LINE)


def test_two_lines_one_cache_size_apart_conflict_only_when_direct_mapped():
    size = 32 * 1024
    trace = np.tile([0, size], 500)
    assert simulate(trace, CacheConfig(size, LINE, ways=1)).misses == trace.size
    two_way = simulate(trace, CacheConfig(size, LINE, ways=2))
    assert (two_way.misses, two_way.hits) == (2, trace.size - 2)


def test_lru_evicts_the_least_recently_used_line():
    one_set = CacheConfig(size_bytes=2 * LINE, line_bytes=LINE, ways=2)
    a, b, c = 0, 4096 + 8, 3 * LINE
    trace = np.array([a, b, a + 8, c, b, a, c, a])
    # a,b fill the set; a hit makes b the oldest, so c evicts b; then each miss evicts the older.
    # FIFO would evict a for c instead and hit on the next b.
    expected = [True, True, False, True, True, True, True, False]
    assert miss_mask(trace, one_set).tolist() == expected


def test_each_level_sees_exactly_the_misses_of_the_level_before():
    trace = np.random.default_rng(0).integers(0, 1 << 20, 200_000)
    l2 = CacheConfig(size_bytes=256 * 1024, line_bytes=LINE, ways=4)
    first, second = simulate_hierarchy(trace, [L1, l2])
    assert first == simulate(trace, L1)
    assert second.accesses == first.misses
    assert second == simulate(trace[miss_mask(trace, L1)], l2)
    assert second.hits > 0


def test_empty_trace_counts_nothing():
    stats = simulate(np.array([], dtype=np.uint32), L1)
    assert (stats.accesses, stats.hits, stats.misses, stats.compulsory_misses) == (0, 0, 0, 0)
    assert stats.miss_rate == 0.0


@pytest.mark.parametrize("kwargs, message", [
    (dict(size_bytes=0), "size_bytes must be positive"),
    (dict(size_bytes=32768, ways=2.0), "ways must be an integer"),
    (dict(size_bytes=32768, line_bytes=48), "line_bytes must be a power of two"),
    (dict(size_bytes=1000), "must be divisible by line_bytes"),
])
def test_invalid_configs_say_what_is_wrong(kwargs, message):
    with pytest.raises(ValueError, match=message):
        CacheConfig(**kwargs)


def test_associativity_extremes_are_valid():
    assert CacheConfig(4096, 64, ways=64).num_sets == 1
    assert CacheConfig(4096, 64, ways=1).num_sets == 64


@pytest.mark.parametrize("addresses, error, message", [
    (np.arange(4.0), TypeError, "integer byte addresses"),
    (np.zeros((2, 2), np.int64), ValueError, "1-D"),
    (np.array([0, -64]), ValueError, "non-negative"),
    (np.array([2**63], np.uint64), ValueError, "non-negative"),
])
def test_invalid_traces_are_rejected(addresses, error, message):
    with pytest.raises(error, match=message):
        simulate(addresses, L1)


def fake_sysfs(root, caches):
    for number, fields in enumerate(caches):
        index = root / f"index{number}"
        index.mkdir()
        for name, value in fields.items():
            (index / name).write_text(f"{value}\n")


def test_from_machine_reads_the_data_cache_of_the_level(tmp_path, monkeypatch):
    fake_sysfs(tmp_path, [
        dict(level=1, type="Instruction", size="64K", coherency_line_size=64, ways_of_associativity=16),
        dict(level=1, type="Data", size="48K", coherency_line_size=64, ways_of_associativity=12),
        dict(level=2, type="Unified", size="2M", coherency_line_size=64, ways_of_associativity=16),
    ])
    monkeypatch.setattr(machine, "CPU_SYSFS", tmp_path)
    assert CacheConfig.from_machine(1) == CacheConfig(48 * 1024, 64, 12)
    assert CacheConfig.from_machine(2) == CacheConfig(2 * 1024 * 1024, 64, 16)
    with pytest.raises(LookupError, match="no level-3 data or unified cache"):
        CacheConfig.from_machine(3)


def test_matrices_start_on_separate_pages():
    bases = matrix_bases(3, 5, 7, itemsize=4)
    assert bases[0] == 0 and bases[1] == 4096 and bases[2] == 8192
    big = matrix_bases(64, 64, 64)  # 32 KiB each: eight pages
    assert list(big) == [0, 32768, 65536]
