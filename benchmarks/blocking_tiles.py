"""Benchmark: the matmul blocking check's reference, and panel-size variants of it, on this machine.

The grader judges the blocking check only where the reference solution is at least
MIN_REFERENCE_SPEEDUP_FOR times faster than the untiled i, k, j loop at the grader's sizes
(`coursekit.blocking`). This measures that ratio as the grader does
(`coursekit.speedcheck.measure_speedup`: interleaved rounds, each kernel on its own copy of
the inputs), for the reference's panel of B and for other panel sizes, each on several fresh
allocations of the inputs, and saves it with the machine's description.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from autograder.reference import load_reference
from autograder.thresholds import MIN_REFERENCE_SPEEDUP_FOR
from coursekit.blocking import blocking_sizes
from coursekit.machine import describe_machine
from coursekit.speedcheck import measure_speedup
from saving import save

CHECK = "matmul.tiled_vs_reordered"
# (KC, NC), the packed panel of B: the reference's own first (1 MiB), then a shallower, wider
# panel (rows of B packed in longer streams) and a quarter-size one (256 KiB, inside the
# smallest L2 a grading machine plausibly has).
DEFAULT_TILES = ["256,1024", "128,2048", "256,256"]


def reference_with_panel(kc: int, nc: int):
    """A fresh copy of the matmul reference whose kernel compiles with this panel of B."""
    module = load_reference.__wrapped__("matmul")  # not the cached copy: numba reads the sizes at compile time
    module.KC, module.NC = kc, nc
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiles", nargs="+", default=DEFAULT_TILES, help="KC,NC (default: %(default)s)")
    parser.add_argument("--allocations", type=int, default=3, help="fresh inputs per variant (default: %(default)s)")
    parser.add_argument("--output", type=Path, default=Path("benchmarks/results/blocking_tiles.json"))
    args = parser.parse_args()
    sizes = blocking_sizes()
    print(describe_machine().summary())
    print(f"{CHECK} sizes: {sizes.describe()}; judged from {MIN_REFERENCE_SPEEDUP_FOR[CHECK]:g}x")

    def inputs(seed):
        rng = np.random.default_rng(seed)
        return (rng.standard_normal((sizes.m, sizes.k), dtype=np.float32),
                rng.standard_normal((sizes.k, sizes.n), dtype=np.float32))

    results = {}
    for spec in args.tiles:
        reference = reference_with_panel(*(int(part) for part in spec.split(",")))
        speedups = [measure_speedup(reference.cache_friendly_matmul, reference.matmul_ikj, inputs, seed)
                    for seed in range(args.allocations)]
        results[spec] = [{"median": s.median, "spread": s.spread} for s in speedups]
        print(f"panel {spec}: " + ", ".join(f"{s.median:.2f}x" for s in speedups) + " faster than the untiled loop")
    save(args.output, check=CHECK, sizes=sizes.describe(), judged_from=MIN_REFERENCE_SPEEDUP_FOR[CHECK],
         speedups=results)


if __name__ == "__main__":
    main()
