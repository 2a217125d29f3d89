"""Blocking speed-check sizes follow the machine's caches and fit the cell's time budget."""

from __future__ import annotations

import dataclasses

import pytest

from autograder import speed
from autograder.defaults import TEST_CELL_TIMEOUT
from coursekit import blocking
from coursekit.blocking import BlockingSizeError, blocking_sizes
from coursekit.machine import CacheLevel, describe_machine

pytestmark = pytest.mark.timing(reason=(
    "sizes the blocking speed check from this machine's caches and its time budget (no measured time is "
    "asserted: kept alone until it is tried beside another test's load)"))

MiB = 2**20


def _machine(*caches):
    """This machine's description with other caches: (level, kind, bytes) triples."""
    levels = tuple(CacheLevel(level, kind, size, 64, 16) for level, kind, size in caches)
    return dataclasses.replace(describe_machine(), caches=(CacheLevel(1, "Data", 48 * 1024, 64, 12),
                                                           CacheLevel(1, "Instruction", 32 * 1024, 64, 8),
                                                           *levels))


# Other machines' caches -> (m, k, n) picked: B twice the outermost cache, K = N rounded up
# to 64, 64 rows of A.
OTHER_MACHINES = {
    "1 MiB L2 only": ((((2, "Unified", 1 * MiB),)), (64, 768, 768)),
    "2 MiB L2 only": ((((2, "Unified", 2 * MiB),)), (64, 1024, 1024)),
    "1 MiB L2, 32 MiB shared L3": (((2, "Unified", 1 * MiB), (3, "Unified", 32 * MiB)), (64, 4096, 4096)),
    "2 MiB L2, 32 MiB shared L3": (((2, "Unified", 2 * MiB), (3, "Unified", 32 * MiB)), (64, 4096, 4096)),
}


@pytest.mark.parametrize("name", OTHER_MACHINES)
def test_sizes_follow_the_outermost_cache_and_fit_the_budget(name):
    caches, expected = OTHER_MACHINES[name]
    sizes = blocking_sizes(_machine(*caches))
    assert (sizes.m, sizes.k, sizes.n) == expected
    outermost = max(size for _, _, size in caches)
    assert sizes.outermost_bytes == outermost and sizes.l2_bytes == caches[0][2]
    assert sizes.b_bytes >= blocking.BEYOND_OUTERMOST_CACHE * outermost >= 2 * sizes.l2_bytes
    assert sizes.predicted_seconds() <= blocking.BUDGET_SHARE * TEST_CELL_TIMEOUT


def test_the_32_mib_l3_case_takes_under_a_minute_at_the_slow_rate():
    sizes = blocking_sizes(_machine((2, "Unified", MiB), (3, "Unified", 32 * MiB)))
    # 64 x 4096 x 4096 multiply-adds, 18 calls of each kernel (two measurements of 9) at 1e9 per second.
    assert sizes.predicted_seconds() == pytest.approx(2 * 18 * 64 * 4096 * 4096 / 1e9)
    assert "64 MiB" in sizes.describe() and "64x the 1 MiB L2" in sizes.describe()


def test_a_huge_last_level_cache_gets_fewer_rows_then_a_clear_refusal():
    # 256 MiB of L3: B is 512 MiB, and 64 or 32 rows would take over half the budget at the
    # slow rate with the two measurements of the speed cell; 16 rows fit.
    sizes = blocking_sizes(_machine((2, "Unified", MiB), (3, "Unified", 256 * MiB)))
    assert sizes.k == sizes.n == 11648 and sizes.m == blocking.MIN_ROWS == 16
    assert sizes.predicted_seconds() <= blocking.BUDGET_SHARE * TEST_CELL_TIMEOUT
    with pytest.raises(BlockingSizeError, match="over 50% of the 300 s budget"):
        blocking_sizes(_machine((2, "Unified", MiB), (3, "Unified", 2048 * MiB)))


def test_a_machine_that_reports_no_l2_is_refused_with_the_reason():
    with pytest.raises(BlockingSizeError, match="no L2"):
        blocking_sizes(_machine())


def test_the_budget_and_call_count_match_the_grader():
    assert blocking.CELL_BUDGET_SECONDS == TEST_CELL_TIMEOUT
    # the visible cell's measurement and the grader's: each a first call, a loop calibration
    # and the interleaved rounds
    assert blocking.CELL_CALLS >= 2 * (1 + 1 + speed.ROUNDS)


def test_this_machine_gets_b_beyond_its_outermost_cache():
    machine = describe_machine()
    if machine.cache_bytes(2) is None:
        pytest.skip("the OS reports no L2 here")
    sizes = blocking_sizes(machine)
    assert sizes.b_bytes >= 2 * max(machine.cache_bytes(level) or 0 for level in (2, 3, 4))
