"""Benchmark: the reference int8 and sparse kernels against fp32, numpy and dense kernels.

Every speed figure is a ratio of timings taken in this one run, interleaved, on one thread
(numpy's BLAS limited with threadpoolctl, numba kernels are single-threaded), saved with
the machine's description and the quantized model's accuracy and size. numpy has no
integer BLAS: its int32 matmul is a plain loop, the baseline a library user would reach
for. OPENBLAS_CORETYPE and OPENBLAS_L2_SIZE slow numpy on some machines: unset them for
this command only, e.g.
    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE .venv/bin/python benchmarks/quantization.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from threadpoolctl import threadpool_limits

from autograder.reference import load_reference
from coursekit.machine import describe_machine
from coursekit.timing import interleaved_samples, ratio
from saving import save

# Interleaved rounds per comparison; the median ratio is reported with its range.
ROUNDS = 5
# numpy's int32 matmul takes seconds at N = 1024: three rounds keep the run to minutes.
SLOW_ROUNDS = 3
# The origin page's sparsity for a pruned layer worth a sparse kernel.
SPARSITY = 0.95


def measure_int8(ref, n: int) -> dict:
    rng = np.random.default_rng(n)
    A8, B8 = (rng.integers(-128, 128, size=(n, n), dtype=np.int8) for _ in range(2))
    A32, B32 = A8.astype(np.float32), B8.astype(np.float32)
    samples = interleaved_samples({
        "int8_matmul (numba)": lambda: ref.int8_matmul(A8, B8),
        "fp32_matmul (numba, same design)": lambda: ref.fp32_matmul(A32, B32),
        "numpy float32 (OpenBLAS)": lambda: A32 @ B32,
    }, ROUNDS)
    slow = interleaved_samples({
        "int8_matmul (numba)": lambda: ref.int8_matmul(A8, B8),
        "numpy int32 matmul": lambda: A8.astype(np.int32) @ B8.astype(np.int32),
    }, SLOW_ROUNDS)
    return {"n": n, "seconds": samples, "seconds_vs_numpy_int32": slow, "ratios": {
        "int8_over_fp32_same_design": ratio(samples, "fp32_matmul (numba, same design)", "int8_matmul (numba)"),
        "int8_over_numpy_int32": ratio(slow, "numpy int32 matmul", "int8_matmul (numba)"),
        "int8_fraction_of_numpy_float32": ratio(samples, "numpy float32 (OpenBLAS)", "int8_matmul (numba)"),
    }}


def measure_csr(ref, n: int) -> dict:
    rng = np.random.default_rng(n)
    A = ref.magnitude_prune(rng.standard_normal((n, n)).astype(np.float32), SPARSITY)
    B = rng.standard_normal((n, n)).astype(np.float32)
    csr = ref.to_csr(A)
    samples = interleaved_samples({
        "csr_matmul (numba)": lambda: ref.csr_matmul(*csr, B),
        "fp32_matmul (numba, dense)": lambda: ref.fp32_matmul(A, B),
        "numpy float32 (OpenBLAS, dense)": lambda: A @ B,
    }, ROUNDS)
    return {"n": n, "sparsity": SPARSITY, "seconds": samples, "ratios": {
        "csr_over_dense_numba": ratio(samples, "fp32_matmul (numba, dense)", "csr_matmul (numba)"),
        "csr_over_dense_numpy": ratio(samples, "numpy float32 (OpenBLAS, dense)", "csr_matmul (numba)"),
    }}


def measure_model(ref) -> dict:
    qmodel = ref.quantize_model(ref.mlp, ref.X_train)
    fp32_bytes, int8_bytes = ref.measure_memory_usage(ref.mlp), ref.measure_memory_usage(qmodel)
    return {"layer_sizes": list(ref.LAYER_SIZES), "test_digits": len(ref.y_test),
            "fp32_accuracy": ref.fp32_accuracy,
            "int8_accuracy": ref.accuracy(ref.quantized_forward(qmodel, ref.X_test), ref.y_test),
            "fp32_bytes": fp32_bytes, "int8_bytes": int8_bytes, "memory_ratio": fp32_bytes / int8_bytes}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/quantization.json"))
    args = parser.parse_args()
    print(describe_machine().summary())
    ref = load_reference("quantization")
    model = measure_model(ref)
    print(f"digits MLP {model['layer_sizes']}: test accuracy fp32 {model['fp32_accuracy']:.2%}, "
          f"int8 {model['int8_accuracy']:.2%}; {model['memory_ratio']:.2f}x fewer bytes")
    int8_results, csr_results = [], []
    with threadpool_limits(1):
        for n in args.sizes:
            result = measure_int8(ref, n)
            int8_results.append(result)
            r = {k: v["median"] for k, v in result["ratios"].items()}
            print(f"N={n}: int8_matmul is {r['int8_over_fp32_same_design']:.2f}x the same-design fp32 kernel, "
                  f"{r['int8_over_numpy_int32']:.0f}x numpy's int32 matmul and "
                  f"{r['int8_fraction_of_numpy_float32']:.2f}x numpy float32")
            result = measure_csr(ref, n)
            csr_results.append(result)
            r = {k: v["median"] for k, v in result["ratios"].items()}
            print(f"N={n}, {SPARSITY:.0%} sparse: csr_matmul is {r['csr_over_dense_numba']:.1f}x the dense numba "
                  f"kernel and {r['csr_over_dense_numpy']:.2f}x numpy float32")
        save(args.output, model=model, int8=int8_results, csr=csr_results)


if __name__ == "__main__":
    main()
