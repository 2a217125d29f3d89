"""This machine's roofline: its roofs measured, its theoretical peak derived where it can be, kernels placed under it.

`coursekit.bandwidth` measures the two roofs chapters met first (the STREAM triad, a float32
FMA kernel) and draws `min(peak, intensity * bandwidth)`. The capstone needs more:

- the compute roof in float32 *and* float64, from the same kind of register-resident FMA kernel;
- a memory roof per level of the hierarchy (L1, L2, L3, DRAM), from `coursekit.membench`'s
  streaming read at a working set that fits each level the OS reports;
- the theoretical peak, lanes x 2 FLOPs x FMA units x clock x cores, with each factor read from
  the OS or marked unknown (a factor that cannot be read is never guessed);
- kernels as points (FLOPs, bytes, seconds), their fraction of the roof above them, and power
  laws fitted to time against batch size, with the size where the exponent bends.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numba
import numpy as np

from coursekit.bandwidth import (
    roofline,
    triad_bandwidth,
    usable_threads,
    with_numba_threads,
)
from coursekit.checks import positive_finite, positive_int
from coursekit.machine import VECTOR_ISAS, MachineInfo, describe_machine
from coursekit.membench import read_bandwidth_gbs
from coursekit.timing import best_times, interleaved_samples

# An FMA is a multiply and an add: two floating-point operations.
FLOPS_PER_FMA = 2
# About 4e9 FMA-lanes per pass: tens of milliseconds on one core, long enough to dwarf
# the thread start-up of a parallel pass, short enough for five passes in a chapter.
DEFAULT_FMA_ITERATIONS = 2**25
# Best of a few passes, for the same reason as DEFAULT_REPEATS; each pass is long.
DEFAULT_PEAK_REPEATS = 5
# Independent float32 FMA chains per thread. An FMA has a latency of about 4 cycles and
# a core issues up to 2 per cycle, so 8 vectors must be in flight: 64 float32 at the
# 256-bit width LLVM usually picks. AVX-512 cores have 32 vector registers, room for 16
# chains (128 float32), which also keeps 512-bit code busy; AVX2 cores have 16 registers,
# and 16 chains there would spill to memory.
FMA_CHAINS_AVX512 = 128
FMA_CHAINS_OTHER = 64
# Register width in bits of each vector extension `machine.VECTOR_ISAS` names. Lanes per
# vector are this width over the element's bits: what one instruction computes at once.
VECTOR_BITS = {"AVX-512": 512, "AVX2": 256, "AVX": 256, "SSE4.2": 128}
# Where Linux states a core's clock. cpufreq's maximum is the boost ceiling; /proc/cpuinfo's
# "cpu MHz" is the current clock on bare metal, and under a hypervisor often only the nominal
# rate the host advertises. Neither says how many FMA units a core has: no file does.
CPUFREQ_MAX = Path("/sys/devices/system/cpu/cpu0/cpufreq/cpuinfo_max_freq")
CPUINFO = Path("/proc/cpuinfo")
# Each level's memory roof is measured at this fraction of its capacity: the rest is left for
# the code, the stack and the neighbouring level's lines, so the working set stays resident.
RESIDENT_FRACTION = 0.5
# The DRAM roof is read from a working set this many times the last-level cache.
BEYOND_LAST_CACHE = 4
# A log-log fit is only a fit with at least three sizes; a bend needs two on each side.
MIN_FIT_POINTS = 3
MIN_SEGMENT_POINTS = 2
# A bend is reported only where the two segments' exponents differ by at least this much:
# below it, timing noise on a shared machine can produce the difference on a straight line.
MIN_BEND = 0.15


def _float_dtype(dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype not in (np.dtype(np.float32), np.dtype(np.float64)):
        raise ValueError(f"dtype must be float32 or float64, got {dtype}")
    return dtype


# ---------------------------------------------------------------- the compute roof

@functools.cache
def _fma_kernels(chains: int, dtype_name: str):
    """A register-resident FMA kernel for `chains` independent chains of `dtype`, and its parallel twin.

    The chain count must be a compile-time constant: only then does LLVM unroll the inner
    loop, keep every chain in a register and issue packed FMAs. 'contract' allows the
    multiply and add to fuse into one FMA and permits nothing else.
    """
    dtype = np.dtype(dtype_name)

    @numba.njit(fastmath={"contract"})
    def chains_of_fmas(iterations, multiplier, addend):
        acc = np.empty(chains, dtype)
        for j in range(chains):
            acc[j] = j
        for _ in range(iterations):
            for j in range(chains):
                acc[j] = acc[j] * multiplier + addend
        return acc.sum()  # returned, so the work cannot be optimised away

    @numba.njit(parallel=True)
    def chains_on_every_thread(threads, iterations, multiplier, addend):
        results = np.empty(threads, dtype)
        for t in numba.prange(threads):
            results[t] = chains_of_fmas(iterations, multiplier, addend)
        return results.sum()

    return chains_of_fmas, chains_on_every_thread


def fma_chains() -> int:
    """Independent FMA chains per thread for this machine's vector register file."""
    return FMA_CHAINS_AVX512 if "avx512f" in describe_machine().isa else FMA_CHAINS_OTHER


def fma_chains_for(dtype) -> int:
    """Independent chains per thread: float64 lanes are twice as wide, so the same registers hold half as many."""
    return fma_chains() * 4 // _float_dtype(dtype).itemsize


def fma_recurrence(dtype, chains: int, iterations: int) -> float:
    """What the FMA kernel returns: the sum over chains of acc = acc * a + b, iterated. Used to check it."""
    dtype = _float_dtype(dtype)
    positive_int("chains", chains)
    positive_int("iterations", iterations)
    serial, _ = _fma_kernels(chains, dtype.name)
    a, b = _fma_constants(dtype)
    return float(serial(iterations, a, b))


def _fma_constants(dtype: np.dtype):
    # The recurrence converges to b / (1 - a): values stay normal, never denormal nor infinite.
    return dtype.type(0.999), dtype.type(0.001)


def peak_gflops(dtype=np.float32, parallel: bool = True, iterations: int = DEFAULT_FMA_ITERATIONS,
                repeats: int = DEFAULT_PEAK_REPEATS) -> float:
    """Measured peak in GFLOP/s for float32 or float64: the best rate of independent FMAs on registers.

    What numba's code reaches at the vector width LLVM picks and the clock the cores run at
    under this load; `parallel=True` runs one kernel per usable core.
    """
    dtype = _float_dtype(dtype)
    positive_int("iterations", iterations)
    positive_int("repeats", repeats)
    chains = fma_chains_for(dtype)
    serial, on_every_thread = _fma_kernels(chains, dtype.name)
    a, b = _fma_constants(dtype)
    threads = usable_threads() if parallel else 1
    if parallel:
        def run():
            return on_every_thread(threads, iterations, a, b)
    else:
        def run():
            return serial(iterations, a, b)
    seconds = with_numba_threads(threads, lambda: best_times(run, rounds=repeats)[0])
    return FLOPS_PER_FMA * chains * iterations * threads / seconds / 1e9


# ---------------------------------------------------------------- the theoretical peak

@dataclass(frozen=True)
class TheoreticalPeak:
    """lanes x 2 FLOPs x FMA units x clock x cores, with every factor the OS does not state left as None."""

    dtype: str
    vector_isa: str | None
    lanes: int | None
    cores: int
    clock_ghz: float | None
    clock_source: str
    fma_units: int | None = None  # no OS interface reports it; a datasheet does

    @property
    def gflops_per_fma_unit(self) -> float | None:
        """The peak if each core had one FMA unit: every factor but the unknown one."""
        if self.lanes is None or self.clock_ghz is None:
            return None
        return self.lanes * FLOPS_PER_FMA * self.clock_ghz * self.cores

    @property
    def gflops(self) -> float | None:
        """The theoretical peak, or None while any factor is unknown."""
        per_unit = self.gflops_per_fma_unit
        return None if per_unit is None or self.fma_units is None else per_unit * self.fma_units

    def implied_fma_units(self, measured_gflops: float) -> float | None:
        """How many FMA units per core, at the stated clock, the measured peak corresponds to."""
        per_unit = self.gflops_per_fma_unit
        return None if per_unit is None else positive_finite("measured_gflops", measured_gflops) / per_unit

    def describe(self) -> str:
        lanes = f"{self.lanes} {self.dtype} lanes ({self.vector_isa})" if self.lanes else "unknown vector width"
        clock = (f"{self.clock_ghz:.2f} GHz ({self.clock_source})" if self.clock_ghz
                 else f"clock unknown ({self.clock_source})")
        units = f"{self.fma_units} FMA unit(s)" if self.fma_units else "FMA units per core: not reported by the OS"
        return f"{lanes} x 2 FLOPs x {units} x {clock} x {self.cores} core(s)"


def read_clock_ghz(cpufreq_max: Path = CPUFREQ_MAX, cpuinfo: Path = CPUINFO) -> tuple[float | None, str]:
    """The core clock in GHz and where it came from; (None, reason) when the OS states none."""
    try:
        return int(cpufreq_max.read_text()) / 1e6, "cpufreq maximum"  # the file is in kHz
    except (OSError, ValueError):
        pass
    try:
        text = cpuinfo.read_text()
    except OSError:
        return None, "no cpufreq, no /proc/cpuinfo"
    hypervisor = any(line.startswith("flags") and " hypervisor" in line for line in text.splitlines())
    for line in text.splitlines():
        if line.startswith("cpu MHz"):
            try:
                mhz = float(line.split(":", 1)[1])
            except ValueError:
                break
            source = ("/proc/cpuinfo under a hypervisor: the host's nominal rate, not the running clock"
                      if hypervisor else "/proc/cpuinfo: the current clock")
            return mhz / 1e3, source
    return None, "neither cpufreq nor /proc/cpuinfo states a clock"


def theoretical_peak(dtype=np.float32, machine: MachineInfo | None = None,
                     clock: tuple[float | None, str] | None = None) -> TheoreticalPeak:
    """The theoretical peak's factors for `dtype` on this machine (or `machine`), read, never typed."""
    dtype = _float_dtype(dtype)
    machine = machine or describe_machine()
    isa = next((name for flag, name in VECTOR_ISAS if flag in machine.isa), None)
    lanes = VECTOR_BITS[isa] // (8 * dtype.itemsize) if isa else None
    clock_ghz, source = clock if clock is not None else read_clock_ghz()
    return TheoreticalPeak(dtype.name, isa, lanes, machine.usable_cpus, clock_ghz, source)


# ---------------------------------------------------------------- the memory roofs

@dataclass(frozen=True)
class MemoryRoof:
    """One level's bandwidth: `level` names it, `working_set_bytes` is where it was read."""

    level: str
    working_set_bytes: int
    gbs: float
    how: str


def level_working_sets(machine: MachineInfo | None = None) -> list[tuple[str, int]]:
    """(name, bytes) of a working set resident in each data cache the OS reports, then one in DRAM.

    Empty caches list: only DRAM, at a size no laptop's caches reach.
    """
    machine = machine or describe_machine()
    caches = sorted((c for c in machine.caches if c.kind in ("Data", "Unified")), key=lambda c: c.level)
    element = np.dtype(np.float64).itemsize
    sets = [(f"L{c.level}", int(c.size_bytes * RESIDENT_FRACTION) // element * element) for c in caches]
    last = caches[-1].size_bytes if caches else 2**27
    sets.append(("DRAM", BEYOND_LAST_CACHE * last))
    return sets


def level_holding(nbytes: int, machine: MachineInfo | None = None) -> str:
    """The name (as in `level_working_sets`) of the smallest data cache that holds `nbytes`; 'DRAM' if none does."""
    positive_int("nbytes", nbytes)
    machine = machine or describe_machine()
    caches = sorted((c for c in machine.caches if c.kind in ("Data", "Unified")), key=lambda c: c.level)
    return next((f"L{c.level}" for c in caches if nbytes <= c.size_bytes), "DRAM")


def memory_roofs(machine: MachineInfo | None = None, repeats: int = 3,
                 include_parallel_dram: bool = True) -> list[MemoryRoof]:
    """Bandwidth of every level: one core streaming a resident working set, and the triad on all cores for DRAM."""
    roofs = [MemoryRoof(name, size, read_bandwidth_gbs(size, repeats=repeats), "one core, streaming read")
             for name, size in level_working_sets(machine)]
    if include_parallel_dram:
        roofs.append(MemoryRoof("DRAM, all cores", 0, triad_bandwidth(repeats=repeats),
                                "STREAM triad, every usable core"))
    return roofs


# ---------------------------------------------------------------- kernels as points

@dataclass(frozen=True)
class KernelPoint:
    """A kernel's work (FLOPs), its compulsory traffic (bytes) and its measured time."""

    name: str
    flops: float
    bytes: float
    seconds: float

    def __post_init__(self):
        for field_name in ("flops", "bytes", "seconds"):
            positive_finite(field_name, getattr(self, field_name))

    @property
    def intensity(self) -> float:
        """FLOPs per byte moved."""
        return self.flops / self.bytes

    @property
    def gflops(self) -> float:
        return self.flops / self.seconds / 1e9

    def fraction_of_roof(self, peak_gflops: float, bandwidth_gbs: float) -> float:
        """Achieved over attainable at this intensity: 1 means the kernel sits on the roof."""
        return self.gflops / roofline(self.intensity, peak_gflops, bandwidth_gbs)

    def bound(self, peak_gflops: float, bandwidth_gbs: float) -> str:
        """Which roof is above the point: 'memory' left of the ridge, 'compute' right of it."""
        return "memory" if self.intensity * bandwidth_gbs < peak_gflops else "compute"


# ---------------------------------------------------------------- scaling with size

# Rounds over all sizes in `best_times_by_size`: a burst of load elsewhere slows one sample of
# several sizes rather than every sample of one, and the best of five survives most bursts.
DEFAULT_SCALING_ROUNDS = 5


def best_times_by_size(run, sizes, rounds: int = DEFAULT_SCALING_ROUNDS, clock=time.perf_counter) -> list[float]:
    """Best seconds of `run(size)` for each size, over `rounds` rounds whose order alternates.

    Every size is called once untimed first (compilation, first touch of its inputs).
    """
    sizes = list(sizes)
    samples = interleaved_samples({index: (lambda size=size: run(size)) for index, size in enumerate(sizes)},
                                  rounds, clock)
    return [min(samples[index]) for index in range(len(sizes))]

@dataclass(frozen=True)
class PowerLaw:
    """time = prefactor * size ** exponent, fitted in log-log space."""

    exponent: float
    prefactor: float

    def __call__(self, size):
        return self.prefactor * np.asarray(size, dtype=float) ** self.exponent


def _log_arrays(sizes, times, minimum: int):
    x, y = np.asarray(sizes, dtype=float), np.asarray(times, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"sizes and times must be 1-D and of one length, got {x.shape} and {y.shape}")
    if x.size < minimum:
        raise ValueError(f"need at least {minimum} points, got {x.size}")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y)) and np.all(x > 0) and np.all(y > 0)):
        raise ValueError("sizes and times must be positive and finite")
    if np.unique(x).size < 2:
        raise ValueError("sizes must not all be equal")
    order = np.argsort(x)
    return np.log(x[order]), np.log(y[order]), x[order]


def fit_power_law(sizes, times) -> PowerLaw:
    """Least-squares fit of log(time) = log(prefactor) + exponent * log(size). 1 means linear scaling."""
    lx, ly, _ = _log_arrays(sizes, times, MIN_FIT_POINTS)
    slope, intercept = np.polyfit(lx, ly, 1)
    return PowerLaw(float(slope), float(math.exp(intercept)))


@dataclass(frozen=True)
class Bend:
    """Where a log-log line changes slope: the exponent before and after the size `at`."""

    at: float
    before: float
    after: float


def find_bend(sizes, times, min_change: float = MIN_BEND) -> Bend | None:
    """The split into two power laws that fits best, if their exponents differ by at least `min_change`.

    Each segment needs MIN_SEGMENT_POINTS sizes; the two share the size where they meet.
    None when the data are better described by one line.
    """
    lx, ly, x = _log_arrays(sizes, times, 2 * MIN_SEGMENT_POINTS - 1)
    best = None
    for split in range(MIN_SEGMENT_POINTS - 1, lx.size - MIN_SEGMENT_POINTS + 1):
        left, right = slice(0, split + 1), slice(split, lx.size)
        fits = [np.polyfit(lx[s], ly[s], 1) for s in (left, right)]
        residual = sum(float(np.sum((np.polyval(f, lx[s]) - ly[s]) ** 2))
                       for f, s in zip(fits, (left, right), strict=True))
        if best is None or residual < best[0]:
            best = (residual, float(x[split]), float(fits[0][0]), float(fits[1][0]))
    if best is None or abs(best[3] - best[2]) < min_change:
        return None
    return Bend(best[1], best[2], best[3])
