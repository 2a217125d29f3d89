"""What machine is this? Read from the OS, never typed.

Chapters print it beside every figure (numbers only mean something with the machine
named), and the grader stores a fingerprint of it with each calibration so that
thresholds measured on one machine are never applied on another.
"""

from __future__ import annotations

import hashlib
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path

CPU_SYSFS = Path("/sys/devices/system/cpu/cpu0/cache")
# Instruction-set extensions worth naming in a performance course.
ISA_FLAGS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512bw", "avx512_vnni", "avx_vnni")
# The vector extensions that set the register width, widest first.
VECTOR_ISAS = (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("avx", "AVX"), ("sse4_2", "SSE4.2"))


@dataclass(frozen=True)
class CacheLevel:
    level: int
    kind: str  # "Data", "Instruction" or "Unified"
    size_bytes: int
    line_bytes: int
    ways: int


def data_cache(caches: tuple[CacheLevel, ...], level: int) -> CacheLevel | None:
    """The data (or unified) cache at `level` among `caches`, or None if the OS does not say."""
    return next((c for c in caches if c.level == level and c.kind in ("Data", "Unified")), None)


@dataclass(frozen=True)
class MachineInfo:
    cpu_model: str
    logical_cpus: int
    usable_cpus: int
    isa: tuple[str, ...]
    caches: tuple[CacheLevel, ...]
    python: str
    numpy: str
    numba: str
    blas: str
    openblas_env: dict[str, str] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Short hash of what decides speed ratios: CPU, ISA, caches, library versions.

        The BLAS line is left out: which BLAS threadpoolctl lists first depends on what the
        process imported (numpy's and scipy's OpenBLAS), and numpy's version fixes its own.
        """
        key = repr((self.cpu_model, self.usable_cpus, self.isa, self.caches,
                    self.numpy, self.numba, sorted(self.openblas_env.items())))
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def cache_bytes(self, level: int) -> int | None:
        """Size of the data (or unified) cache at `level`, or None if the OS does not say."""
        cache = data_cache(self.caches, level)
        return cache.size_bytes if cache else None

    def outermost_cache(self) -> CacheLevel | None:
        """The outermost data (or unified) cache the OS reports beyond L1, or None without an L2.

        An L3 or an L4 (eDRAM) counts where reported; L1 is never what a kernel streams a
        large operand from."""
        if data_cache(self.caches, 2) is None:
            return None
        return max((c for c in self.caches if c.level >= 2 and c.kind in ("Data", "Unified")),
                   key=lambda c: c.level)

    def summary(self) -> str:
        """One line for a figure caption."""
        caches = ", ".join(f"L{c.level}{'d' if c.kind == 'Data' else ''} {_human(c.size_bytes)}"
                           for c in self.caches if c.kind != "Instruction")
        widest = next((name for flag, name in VECTOR_ISAS if flag in self.isa), "no SIMD flags reported")
        return (f"{self.cpu_model}, {self.usable_cpus} usable CPU(s), {widest}, {caches}; "
                f"numpy {self.numpy} ({self.blas}), numba {self.numba}")

    def as_dict(self) -> dict:
        return asdict(self) | {"fingerprint": self.fingerprint}


def _human(nbytes: int) -> str:
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if nbytes >= size:
            return f"{nbytes / size:.0f} {unit}"
    return f"{nbytes} B"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _isa_flags() -> tuple[str, ...]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                return tuple(f for f in ISA_FLAGS if f in flags)
    except OSError:
        pass
    return ()


def _parse_size(text: str) -> int:
    text = text.strip().upper()
    factor = {"K": 1024, "M": 1024**2, "G": 1024**3}.get(text[-1:], 1)
    return int(text.rstrip("KMG")) * factor


def read_caches() -> tuple[CacheLevel, ...]:
    """Every cache level of cpu0 as Linux reports it; empty where sysfs says nothing."""
    levels = []
    for index in sorted(CPU_SYSFS.glob("index*")):
        try:
            levels.append(CacheLevel(
                level=int((index / "level").read_text()),
                kind=(index / "type").read_text().strip(),
                size_bytes=_parse_size((index / "size").read_text()),
                line_bytes=int((index / "coherency_line_size").read_text()),
                ways=int((index / "ways_of_associativity").read_text() or 0),
            ))
        except (OSError, ValueError):
            continue
    return tuple(levels)


def _blas() -> str:
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return "unknown BLAS"
    pools = [pool for pool in threadpool_info() if pool.get("user_api") == "blas"]
    if not pools:
        return "no BLAS loaded"
    # scipy ships its own OpenBLAS; numpy's is the one `@` on numpy arrays uses.
    pool = next((p for p in pools if "numpy" in p.get("filepath", "")), pools[0])
    return (f"{pool.get('internal_api')} {pool.get('version')}, "
            f"{pool.get('architecture')} kernels, {pool.get('num_threads')} threads")


def _version(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


def describe_machine() -> MachineInfo:
    """Read the machine's CPU, caches and numeric stack."""
    return MachineInfo(
        cpu_model=_cpu_model(),
        logical_cpus=os.cpu_count() or 1,
        usable_cpus=len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
        isa=_isa_flags(),
        caches=read_caches(),
        python=platform.python_version(),
        numpy=_version("numpy"),
        numba=_version("numba"),
        blas=_blas(),
        openblas_env={k: v for k, v in os.environ.items() if k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
    )
