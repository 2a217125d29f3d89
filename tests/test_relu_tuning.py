"""coursekit.relu_tuning: placement of the arrays, and the child process that times the ReLU loop."""

import platform

import numpy as np
import pytest

from coursekit.relu_tuning import OFFSETS, placed, relu_in_fresh_processes, relu_loop


@pytest.mark.parametrize("offset", OFFSETS)
def test_placed_arrays_start_where_asked(offset):
    for _ in range(5):  # allocations land at different addresses; every one must be placed
        x = placed(100, offset)
        assert x.size == 100 and x.dtype == np.float32
        assert x.ctypes.data % 64 == offset


def test_the_loop_is_a_relu():
    x = np.array([-2.0, 0.0, 3.5, -0.0], dtype=np.float32)
    out = np.full_like(x, np.nan)
    relu_loop(x, out)
    np.testing.assert_array_equal(out, [0.0, 0.0, 3.5, 0.0])


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="vmaxps is an x86 instruction")
def test_a_fresh_process_reports_its_vector_maximum_and_times(capsys):
    # A Python that cannot find its standard library fails at start-up.
    results = relu_in_fresh_processes({"default": {}, "broken": {"PYTHONHOME": "/nonexistent"}}, rounds=1)
    assert set(results) == {"default"}  # the failing child is left out...
    assert "broken: the child process failed" in capsys.readouterr().out  # ...with its reason
    assert any("vmaxps" in line for line in results["default"]["vmaxps"])
    assert set(results["default"]["ns"]) == {str(o) for o in OFFSETS}
