"""What the pytest-xdist workers of one run share: a folder, and a lock to build things in it once."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def worker_name() -> str | None:
    """This pytest-xdist worker's name (gw0, gw1...), or None outside pytest-xdist."""
    return os.environ.get("PYTEST_XDIST_WORKER")


def run_folder(tmp_path_factory) -> Path:
    """A folder that every worker of this test run sees (the run's own one without xdist)."""
    basetemp = tmp_path_factory.getbasetemp()
    return basetemp.parent if worker_name() else basetemp


@contextmanager
def one_worker_at_a_time(name: str, tmp_path_factory) -> Iterator[Path]:
    """Hold the run-wide lock `name`; yields the run folder. A worker that finds what it
    needs already built there uses it; one that does not builds it while the others wait."""
    folder = run_folder(tmp_path_factory)
    with (folder / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
