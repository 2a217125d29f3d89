"""Number formats for quantization: bytes, range and precision, and int8 dot-product instructions.

NumPy has float32 and float16 but no bfloat16. bfloat16 is the top half of a float32 bit
pattern, so `round_to_bf16` emulates it exactly: it rounds a float32 to the nearest value
whose low 16 bits are zero (ties to even, as hardware converts) and returns it as a float32.
`int8_dot_paths` turns the CPU flags of `coursekit.machine` into the integer SIMD
instructions an int8 dot product can use on that CPU.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# bfloat16 keeps float32's sign and 8 exponent bits and the top 7 of its 23 mantissa bits.
BF16_DROPPED_BITS = 16
BF16_MANTISSA_BITS = 7
# float32 exponent bias: the smallest normal float32 (and bfloat16) is 2**(1 - 127).
FLOAT32_EXPONENT_BIAS = 127
# Largest finite bfloat16: exponent field 0xFE, all 7 mantissa bits set.
BF16_LARGEST_BITS = 0x7F7F0000
INT8_RANGE = (-128, 127)


@dataclass(frozen=True)
class NumberFormat:
    """Bytes, range and precision of one number format."""

    name: str
    bytes: int
    largest: float  # largest finite value
    smallest_normal: float  # smallest positive value at full precision (1 for integers)
    step_at_one: float  # gap between 1 and the next representable value (1 for integers)


@dataclass(frozen=True)
class Int8DotPath:
    """How a CPU with one instruction-set flag computes int8 dot products."""

    flag: str
    instructions: str
    products_per_instruction: int  # byte pairs multiplied by the first instruction
    note: str


# Best first. Every path multiplies unsigned by signed bytes: an int8 x int8 product
# must be sign-extended to 16 bits first (vpmovsxbw, then vpmaddwd), at half the rate.
INT8_DOT_PATHS = (
    Int8DotPath("avx512_vnni", "vpdpbusd zmm", 64,
                "one instruction multiplies 64 u8 x s8 pairs and adds each group of four "
                "into one of 16 int32 accumulators"),
    Int8DotPath("avx_vnni", "vpdpbusd ymm (VEX encoding)", 32,
                "the same fused step on 256-bit registers: 32 pairs into 8 int32 accumulators"),
    Int8DotPath("avx512bw", "vpmaddubsw + vpmaddwd + vpaddd zmm", 64,
                "three instructions; vpmaddubsw adds pairs of products into int16 and "
                "saturates there"),
    Int8DotPath("avx2", "vpmaddubsw + vpmaddwd + vpaddd ymm", 32,
                "three instructions on 256-bit registers, with the same int16 saturation"),
    Int8DotPath("sse4_2", "pmaddubsw + pmaddwd + paddd xmm", 16,
                "three instructions on 128-bit registers"),
)


def bf16_largest() -> float:
    return float(np.array(BF16_LARGEST_BITS, dtype=np.uint32).view(np.float32))


def number_formats() -> tuple[NumberFormat, ...]:
    """fp32, fp16, bf16 and int8, with their limits computed, not typed."""
    fp32, fp16, int8 = np.finfo(np.float32), np.finfo(np.float16), np.iinfo(np.int8)
    return (
        NumberFormat("fp32", 4, float(fp32.max), float(fp32.smallest_normal), float(fp32.eps)),
        NumberFormat("fp16", 2, float(fp16.max), float(fp16.smallest_normal), float(fp16.eps)),
        NumberFormat("bf16", 2, bf16_largest(), 2.0 ** (1 - FLOAT32_EXPONENT_BIAS),
                     2.0 ** -BF16_MANTISSA_BITS),
        NumberFormat("int8", 1, float(int8.max), 1.0, 1.0),
    )


def round_to_bf16(x) -> np.ndarray:
    """x rounded to the nearest bfloat16 (ties to even), returned as float32; NaN stays NaN."""
    x = np.asarray(x, dtype=np.float32)
    bits = x.view(np.uint32).astype(np.uint64)  # 64 bits: adding the rounding cannot wrap
    lowest_kept = (bits >> BF16_DROPPED_BITS) & 1
    half = (1 << (BF16_DROPPED_BITS - 1)) - 1
    rounded = ((bits + half + lowest_kept) >> BF16_DROPPED_BITS) << BF16_DROPPED_BITS
    out = rounded.astype(np.uint32).view(np.float32)
    return np.where(np.isnan(x), x, out)


def worst_products(a_range=INT8_RANGE, b_range=INT8_RANGE) -> tuple[int, int]:
    """The most negative and the most positive product of a in a_range and b in b_range."""
    products = [a * b for a in a_range for b in b_range]
    return min(products), max(products)


def first_overflowing_k(acc_dtype, a_range=INT8_RANGE, b_range=INT8_RANGE) -> int:
    """Smallest K at which a sum of K products can leave the range of `acc_dtype`."""
    acc = np.iinfo(acc_dtype)
    most_negative, most_positive = worst_products(a_range, b_range)
    limits = []
    if most_positive > 0:
        limits.append(int(acc.max) // most_positive + 1)
    if most_negative < 0:
        limits.append(int(acc.min) // most_negative + 1)
    if not limits:
        raise ValueError("every product is zero: no sum overflows")
    return min(limits)


def int8_dot_paths(isa) -> tuple[Int8DotPath, ...]:
    """The int8 dot-product paths a CPU with these flags offers, best first."""
    flags = set(isa)
    return tuple(path for path in INT8_DOT_PATHS if path.flag in flags)
