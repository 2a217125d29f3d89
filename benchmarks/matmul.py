"""Benchmark: the reference cache_friendly_matmul against the naive kernel and numpy.

Every figure is a ratio of timings taken in this one run, interleaved, on one thread
(numpy's BLAS limited with threadpoolctl, numba kernels are single-threaded), saved
with the machine's description. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow numpy on
some machines: unset them for this command only, e.g.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/matmul.py
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_info, threadpool_limits

from autograder.reference import load_reference
from coursekit.machine import describe_machine

# Interleaved rounds per size; the median ratio is reported with its range.
ROUNDS = 5


def _seconds(function, *args) -> float:
    clock = time.perf_counter
    start = clock()
    function(*args)
    return clock() - start


def measure(n: int, rounds: int = ROUNDS) -> dict:
    rng = np.random.default_rng(n)
    A32, B32 = (rng.standard_normal((n, n)).astype(np.float32) for _ in range(2))
    A64, B64 = A32.astype(np.float64), B32.astype(np.float64)
    ref = load_reference("matmul")
    kernels = {
        "naive ijk (numba)": lambda: ref.matmul_baseline(A32, B32),
        "cache_friendly_matmul": lambda: ref.cache_friendly_matmul(A32, B32),
        "numpy float64 (OpenBLAS)": lambda: A64 @ B64,
    }
    for kernel in kernels.values():  # compile and warm up, untimed
        kernel()
    samples = {name: [] for name in kernels}
    for round_number in range(rounds):
        order = list(kernels) if round_number % 2 == 0 else list(reversed(kernels))
        for name in order:
            samples[name].append(_seconds(kernels[name]))
    tiled = samples["cache_friendly_matmul"]
    ratios = {
        "tiled_over_naive_speedup": [b / t for b, t in zip(samples["naive ijk (numba)"], tiled)],
        "tiled_fraction_of_numpy": [b / t for b, t in zip(samples["numpy float64 (OpenBLAS)"], tiled)],
    }
    return {"n": n, "seconds": samples,
            "ratios": {k: {"median": statistics.median(v), "min": min(v), "max": max(v)} for k, v in ratios.items()},
            "tiled_gflops": 2 * n**3 / statistics.median(tiled) / 1e9}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 1024])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/matmul.json"))
    args = parser.parse_args()
    machine = describe_machine()
    print(machine.summary())
    results = []
    with threadpool_limits(1):
        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        for n in args.sizes:
            result = measure(n)
            results.append(result)
            r = result["ratios"]
            print(f"N={n}: cache_friendly_matmul is {r['tiled_over_naive_speedup']['median']:.1f}x the naive "
                  f"kernel and {r['tiled_fraction_of_numpy']['median']:.2f}x numpy float64 "
                  f"({result['tiled_gflops']:.1f} GFLOP/s)")
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps({"machine": machine.as_dict(), "blas": blas, "results": results}, indent=1))
    print(f"saved {args.output}")


if __name__ == "__main__":
    main()
