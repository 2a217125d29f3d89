"""Benchmark: the reference ReLU against the triad bandwidth, and prange scaling over cores.

Two claims of the SIMD and parallelism chapters, each a ratio of timings from this one
run, interleaved, saved with the machine's description:

- the reference `vectorized_relu` streams memory at a large fraction of the bandwidth
  one core draws in the STREAM triad (target 0.8x): it is bandwidth-bound;
- the reference `batch_activation` (a compute-bound GELU batch, prange over rows) runs
  close to n times faster on n cores than on one (target 1.8x on 2 cores), while a
  bandwidth-bound loop such as the triad gains little once one core saturates memory.

Run it on a quiet machine: another busy process takes a core away from the parallel runs.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from autograder.reference import load_reference
from coursekit.bandwidth import (
    TRIAD_BYTES_PER_ELEMENT,
    TRIAD_SCALAR,
    triad_parallel,
    triad_serial,
    usable_threads,
    with_numba_threads,
)
from coursekit.timing import interleaved_samples, ratio
from saving import save

ROUNDS = 9
# 2**25 float32 (128 MiB per array) and 2**24 float64 triad arrays: far beyond any cache.
RELU_ELEMENTS = 2**25
TRIAD_ELEMENTS = 2**24
# The parallel assignment's timed batch: 1M GELUs, about 20 ms on one core.
BATCH_SHAPE = (512, 2048)


def measure_relu(simd) -> dict:
    """Bandwidth of ReLU (read x, write out) against the one-core triad, interleaved."""
    x = np.random.default_rng(0).standard_normal(RELU_ELEMENTS).astype(np.float32)
    out = np.empty_like(x)
    a, b, c = np.zeros(TRIAD_ELEMENTS), np.ones(TRIAD_ELEMENTS), np.full(TRIAD_ELEMENTS, 2.0)
    samples = interleaved_samples({
        "vectorized_relu (new array each call)": lambda: simd.vectorized_relu(x),
        "relu into a reused array": lambda: simd._relu_into(x, out),
        "triad, 1 core": lambda: triad_serial(a, b, c, TRIAD_SCALAR),
    }, ROUNDS)
    assert np.array_equal(out, np.maximum(x, 0))
    relu_bytes, triad_bytes = 2 * x.nbytes, TRIAD_BYTES_PER_ELEMENT * TRIAD_ELEMENTS
    # (relu bytes / relu time) / (triad bytes / triad time), round by round.
    fractions = {}
    for name in ("vectorized_relu (new array each call)", "relu into a reused array"):
        times_faster = ratio(samples, "triad, 1 core", name)
        fractions[name] = {key: value * relu_bytes / triad_bytes for key, value in times_faster.items()}
    return {"relu_bytes": relu_bytes, "triad_bytes": triad_bytes, "seconds": samples,
            "fraction_of_triad_bandwidth": fractions}


def measure_prange_scaling(parallel) -> dict:
    """The same prange kernels on one thread and on every usable core, interleaved."""
    cores = usable_threads()
    x = np.random.default_rng(1).standard_normal(BATCH_SHAPE)
    a, b, c = np.zeros(TRIAD_ELEMENTS), np.ones(TRIAD_ELEMENTS), np.full(TRIAD_ELEMENTS, 2.0)
    samples = interleaved_samples({
        "batch_activation, 1 thread": lambda: with_numba_threads(1, lambda: parallel.batch_activation(x)),
        f"batch_activation, {cores} threads": lambda: with_numba_threads(cores, lambda: parallel.batch_activation(x)),
        "batch_activation_serial": lambda: parallel.batch_activation_serial(x),
        "triad, 1 thread": lambda: with_numba_threads(1, lambda: triad_parallel(a, b, c, TRIAD_SCALAR)),
        f"triad, {cores} threads": lambda: with_numba_threads(cores, lambda: triad_parallel(a, b, c, TRIAD_SCALAR)),
    }, ROUNDS)
    return {"cores": cores, "seconds": samples, "ratios": {
        "compute_bound_scaling": ratio(samples, "batch_activation, 1 thread", f"batch_activation, {cores} threads"),
        "compute_bound_over_serial_kernel": ratio(samples, "batch_activation_serial",
                                                  f"batch_activation, {cores} threads"),
        "bandwidth_bound_scaling": ratio(samples, "triad, 1 thread", f"triad, {cores} threads"),
    }}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/simd_parallel.json"))
    args = parser.parse_args()
    print(f"ReLU vs triad: {ROUNDS} interleaved rounds of 128 MiB ...", flush=True)
    relu = measure_relu(load_reference("simd"))
    for name, fraction in relu["fraction_of_triad_bandwidth"].items():
        print(f"  {name}: {fraction['median']:.2f}x the 1-core triad bandwidth "
              f"(range {fraction['min']:.2f}-{fraction['max']:.2f}; target 0.8x)")
    print(f"prange scaling on {usable_threads()} cores: {ROUNDS} interleaved rounds ...", flush=True)
    scaling = measure_prange_scaling(load_reference("parallel"))
    for name, r in scaling["ratios"].items():
        print(f"  {name}: {r['median']:.2f}x (range {r['min']:.2f}-{r['max']:.2f})")
    save(args.output, relu=relu, scaling=scaling)


if __name__ == "__main__":
    main()
