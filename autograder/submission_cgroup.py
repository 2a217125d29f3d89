"""A cap on the processes and threads of one submission: a cgroup of its own.

Small grading VMs have a `pid_max` of 32768, so a fork bomb can leave the grader unable
to start anything for the rest of the class. `RLIMIT_NPROC` does not help: it counts
every process of the grading user and does not apply to root at all. The pids
controller of a cgroup counts only the submission's tree, and `cgroup.procs` lists every
member, so processes that left the process group (`os.setsid`) are killed too.

Creating a cgroup needs root (or a delegated cgroup v2 tree). Elsewhere `PidsCgroup`
raises `CgroupUnavailable` with the reason, and an ordinary grading user falls back to
`RLIMIT_NPROC` set above the tasks that user already runs (`nproc_limit`).
"""

from __future__ import annotations

import itertools
import os
import signal
import time
from pathlib import Path

MOUNTINFO = Path("/proc/self/mountinfo")
PREFIX = "autograder-"  # cgroups are named autograder-<grader pid>-<n>
_names = itertools.count()


class CgroupUnavailable(OSError):
    """No pids controller this process may use; the message says why."""


def controller_root() -> Path:
    """Where the pids controller is mounted (cgroup v1 `pids`, or the v2 hierarchy)."""
    v2 = None
    for line in MOUNTINFO.read_text().splitlines():
        fields = line.split()
        mount_point, fstype, options = fields[4], fields[-3], fields[-1]
        if fstype == "cgroup" and "pids" in options.split(","):
            return Path(mount_point)
        if fstype == "cgroup2":
            v2 = Path(mount_point)
    if v2 is not None and "pids" in (v2 / "cgroup.controllers").read_text().split():
        return v2
    raise CgroupUnavailable("no cgroup hierarchy with the pids controller is mounted")


class PidsCgroup:
    """A cgroup that holds one submission's process tree, at most `limit` tasks at once."""

    def __init__(self, limit: int):
        try:
            root = controller_root()
            subtree = root / "cgroup.subtree_control"  # cgroup v2: children need pids enabled
            if subtree.exists() and "pids" not in subtree.read_text().split():
                subtree.write_text("+pids")
            _remove_stale(root)
            self.path = root / f"{PREFIX}{os.getpid()}-{next(_names)}"
            self.path.mkdir()
        except OSError as exc:
            raise CgroupUnavailable(f"cannot create a pids cgroup ({exc})") from None
        self.limit = limit
        try:
            _write(self.path / "pids.max", str(limit))
        except CgroupUnavailable:
            self.path.rmdir()
            raise

    def join(self) -> None:
        """Move the calling process into the cgroup (in the child, before exec)."""
        _write(self.path / "cgroup.procs", str(os.getpid()))

    def members(self) -> list[int]:
        return [int(pid) for pid in (self.path / "cgroup.procs").read_text().split()]

    def kill_all(self, attempts: int = 200) -> None:
        """SIGKILL every member until none is left; forks racing the kill are capped."""
        for _ in range(attempts):
            members = self.members()
            if not members:
                return
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            time.sleep(0.01)

    def remove(self) -> None:
        """Kill what is left and delete the cgroup (members must be reaped first)."""
        if not self.path.exists():
            return
        self.kill_all()
        for _ in range(100):
            try:
                self.path.rmdir()
                return
            except OSError:  # killed processes not reaped yet by their parents or init
                time.sleep(0.02)


def cgroup_unavailable_reason() -> str | None:
    """None where this process can create a pids cgroup; otherwise why not."""
    try:
        PidsCgroup(1).remove()
    except (CgroupUnavailable, OSError) as exc:
        return str(exc)
    return None


def describe(limit: int) -> str:
    """One line for the instructor: how this machine caps a submission's processes."""
    reason = cgroup_unavailable_reason()
    if reason is None:
        return f"a cgroup per submission, at most {limit} tasks"
    if os.getuid() != 0:
        return f"RLIMIT_NPROC, {limit} tasks above what the grading user runs ({reason})"
    return f"NOT AVAILABLE ({reason}): only the wall-clock limits stop a fork bomb"


def _remove_stale(root: Path) -> None:
    """Delete the empty cgroups of graders that were killed before they could."""
    for path in root.glob(f"{PREFIX}*"):
        owner = path.name.removeprefix(PREFIX).split("-")[0]
        if owner.isdigit() and not Path("/proc", owner).exists():
            try:
                path.rmdir()
            except OSError:  # still has members: leave it
                pass


def _write(path: Path, text: str) -> None:
    try:
        path.write_text(text)
    except OSError as exc:
        raise CgroupUnavailable(f"cannot write {path} ({exc.strerror})") from None


def nproc_limit(extra: int) -> int:
    """An RLIMIT_NPROC that lets the calling user start `extra` more tasks than it has now."""
    uid, tasks = os.getuid(), 0
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and entry.stat().st_uid == uid:
                tasks += len(os.listdir(entry / "task"))
        except OSError:  # the process ended while we looked
            continue
    return tasks + extra
