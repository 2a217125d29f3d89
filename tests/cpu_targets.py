"""CPU targets the grading tests run under, so a verdict is proven on more than one ISA.

numba compiles for the CPU that NUMBA_CPU_NAME and NUMBA_CPU_FEATURES name. The name
alone keeps the host's features (AVX-512 ones included: LLVM then emits zmm code for Zen 4,
while for Intel's AVX-512 cores it prefers 256-bit vectors but may use AVX-512 instructions
on them), so the AVX2-only target spells out Haswell's features; `emits_zmm` checks that
the target took.
On a host without AVX-512 the host target is already an AVX2 one: only it is graded there.
"""

from __future__ import annotations

import os
import subprocess
import sys

import llvmlite.binding

# Haswell: AVX2 and FMA, no AVX-512 (the oldest x86 CPU a grading machine plausibly has).
HASWELL_FEATURES = "+avx,+avx2,+fma,+sse4.2,+popcnt,+bmi,+bmi2,+f16c,+lzcnt,+movbe,+cx16"

# Environment overrides per target; "host" compiles for the machine running the tests.
TARGETS = {
    "host": {},
    "avx2": {"NUMBA_CPU_NAME": "haswell", "NUMBA_CPU_FEATURES": HASWELL_FEATURES},
}


def host_has_avx512() -> bool:
    """Whether this CPU has AVX-512, as LLVM (and so numba) sees it."""
    return bool(llvmlite.binding.get_host_cpu_features().get("avx512f"))


# The targets the grading tests run under. On a host without AVX-512 the host target is
# already an AVX2 one, and grading every class again for Haswell would repeat it.
GRADED_TARGETS = [target for target in TARGETS if target == "host" or host_has_avx512()]

_PROBE = """
import numba, numpy as np
@numba.njit
def double(x, out):
    for i in range(x.size):
        out[i] = 2 * x[i]
x = np.ones(1024, np.float32); double(x, np.empty_like(x))
print("zmm" in "".join(double.inspect_asm().values()))
"""


def environment(target: str) -> dict[str, str]:
    """os.environ with `target`'s overrides: for subprocess.run(env=...)."""
    env = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CPU_NAME", "NUMBA_CPU_FEATURES")}
    env.update(TARGETS[target])
    return env


def emits_zmm(target: str) -> bool:
    """Whether numba, compiling for `target`, uses 512-bit registers in a simple loop."""
    result = subprocess.run([sys.executable, "-c", _PROBE], env=environment(target),
                            capture_output=True, text=True, check=True)
    return result.stdout.strip() == "True"
