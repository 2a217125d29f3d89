"""Argument checks shared by every coursekit function, with one exception type.

Bad sizes must be refused before they reach compiled code (a numba kernel given a
negative length reads out of bounds instead of raising). `InvalidArgument` is both a
ValueError and a TypeError, so callers may catch either, and the message names the
argument and the value it got.
"""

from __future__ import annotations

import math
import numbers


class InvalidArgument(ValueError, TypeError):
    """An argument of the wrong type or out of its range; the message says which."""


def positive_int(name: str, value) -> int:
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise InvalidArgument(f"{name} must be an integer, got {value!r}")
    if value <= 0:
        raise InvalidArgument(f"{name} must be positive, got {value}")
    return int(value)


def positive_finite(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidArgument(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value) or value <= 0:
        raise InvalidArgument(f"{name} must be positive and finite, got {value}")
    return float(value)


def fraction(name: str, value) -> float:
    # Written with < and <= on the Real (the operators numbers.Real declares); NaN fails too.
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or value < 0.0 or not value <= 1.0:
        raise InvalidArgument(f"{name} must be a number between 0 and 1, got {value!r}")
    return float(value)


def multiple_of(name: str, value, unit: int, unit_name: str) -> int:
    positive_int(name, value)
    if value % unit:
        raise InvalidArgument(f"{name} ({value}) must be a multiple of {unit_name} ({unit} bytes)")
    return int(value)
