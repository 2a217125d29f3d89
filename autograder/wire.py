"""Messages between the grader and a student worker.

Frames are an 8-byte length followed by a pickle. Requests (grader -> worker) may hold
code, pickled with cloudpickle: the worker trusts the grader. Replies (worker -> grader)
are decoded by `load_reply`, which rebuilds plain data only, so nothing a student
returns can run code inside the grader.
"""

from __future__ import annotations

import io
import os
import pickle
import select
import struct
import time

import numpy as np

HEADER = struct.Struct("!Q")
# A reply larger than this is a runaway submission, not a result worth reading.
MAX_FRAME_BYTES = 1 << 30

# The only globals a reply may name: what pickle needs to rebuild numpy arrays,
# dtypes and scalars, and a few builtin value types.
_REPLY_GLOBALS = {
    ("numpy", "ndarray"), ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"), ("numpy._core.numeric", "_frombuffer"),
    ("builtins", "complex"), ("builtins", "set"), ("builtins", "frozenset"),
    ("builtins", "slice"), ("builtins", "range"), ("builtins", "bytearray"),
}
_PLAIN_SCALARS = (type(None), bool, int, float, complex, str, bytes)
_PLAIN_CONTAINERS = (list, tuple, dict, set, frozenset)


class ProtocolError(Exception):
    """The worker sent something that is not a well-formed reply."""


class WorkerTimeout(Exception):
    """No complete reply arrived before the deadline."""


class WorkerGone(Exception):
    """The worker closed its end of the pipe (it exited or crashed)."""


def is_plain(value, _depth: int = 0) -> bool:
    """True if `value` is data that `load_reply` rebuilds exactly (exact types only)."""
    if _depth > 50:
        return False
    kind = type(value)
    if kind in _PLAIN_SCALARS:
        return True
    if kind is np.ndarray:
        return value.dtype != object
    if isinstance(value, np.generic) and type(value).__module__ == "numpy":
        return value.dtype != object
    if kind in _PLAIN_CONTAINERS:
        items = value.items() if kind is dict else ((None, v) for v in value)
        return all(is_plain(k, _depth + 1) and is_plain(v, _depth + 1) for k, v in items)
    return False


class _ReplyUnpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in _REPLY_GLOBALS:
            return super().find_class(module, name)
        raise ProtocolError(f"reply refers to {module}.{name}, which only plain data may")


def load_reply(payload: bytes):
    """Decode a worker's reply, refusing anything but plain data."""
    try:
        return _ReplyUnpickler(io.BytesIO(payload)).load()
    except ProtocolError:
        raise
    except Exception as exc:  # a corrupt stream can raise almost anything
        raise ProtocolError(f"unreadable reply: {type(exc).__name__}: {exc}") from None


def write_frame(fd: int, payload: bytes) -> None:
    data = HEADER.pack(len(payload)) + payload
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _read_exact(fd: int, size: int, deadline: float | None) -> bytes:
    chunks, remaining = [], size
    while remaining:
        if deadline is not None:
            wait = deadline - time.monotonic()
            if wait <= 0 or not select.select([fd], [], [], wait)[0]:
                raise WorkerTimeout()
        chunk = os.read(fd, min(remaining, 1 << 20))
        if not chunk:
            raise WorkerGone()
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def read_frame(fd: int, deadline: float | None = None) -> bytes:
    """Read one frame; `deadline` is a time.monotonic() value or None to wait forever."""
    (size,) = HEADER.unpack(_read_exact(fd, HEADER.size, deadline))
    if size > MAX_FRAME_BYTES:
        raise ProtocolError(f"reply of {size} bytes exceeds the {MAX_FRAME_BYTES}-byte limit")
    return _read_exact(fd, size, deadline)
