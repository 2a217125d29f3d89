"""Benchmark: the reference cache_friendly_matmul against the naive kernel and numpy.

Every figure is a ratio of timings taken in this one run, interleaved, on one thread
(numpy's BLAS limited with threadpoolctl, numba kernels are single-threaded), saved
with the machine's description. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow numpy on
some machines: unset them for this command only, e.g.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/matmul.py
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from autograder.reference import load_reference
from coursekit.machine import describe_machine
from coursekit.timing import interleaved_samples, ratio
from saving import save

# Interleaved rounds per size; the median ratio is reported with its range.
ROUNDS = 5


def measure(n: int, rounds: int = ROUNDS) -> dict:
    rng = np.random.default_rng(n)
    A32, B32 = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    A64, B64 = A32.astype(np.float64), B32.astype(np.float64)
    ref = load_reference("matmul")
    samples = interleaved_samples({
        "naive ijk (numba)": lambda: ref.matmul_baseline(A32, B32),
        "cache_friendly_matmul": lambda: ref.cache_friendly_matmul(A32, B32),
        "numpy float64 (OpenBLAS)": lambda: A64 @ B64,
    }, rounds)
    return {"n": n, "seconds": samples, "ratios": {
        "tiled_over_naive_speedup": ratio(samples, "naive ijk (numba)", "cache_friendly_matmul"),
        "tiled_fraction_of_numpy": ratio(samples, "numpy float64 (OpenBLAS)", "cache_friendly_matmul"),
    }, "tiled_gflops": 2 * n**3 / statistics.median(samples["cache_friendly_matmul"]) / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 1024])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/matmul.json"))
    args = parser.parse_args()
    print(describe_machine().summary())
    results = []
    with threadpool_limits(1):
        for n in args.sizes:
            result = measure(n)
            results.append(result)
            r = result["ratios"]
            print(f"N={n}: cache_friendly_matmul is {r['tiled_over_naive_speedup']['median']:.1f}x the naive "
                  f"kernel and {r['tiled_fraction_of_numpy']['median']:.2f}x numpy float64 "
                  f"({result['tiled_gflops']:.1f} GFLOP/s)")
        save(args.output, results=results)


if __name__ == "__main__":
    main()
