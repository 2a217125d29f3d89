"""Benchmark: every matmul kernel of the assignment in GFLOP/s, against BLAS and the measured peak.

Kernels, each on float32 inputs: the naive `i, j, k` loop and the `i, k, j` reorder (Parts 1
and 2), a tiles-only kernel (cache tiles, four rows of C updated per k, no register block, no
packing: the course's reference before issue 24, kept here as the level below it) and the
reference `cache_friendly_matmul` (register block, packed B, cache tiles), all keeping the
contract (float32 products, float64 sums); then numpy's sgemm and dgemm on one thread.
Each is reported in GFLOP/s, as a share of single-thread sgemm and dgemm and of the measured
single-core float32 and float64 peaks (`coursekit.roofline.peak_gflops`), at the grader's
shape for the blocking check (`coursekit.blocking.blocking_sizes`, where the tiles-only kernel
and the reference are also measured against the reorder exactly as the grader does) and at
square sizes. Saved with the machine's description.

OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow numpy on some machines: unset them for this
command only. For the AVX2-only target, set numba's CPU as the grading tests do
(tests/cpu_targets.py) and save elsewhere; numpy's BLAS keeps its own kernels:
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/matmul.py
"""

from __future__ import annotations

import argparse
import os
import statistics
from pathlib import Path

import numba
import numpy as np
from threadpoolctl import threadpool_limits

from autograder.reference import load_reference
from coursekit.blocking import blocking_sizes
from coursekit.machine import describe_machine
from coursekit.roofline import peak_gflops
from coursekit.speedcheck import measure_speedup
from coursekit.timing import interleaved_samples
from saving import save

# Interleaved rounds per size; the median time is reported with the range of the rounds.
ROUNDS = 5
# The naive i, j, k loop walks B by columns: beyond this size it takes minutes per call
# (and at the grader's shape, with B beyond the caches, far longer), so it is left out there.
NAIVE_MAX_MULTIPLY_ADDS = 2**30
SQUARE_SIZES = [512, 1024, 2048]
# The tiles-only kernel: 4 rows of a 1024-wide strip of C (32 KiB of float64) updated per k,
# over a 64 x 1024 tile of B (256 KiB of float32) that serves a 64-row tile of A.
TILE_I, TILE_J, TILE_K = 64, 1024, 64


@numba.njit
def _tiles_only_kernel(A, B, C):
    n, m = A.shape
    p = B.shape[1]
    for ii in range(0, n, TILE_I):
        i_end = min(ii + TILE_I, n)
        for kk in range(0, m, TILE_K):
            k_end = min(kk + TILE_K, m)
            for jj in range(0, p, TILE_J):
                j_end = min(jj + TILE_J, p)
                i = ii
                while i + 4 <= i_end:
                    c0, c1 = C[i, jj:j_end], C[i + 1, jj:j_end]
                    c2, c3 = C[i + 2, jj:j_end], C[i + 3, jj:j_end]
                    for k in range(kk, k_end):
                        a0, a1, a2, a3 = A[i, k], A[i + 1, k], A[i + 2, k], A[i + 3, k]
                        b_row = B[k, jj:j_end]
                        for j in range(b_row.shape[0]):
                            b = b_row[j]
                            c0[j] += a0 * b
                            c1[j] += a1 * b
                            c2[j] += a2 * b
                            c3[j] += a3 * b
                    i += 4
                for row in range(i, i_end):
                    c_row = C[row, jj:j_end]
                    for k in range(kk, k_end):
                        a = A[row, k]
                        b_row = B[k, jj:j_end]
                        for j in range(b_row.shape[0]):
                            c_row[j] += a * b_row[j]
    return C


def tiles_only(A, B):
    """Cache tiles without a register block or packing (same contract as the reference)."""
    return _tiles_only_kernel(np.ascontiguousarray(A), np.ascontiguousarray(B), np.zeros((A.shape[0], B.shape[1])))


def kernels(A32, B32, multiply_adds: int) -> dict:
    ref = load_reference("matmul")
    A64, B64 = A32.astype(np.float64), B32.astype(np.float64)
    chosen = {
        "naive i,j,k": lambda: ref.matmul_baseline(A32, B32),
        "reorder i,k,j": lambda: ref.matmul_ikj(A32, B32),
        "tiles only": lambda: tiles_only(A32, B32),
        "reference": lambda: ref.cache_friendly_matmul(A32, B32),
        "numpy sgemm": lambda: A32 @ B32,
        "numpy dgemm": lambda: A64 @ B64,
    }
    if multiply_adds > NAIVE_MAX_MULTIPLY_ADDS:
        del chosen["naive i,j,k"]
    return chosen


def measure(m: int, k: int, n: int, peaks: dict, rounds: int = ROUNDS) -> dict:
    rng = np.random.default_rng(m + k + n)
    A32, B32 = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    samples = interleaved_samples(kernels(A32, B32, m * k * n), rounds)
    flops = 2 * m * k * n
    gflops = {name: flops / statistics.median(times) / 1e9 for name, times in samples.items()}
    shares = {name: {"of_sgemm": rate / gflops["numpy sgemm"], "of_dgemm": rate / gflops["numpy dgemm"],
                     "of_float32_peak": rate / peaks["float32"], "of_float64_peak": rate / peaks["float64"]}
              for name, rate in gflops.items()}
    return {"shape": [m, k, n], "seconds": samples, "gflops": gflops, "shares": shares}


def grader_ratios(m: int, k: int, n: int) -> dict:
    """The tiles-only kernel and the reference against the reorder, measured as the grader does."""
    ref = load_reference("matmul")

    def inputs(seed):
        rng = np.random.default_rng(seed)
        return rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)

    ratios = {}
    for name, kernel in [("tiles only", tiles_only), ("reference", ref.cache_friendly_matmul)]:
        speedup = measure_speedup(kernel, ref.matmul_ikj, inputs)
        ratios[name] = {"median": speedup.median, "rounds": list(speedup.ratios)}
        print(f"  {name} against the reorder, as the grader measures: {speedup}")
    return ratios


def report(result: dict) -> None:
    m, k, n = result["shape"]
    print(f"A {m} x {k} . B {k} x {n}:")
    for name, rate in result["gflops"].items():
        share = result["shares"][name]
        print(f"  {name:14s} {rate:7.2f} GFLOP/s  {share['of_sgemm']:6.1%} of sgemm  {share['of_dgemm']:6.1%} of dgemm"
              f"  {share['of_float32_peak']:6.1%} of the float32 peak")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=SQUARE_SIZES, help="square sizes N")
    parser.add_argument("--no-grader-shape", action="store_true", help="skip the grader's shape (B of 2x the L3)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/matmul.json"))
    args = parser.parse_args()
    print(describe_machine().summary())
    peaks = {name: peak_gflops(dtype, parallel=False) for name, dtype in
             [("float32", np.float32), ("float64", np.float64)]}
    print(f"measured single-core peak: {peaks['float32']:.1f} GFLOP/s float32, {peaks['float64']:.1f} float64")
    shapes = [(n, n, n) for n in args.sizes]
    grader = None
    if not args.no_grader_shape:
        sizes = blocking_sizes()
        shapes.insert(0, (sizes.m, sizes.k, sizes.n))
        grader = {"sizes": sizes.describe()}
    results = []
    with threadpool_limits(1):
        for shape in shapes:
            result = measure(*shape, peaks)
            report(result)
            results.append(result)
        if grader is not None:
            grader["against_the_reorder"] = grader_ratios(*shapes[0])
    numba_target = {name: os.environ.get(name) for name in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES")}
    save(args.output, numba_target=numba_target, peaks_gflops=peaks, grader_shape=grader, results=results)


if __name__ == "__main__":
    main()
