"""The parallel reference solution: a pool for any function, GELU kernels, efficiency, tiled CUDA."""

from __future__ import annotations

import json
import math
import os
import pickle
import subprocess
import sys
import time

import numpy as np
import pytest

from autograder.reference import load_reference
from coursekit.parallel import CUDASIM_VARIABLE
from coursekit.parallel import parallel_efficiency as expected_efficiency

pytestmark = pytest.mark.timing(reason=(
    "runs process pools and numba's parallel loops on every core, and orders results by sleeps (kept "
    "alone until it is tried beside another test's load)"))


@pytest.fixture(scope="module")
def ref():
    # The setup cell switches numba's CUDA simulator on in os.environ; keep that out of
    # the processes the rest of the session starts.
    before = os.environ.get(CUDASIM_VARIABLE)
    try:
        return load_reference("parallel")
    finally:
        if before is None:
            os.environ.pop(CUDASIM_VARIABLE, None)
        else:
            os.environ[CUDASIM_VARIABLE] = before


def notebook_function(source: str, name: str):
    """A function defined the way a notebook defines it: in `__main__`, which workers cannot import."""
    namespace = {"__name__": "__main__", "time": time}
    exec(source, namespace)
    return namespace[name]


def test_a_notebook_function_runs_in_the_pool_although_pickle_refuses_it(ref):
    triple = notebook_function("def triple(v):\n    return 3 * v\n", "triple")
    with pytest.raises((pickle.PicklingError, AttributeError)):
        pickle.dumps(triple)
    result = ref.parallel_batch_processing(list(range(9)), triple, num_workers=3)
    assert isinstance(result, np.ndarray)
    np.testing.assert_array_equal(result, 3 * np.arange(9))


def test_a_function_made_at_run_time_runs_in_the_pool(ref):
    def scaled_by(factor):
        return lambda value: factor * value

    np.testing.assert_array_equal(ref.parallel_batch_processing(range(6), scaled_by(2.5), 2), 2.5 * np.arange(6))


def test_results_keep_input_order_when_later_items_finish_first(ref):
    slow_first = notebook_function(
        "def slow_first(pair):\n    value, delay = pair\n    time.sleep(delay)\n    return -value\n",
        "slow_first")
    items = [(k, 0.02 * (12 - k) / 12) for k in range(12)]
    for workers in (1, 3, 4):
        np.testing.assert_array_equal(ref.parallel_batch_processing(items, slow_first, workers), -np.arange(12))


def test_array_items_give_a_stacked_array(ref):
    rows = np.random.default_rng(0).standard_normal((7, 5))
    np.testing.assert_array_equal(ref.parallel_batch_processing(rows, np.cumsum, 2), np.cumsum(rows, axis=1))


def test_empty_batches_and_surplus_workers(ref):
    empty = ref.parallel_batch_processing([], abs)
    assert isinstance(empty, np.ndarray) and empty.size == 0
    np.testing.assert_array_equal(ref.parallel_batch_processing([-2, 3], abs, num_workers=32), [2, 3])


@pytest.mark.parametrize("workers", [0, -1, 2.0, None, True])
def test_bad_worker_counts_are_refused(ref, workers):
    with pytest.raises(ValueError, match="num_workers"):
        ref.parallel_batch_processing([1], abs, num_workers=workers)


def test_the_worker_count_is_checked_before_the_batch(ref):
    # The instructions settle it: an empty batch with num_workers=0 raises, it does not return [].
    with pytest.raises(ValueError, match="num_workers"):
        ref.parallel_batch_processing([], abs, num_workers=0)


def test_the_first_failing_item_is_named_with_the_original_error(ref):
    picky = notebook_function(
        "def picky(v):\n    if v in (5, 8):\n        raise KeyError(f'no {v}')\n    return v\n", "picky")
    with pytest.raises(RuntimeError, match=r"item 5: KeyError: 'no 5'") as caught:
        ref.parallel_batch_processing(list(range(12)), picky, num_workers=3)
    assert any("In the worker process" in note for note in caught.value.__notes__)


def test_an_exception_class_no_module_holds_is_still_reported(ref):
    raises_own = notebook_function(
        "class Odd(Exception):\n    pass\n\n"
        "def refuse_odd(v):\n    if v % 2:\n        raise Odd(f'{v} is odd')\n    return v\n", "refuse_odd")
    with pytest.raises(RuntimeError, match=r"item 1: Odd: 1 is odd"):
        ref.parallel_batch_processing([0, 1, 2, 3], raises_own, num_workers=2)


@pytest.mark.parametrize("shape", [(1, 1), (1, 300), (37, 5), (64, 129)])
def test_both_gelu_kernels_match_math_erf(ref, shape):
    x = np.random.default_rng(sum(shape)).standard_normal(shape) * 4
    before = x.copy()
    expected = np.array([[0.5 * v * (1 + math.erf(v / math.sqrt(2))) for v in row] for row in x])
    for kernel in (ref.batch_activation_serial, ref.batch_activation):
        out = kernel(x)
        assert out.dtype == np.float64 and out.shape == shape
        # 1e-15 |x| where 1 + erf cancels: x / sqrt(2) and x * (1 / sqrt(2)) round differently
        assert np.all(np.abs(out - expected) <= 1e-12 * np.abs(expected) + 1e-15 * np.abs(x))
    np.testing.assert_array_equal(x, before)


def test_the_batch_kernel_is_a_parallel_loop(ref):
    assert ref.batch_activation.targetoptions.get("parallel") is True
    assert not ref.batch_activation_serial.targetoptions.get("parallel")


def test_efficiency_is_the_origin_pages_formula(ref):
    rng = np.random.default_rng(1)
    for _ in range(50):
        single, parallel = 10.0 ** rng.uniform(-6, 2, size=2)
        cores = int(rng.integers(1, 129))
        assert ref.parallel_efficiency(single, parallel, cores) == pytest.approx(
            expected_efficiency(single, parallel, cores), rel=1e-12)
    assert ref.parallel_efficiency(3, 1, 3) == 1.0


@pytest.mark.parametrize("bad", [(0.0, 1.0, 2), (1.0, -1.0, 2), (math.inf, 1.0, 2), (1.0, math.nan, 2),
                                 (1.0, 1.0, 0), (1.0, 1.0, 2.5), (1.0, 1.0, True), ("1", 1.0, 2)])
def test_efficiency_refuses_what_is_not_a_time_or_a_core_count(ref, bad):
    with pytest.raises(ValueError):
        ref.parallel_efficiency(*bad)


# Runs in a fresh Python with the simulator variable unset: the reference's setup cell must
# switch it on itself, before anything imports numba (this process imported it long ago).
CUDA_CHECK = """
import json, sys
import numpy as np
from autograder.reference import load_reference
assert "numba" not in sys.modules, "numba was imported before the setup cell ran"
ref = load_reference("parallel")
import numba
rng = np.random.default_rng(0)
errors = {}
for n, m, p in [(1, 1, 1), (16, 16, 16), (17, 1, 33), (5, 40, 3), (23, 19, 29)]:
    A = rng.standard_normal((n, m)).astype(np.float32)
    B = rng.standard_normal((m, p)).astype(np.float32)
    C = ref.cuda_tiled_matmul(A, B)
    assert C.shape == (n, p) and C.dtype == np.float32, (C.shape, C.dtype)
    exact = A.astype(np.float64) @ B.astype(np.float64)
    bound = 2 * m * np.finfo(np.float32).eps * (np.abs(A).astype(np.float64) @ np.abs(B).astype(np.float64))
    errors[f"{n}x{m}x{p}"] = float(np.max(np.abs(C - exact) / (bound + 1e-30)))
try:
    ref.cuda_tiled_matmul(np.ones((2, 3)), np.ones((4, 2)))
    refused = False
except ValueError:
    refused = True
print(json.dumps({"simulator": bool(numba.config.ENABLE_CUDASIM), "errors": errors, "refused": refused}))
"""


def test_the_tiled_cuda_kernel_is_correct_in_the_simulator_on_any_shape():
    env = {k: v for k, v in os.environ.items() if k != CUDASIM_VARIABLE}
    done = subprocess.run([sys.executable, "-c", CUDA_CHECK], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["simulator"], "the setup cell did not switch the CUDA simulator on"
    assert all(ratio <= 1 for ratio in result["errors"].values()), result["errors"]
    assert result["refused"], "mismatched inner dimensions must raise ValueError"
