"""Correctness checks whose failure names the case, never the hidden test's code.

A hidden test draws its inputs from `case_seed()`, describes them with `describe_case`
and compares with `assert_matches`. When a result is wrong, the student reads which
case failed (the inputs' shapes, dtypes and memory layouts, and the seed they were
drawn from: the grading session's, which the speed checks report too, so an instructor
can rebuild the inputs from the hidden test) and the first element that differs,
with the value expected and the value returned. The feedback shows only the line
numbers of a hidden test, so this message is all a student learns of it.
"""

from __future__ import annotations

import os

import numpy as np

from autograder.session import current

# How many mismatching elements a message lists: the first one locates the bug, a
# couple more show whether it is a row, a column or an edge tile.
SHOWN_MISMATCHES = 3


def case_seed() -> int:
    """The seed a hidden test draws its inputs from: the grading session's, or a fresh one."""
    session = current()
    return session.seed if session is not None else int.from_bytes(os.urandom(4), "little")


def layout(array: np.ndarray) -> str:
    """C-contiguous, F-contiguous, or strided (with the strides in elements)."""
    if array.ndim < 2 and array.flags.c_contiguous:
        return "contiguous"
    if array.flags.c_contiguous:
        return "C-contiguous"
    if array.flags.f_contiguous:
        return "F-contiguous"
    if array.itemsize and all(s % array.itemsize == 0 for s in array.strides):
        return f"strided (strides {tuple(s // array.itemsize for s in array.strides)} elements)"
    return f"strided (strides {array.strides} bytes)"


def describe_array(value) -> str:
    """One input in words: `float32 (31, 17) C-contiguous`, or its type for a non-array."""
    if isinstance(value, np.ndarray):
        shape = "scalar" if value.ndim == 0 else str(value.shape)
        return f"{value.dtype} {shape} {layout(value)}" if value.ndim else f"{value.dtype} {shape}"
    if isinstance(value, (bool, int, float, complex, np.generic, str)) or value is None:
        return repr(value.item() if isinstance(value, np.generic) else value)
    return type(value).__name__


def describe_case(*arrays, seed: int | None = None, **named) -> str:
    """The inputs of one case in words, positional ones first, then named ones, then the seed."""
    parts = [describe_array(a) for a in arrays]
    parts += [f"{name} {describe_array(a)}" for name, a in named.items()]
    if seed is not None:
        parts.append(f"inputs drawn from seed {seed}")
    return ", ".join(parts)


def _shown(value) -> str:
    return str(value.item() if isinstance(value, np.generic) and value.dtype.kind == "b" else value)


def _at(index: tuple) -> str:
    return f"[{', '.join(str(int(i)) for i in index)}]" if index else "the single value"


def _within(actual: np.ndarray, expected: np.ndarray, rtol, atol) -> np.ndarray:
    """Elementwise: equal, both NaN, or |actual - expected| <= atol + rtol * |expected|."""
    work: type[np.generic]
    if actual.dtype.kind in "biu" and expected.dtype.kind in "biu":
        work = np.int64 if np.all(rtol == 0) and np.all(atol == 0) else np.float64
    elif np.iscomplexobj(actual) or np.iscomplexobj(expected):
        work = np.complex128
    else:
        work = np.float64
    a, e = actual.astype(work), expected.astype(work)
    with np.errstate(invalid="ignore", over="ignore"):
        ok = a == e
        if work is not np.int64:
            ok |= np.abs(a - e) <= atol + rtol * np.abs(e)
            ok |= np.isnan(a) & np.isnan(e)
    return ok


def assert_matches(actual, expected, *, case: str, rtol=0.0, atol=0.0, dtype=None) -> None:
    """Raise AssertionError naming `case` unless `actual` matches `expected` elementwise.

    Exact by default; `rtol` and `atol` (scalars, or arrays that broadcast against the
    result, for an error bound per element) allow |actual - expected| <= atol + rtol *
    |expected|. NaN matches NaN. With `dtype`, the result must have exactly that dtype.
    """
    expected = np.asarray(expected)
    try:
        actual = np.asarray(actual)
    except Exception as error:  # a ragged list, an object numpy cannot read
        raise AssertionError(f"{case}: the result is not an array ({type(error).__name__}: {error})") from None
    if actual.dtype == object and expected.dtype != object:
        raise AssertionError(f"{case}: the result holds Python objects, not numbers: "
                             f"{type(actual.flat[0]).__name__ if actual.size else 'nothing'}")
    if actual.shape != expected.shape:
        raise AssertionError(f"{case}: wrong shape {actual.shape}, expected {expected.shape}")
    if dtype is not None and actual.dtype != np.dtype(dtype):
        raise AssertionError(f"{case}: wrong dtype {actual.dtype}, expected {np.dtype(dtype)}")
    rtol, atol = np.asarray(rtol, dtype=np.float64), np.asarray(atol, dtype=np.float64)
    ok = _within(actual, expected, rtol, atol)
    if ok.all():
        return
    wrong = np.argwhere(~ok)
    details = []
    for index in map(tuple, wrong[:SHOWN_MISMATCHES]):
        detail = f"at {_at(index)}: expected {_shown(expected[index])}, got {_shown(actual[index])}"
        if rtol.any() or atol.any():
            magnitude = abs(complex(expected[index]))
            allowed = (np.broadcast_to(atol, expected.shape)[index]
                       + np.broadcast_to(rtol, expected.shape)[index] * magnitude)
            detail += f" (allowed difference {allowed:.3g})"
        details.append(detail)
    raise AssertionError(f"{case}: {len(wrong)} of {ok.size} elements differ, the first " + "; then ".join(details))
