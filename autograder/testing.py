"""Helpers that hidden tests import to place objects inside the submission's process.

While the grader runs a test cell, student-defined names are proxies to a separate
process, and arguments travel there as copies. A test that needs one object shared by
two calls (a fake clock used as timer and advanced by the operation) or built there
(a view that must share its base's buffer) uses these helpers. Outside the grader, in
a plain notebook, they do the obvious local thing, so the same test runs in both.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar

from autograder.sandbox import ref_of

_ACTIVE_PROCESS: ContextVar = ContextVar("active_student_process", default=None)
_SUBMISSION_SOURCE: ContextVar[str] = ContextVar("submission_source", default="")


@contextmanager
def grading_with(process, source: str = ""):
    """Inside the block, `remote` targets `process` and `submission_source()` is `source`."""
    tokens = _ACTIVE_PROCESS.set(process), _SUBMISSION_SOURCE.set(source)
    try:
        yield
    finally:
        _ACTIVE_PROCESS.reset(tokens[0])
        _SUBMISSION_SOURCE.reset(tokens[1])


def submission_source() -> str:
    """The code the student wrote (solution cells and cells they added); '' outside the grader."""
    return _SUBMISSION_SOURCE.get()


def remote(obj):
    """Move `obj` into the submission's process; return a proxy (or `obj` itself locally)."""
    process = _ACTIVE_PROCESS.get()
    return obj if process is None else process.put(obj)


def remote_call(factory, *args, **kwargs):
    """Call `factory` inside the submission's process and keep the result there."""
    process = _ACTIVE_PROCESS.get()
    if process is None:
        return factory(*args, **kwargs)
    return process.call(ref_of(process.put(factory)), args, kwargs, keep=True)
