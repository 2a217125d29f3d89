"""A ReLU loop compiled and timed in a fresh process, under LLVM settings given by environment.

numba reads `NUMBA_CPU_NAME` and `NUMBA_CPU_FEATURES` once, at start-up, so comparing two
LLVM settings (the SIMD chapter compares LLVM's default with its 256-bit preference switched
off) takes one fresh process per setting. `relu_in_fresh_processes` starts them; each runs
this module as a script (`python -m coursekit.relu_tuning`), which compiles the loop, times it
on data in L1 at two placements and prints one JSON line: the loop's `vmaxps` lines and the
best nanoseconds per element at each placement.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import numpy as np
from numba import njit

# 2048 float32 are 8 KiB per array: input and output together stay in any L1 data cache.
ELEMENTS = 2048
# Calls of the loop per timing (about 4 million elements): long enough for the clock, short
# enough that the 20 timings of both placements take well under a second.
CALLS_PER_TIMING, TIMINGS = 2000, 20
# Placements past a 64-byte boundary: 0 (aligned for a 64-byte zmm load) and 32 (aligned for a
# 32-byte ymm load only, so every zmm load spans two cache lines).
OFFSETS = (0, 32)
# A child has to compile numba's loop from nothing; more than this means something hung.
CHILD_TIMEOUT_S = 300


@njit
def relu_loop(x, out):
    for i in range(x.size):
        out[i] = max(x[i], np.float32(0.0))


@njit
def relu_repeated(x, out, times):
    for _ in range(times):
        relu_loop(x, out)


def placed(n: int, offset_bytes: int) -> np.ndarray:
    """n float32 starting offset_bytes past a 64-byte boundary."""
    buffer = np.empty(n + 32, np.float32)
    start = (-buffer.ctypes.data % 64 + offset_bytes) // 4
    return buffer[start:start + n]


def measure_here() -> dict:
    """The loop's vmaxps lines and best ns per element at each placement, in this process."""
    ns = {}
    for offset in OFFSETS:
        x, out = placed(ELEMENTS, offset), placed(ELEMENTS, offset)
        x[:] = np.random.default_rng(0).standard_normal(x.size)
        relu_repeated(x, out, 1)  # compile, untimed
        best = float("inf")
        for _ in range(TIMINGS):
            start = time.perf_counter()
            relu_repeated(x, out, CALLS_PER_TIMING)
            best = min(best, time.perf_counter() - start)
        ns[str(offset)] = best / (CALLS_PER_TIMING * x.size) * 1e9
    asm = relu_loop.inspect_asm(relu_loop.signatures[0])
    return {"vmaxps": [line for line in asm.splitlines() if "vmaxps" in line], "ns": ns}


def relu_in_fresh_processes(settings: dict[str, dict[str, str]], rounds: int = 2) -> dict[str, dict]:
    """Per setting (extra environment variables), the child's result, best time over `rounds`.

    The settings alternate within each round, so a busy moment of the machine hits all of
    them, not one. A setting whose child fails is left out, with the reason printed.
    """
    results: dict[str, dict] = {}
    for _ in range(rounds):
        for label, extra_env in settings.items():
            done = subprocess.run([sys.executable, "-m", "coursekit.relu_tuning"], env=os.environ | extra_env,
                                  capture_output=True, text=True, timeout=CHILD_TIMEOUT_S)
            if done.returncode != 0:
                print(f"{label}: the child process failed: {done.stderr.strip().splitlines()[-1:]}")
                continue
            result = json.loads(done.stdout.splitlines()[-1])
            earlier = results.get(label, result)["ns"]
            result["ns"] = {k: min(v, earlier[k]) for k, v in result["ns"].items()}
            results[label] = result
    return results


if __name__ == "__main__":
    print(json.dumps(measure_here()))
