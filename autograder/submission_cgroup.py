"""A cgroup per submission: a cap on its processes and one fair share of the CPU.

Small grading VMs have a `pid_max` of 32768, so a fork bomb can leave the grader unable
to start anything for the rest of the class. `RLIMIT_NPROC` does not help: it counts
every process of the grading user and does not apply to root at all. The pids
controller of a cgroup counts only the submission's tree, and `cgroup.procs` lists every
member, so processes that left the process group (`os.setsid`) are killed too.

The CPU is shared per task, not per submission, unless each submission has a group of
its own in the cpu controller: a fork bomb's 1,120 spinning tasks then weigh as much as
one, and the submission graded beside it on another Dask worker keeps its core (a
500,000-line printer took 21 s beside the bomb without the group, 2.3 s with it). The
group limits nothing while the machine is otherwise idle, so speed checks are unchanged.

Creating a cgroup needs root (or a delegated cgroup v2 tree). Elsewhere
`SubmissionCgroup` raises `CgroupUnavailable` with the reason, and an ordinary grading
user falls back to `RLIMIT_NPROC` set above the tasks that user already runs
(`nproc_limit`). A machine with the pids controller but no usable cpu controller gets
the cap without the share, and `describe` says so.
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
    """No controller this process may use; the message says why."""


def controller_root(controller: str) -> Path:
    """Where `controller` ("pids" or "cpu") is mounted: its cgroup v1 tree or the v2 one."""
    v2 = None
    for line in MOUNTINFO.read_text().splitlines():
        fields = line.split()
        mount_point, fstype, options = fields[4], fields[-3], fields[-1]
        if fstype == "cgroup" and controller in options.split(","):
            return Path(mount_point)
        if fstype == "cgroup2":
            v2 = Path(mount_point)
    if v2 is not None and controller in (v2 / "cgroup.controllers").read_text().split():
        return v2
    raise CgroupUnavailable(f"no cgroup hierarchy with the {controller} controller is mounted")


def _group_under(root: Path, controller: str, name: str) -> Path:
    """Create `root/name`, enabling `controller` for children first where v2 needs it."""
    subtree = root / "cgroup.subtree_control"
    if subtree.exists() and controller not in subtree.read_text().split():
        subtree.write_text(f"+{controller}")
    _remove_stale(root)
    path = root / name
    path.mkdir(exist_ok=True)  # v2: the pids and cpu groups are one directory
    return path


class SubmissionCgroup:
    """The groups that hold one submission's process tree: at most `limit` tasks at once,
    and (where the cpu controller is usable) one share of the CPU."""

    def __init__(self, limit: int):
        name = f"{PREFIX}{os.getpid()}-{next(_names)}"
        try:
            self.path = _group_under(controller_root("pids"), "pids", name)
        except OSError as exc:
            raise CgroupUnavailable(f"cannot create a pids cgroup ({exc})") from None
        self.limit = limit
        try:
            _write(self.path / "pids.max", str(limit))
        except CgroupUnavailable:
            self.path.rmdir()
            raise
        # Why there is no CPU share, or None when there is one.
        self.cpu_path: Path | None = None
        self.no_cpu_share: str | None = None
        try:
            self.cpu_path = _group_under(controller_root("cpu"), "cpu", name)
        except OSError as exc:
            self.no_cpu_share = f"cannot create a cpu cgroup ({exc})"

    @property
    def paths(self) -> list[Path]:
        return list(dict.fromkeys(p for p in (self.path, self.cpu_path) if p is not None))

    def join(self) -> None:
        """Move the calling process into the groups (in the child, before exec)."""
        for path in self.paths:
            _write(path / "cgroup.procs", str(os.getpid()))

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
        """Kill what is left and delete the groups (members must be reaped first)."""
        if not self.path.exists():
            return
        self.kill_all()
        for path in reversed(self.paths):
            for _ in range(100):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:  # killed processes not reaped yet by their parents or init
                    time.sleep(0.02)


def unavailable_reason() -> str | None:
    """None where this process may create a pids cgroup; otherwise why not (no side effects)."""
    try:
        root = controller_root("pids")
    except (CgroupUnavailable, OSError) as exc:
        return f"cannot create a pids cgroup ({exc})"
    if not os.access(root, os.W_OK):
        return f"cannot create a pids cgroup ({root} is not writable by this user)"
    return None


def describe(limit: int) -> str:
    """One line for the instructor: how this machine caps and shares a submission's CPU use."""
    reason = unavailable_reason()
    if reason is None:
        try:
            cpu_root = controller_root("cpu")
            share = ("and an equal share of the CPU" if os.access(cpu_root, os.W_OK)
                     else f"but NO CPU share ({cpu_root} is not writable)")
        except (CgroupUnavailable, OSError) as exc:
            share = f"but NO CPU share ({exc}): a fork bomb slows the submissions graded beside it"
        return f"a cgroup per submission, at most {limit} tasks {share}"
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
