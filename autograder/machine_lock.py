"""One reader-writer lock per machine between graders: timing alone, everything else shared.

Graders on one machine (the workers of a local Dask cluster, or two `autograder grade` runs)
hold the lock shared while they use a core for grading: a submission's cells, a test cell,
a feedback page, recording an outcome. A speed check holds it exclusively, so the kernels it
times have the machine to themselves. A lock on timing alone was not enough: on two Dask
workers of a 2-core machine, the parallel reference's prange kernel lost most of its speedup
over its serial baseline while the other worker ran a notebook, and lost points (the
instructor guide, "Grading at scale", has the figures).

A gate in front of the lock lets a waiting timer in first: new shared holds queue behind it,
so a stream of short ones cannot starve it. Shared holds are short phases, never held while
waiting for another lock, so no two graders wait on each other. The files live in the
grader's temporary directory, which a confined submission cannot open (`confinement`).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_FILE = Path(tempfile.gettempdir()) / "kernels-autograder-machine.lock"
GATE_FILE = Path(tempfile.gettempdir()) / "kernels-autograder-machine.gate"


def _open_for_locking(path: Path) -> int:
    return os.open(path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)


class _MachineLock:
    """This process's side of the lock: how deep its shared holds go, and whether it times."""

    def __init__(self) -> None:
        self._depth = 0
        self._exclusive = False
        self._fds: tuple[int, int] | None = None

    def _files(self) -> tuple[int, int]:
        """The lock and the gate, opened once per process (a lock is held by an open file).
        Read-only, created readable by all: flock needs no write access, so graders (and
        notebooks timing locally) of other users on the machine can open them too."""
        if self._fds is None:
            self._fds = _open_for_locking(LOCK_FILE), _open_for_locking(GATE_FILE)
        return self._fds

    @contextmanager
    def shared(self) -> Iterator[None]:
        """Grading work that uses a core; re-entrant, and nothing to do while this process times."""
        if self._depth == 0 and not self._exclusive:
            lock, gate = self._files()
            fcntl.flock(gate, fcntl.LOCK_SH)  # waits while a timer holds the gate
            fcntl.flock(lock, fcntl.LOCK_SH)
            fcntl.flock(gate, fcntl.LOCK_UN)
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0 and not self._exclusive:
                fcntl.flock(self._files()[0], fcntl.LOCK_UN)

    @contextmanager
    def exclusive(self) -> Iterator[float]:
        """Timing: waits until no other grader on the machine is in a shared phase, and
        keeps new ones out. Yields the seconds it waited (a deadline may move by that much)."""
        lock, gate = self._files()
        started = time.monotonic()
        if self._depth:
            fcntl.flock(lock, fcntl.LOCK_UN)  # this process's own shared phase must not block it
        fcntl.flock(gate, fcntl.LOCK_EX)
        fcntl.flock(lock, fcntl.LOCK_EX)
        self._exclusive = True
        try:
            yield time.monotonic() - started
        finally:
            self._exclusive = False
            fcntl.flock(lock, fcntl.LOCK_SH if self._depth else fcntl.LOCK_UN)
            fcntl.flock(gate, fcntl.LOCK_UN)


_THIS_PROCESS = _MachineLock()
shared = _THIS_PROCESS.shared
exclusive = _THIS_PROCESS.exclusive
