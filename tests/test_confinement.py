"""A submission's process reads only Python and system files, and cannot reach the grader."""

from __future__ import annotations

import errno
import os
import sys
import time
from pathlib import Path

import pytest

from autograder import confinement, submission_cgroup
from autograder.sandbox import Limits, StudentProcess
from course_cli import ROOT

pytestmark = pytest.mark.timing(reason=(
    "a submission beside a fork bomb must keep a quarter of the CPU for 2 s of wall time"))

HIDDEN_TESTS = ROOT / "solutions" / "profiler" / "profiler.md"


ABI = confinement.available_abi()
needs_landlock = pytest.mark.skipif(ABI == 0, reason=f"no confinement here: {confinement.describe()}")
needs_scopes = pytest.mark.skipif(ABI < 6, reason=f"signal scoping needs Landlock ABI 6, this kernel has {ABI}")


@pytest.fixture(scope="module")
def student():
    with StudentProcess(Limits(call_timeout=60)) as process:
        yield process


def error_of(process, source: str) -> str | None:
    """The error message a cell raised in the submission's process, or None."""
    [result] = process.run_cells([(0, source)]).results
    return result.error.message if result.error else None


@needs_landlock
def test_the_process_reports_what_confines_it(student):
    assert student.confinement.startswith(f"Landlock ABI {ABI}")


@needs_landlock
@pytest.mark.parametrize("source", [
    f"open({str(HIDDEN_TESTS)!r}).read()",
    "import os; open(f'/proc/{os.getppid()}/cwd/solutions/profiler/profiler.md').read()",
    f"import os; os.listdir({str(ROOT)!r})",
    f"open({str(ROOT / 'planted.py')!r}, 'w')",
], ids=["hidden tests by path", "through the grader's cwd", "list the course", "plant a file"])
def test_the_course_directory_is_closed(student, source):
    assert HIDDEN_TESTS.exists()
    assert "Permission denied" in error_of(student, source)
    assert not (ROOT / "planted.py").exists()


@needs_landlock
def test_tcp_connections_are_refused(student):
    assert error_of(student, "import socket; socket.create_connection(('127.0.0.1', 9), timeout=5)") \
        == "[Errno 13] Permission denied"


@needs_scopes
def test_the_grader_cannot_be_signalled(student):
    assert "Operation not permitted" in error_of(student, "import os, signal; os.kill(os.getppid(), signal.SIGKILL)")


@needs_landlock
def test_what_kernels_need_still_works(student):
    """Packages, scratch files, /dev/null, numba's threads and a forkserver pool."""
    source = """
import multiprocessing, tempfile
import numpy as np
from numba import njit, prange
import coursekit.machine
from sklearn.datasets import load_digits

@njit(parallel=True)
def total(a):
    s = 0.0
    for i in prange(a.size):
        s += a[i]
    return s

with tempfile.NamedTemporaryFile() as scratch, open('/dev/null', 'w') as null:
    scratch.write(b'ok')
with multiprocessing.get_context('forkserver').Pool(2) as pool:
    squares = pool.map(abs, [-1, -2])
result = (total(np.ones(1000)), load_digits().data.shape, squares)
"""
    assert error_of(student, source) is None
    assert student.get("result") == (1000.0, (1797, 64), [1, 2])


def test_a_course_inside_the_interpreter_is_refused_with_a_reason(tmp_path, monkeypatch):
    with pytest.raises(confinement.ConfinementUnavailable, match="lies inside"):
        confinement.rules_for(tmp_path, protected=[tmp_path, Path(sys.prefix) / "course"])
    monkeypatch.chdir(Path(sys.prefix) / "lib")  # grading from inside the interpreter
    assert "lies inside" in confinement.describe()


def test_unavailable_landlock_leaves_a_reason(monkeypatch):
    def no_landlock(*args):
        raise OSError(errno.ENOSYS, "Function not implemented")

    monkeypatch.setattr(confinement, "_syscall", no_landlock)
    assert confinement.describe().startswith("NOT AVAILABLE (the kernel has no Landlock")
    assert confinement.available_abi() == 0
    with pytest.raises(confinement.ConfinementUnavailable):
        confinement.apply({"read": [], "write": [], "devices": []})


NO_CGROUP = submission_cgroup.unavailable_reason()


@pytest.mark.skipif(NO_CGROUP is not None, reason=f"no pids cgroup here: {NO_CGROUP}")
def test_processes_are_capped_and_all_killed_even_outside_the_group():
    with StudentProcess(Limits(call_timeout=30, tasks=8)) as process:
        cgroup = process._cgroup
        source = """
import os, subprocess
started = []
try:
    for _ in range(20):
        started.append(subprocess.Popen(['sleep', '600'], start_new_session=True).pid)
except OSError as exc:
    refused = exc.errno
"""
        assert error_of(process, source) is None
        assert process.get("refused") == errno.EAGAIN
        assert 1 <= len(process.get("started")) < 8
        escaped = process.get("started")
    assert not cgroup.path.exists()
    assert not any(_running(pid) for pid in escaped)


NO_CPU_SHARE = NO_CGROUP or submission_cgroup.describe(1).partition("NO CPU share")[2] or None
_BOMB = """
import os
if os.fork() == 0:
    while True:
        try:
            if os.fork() == 0:
                os.setsid()
        except OSError:
            pass
"""
_SPIN = """
import time
cpu, wall = time.process_time(), time.perf_counter()
while time.perf_counter() - wall < 2:
    pass
share = (time.process_time() - cpu) / (time.perf_counter() - wall)
"""


@pytest.mark.skipif(NO_CPU_SHARE is not None, reason=f"no cpu cgroup here: {NO_CPU_SHARE}")
def test_a_fork_bomb_leaves_the_submission_beside_it_its_share_of_the_cpu():
    """Two Dask workers grade two submissions at once: without a cpu group per submission
    the bomb's spinning tasks took all but 1/300 of the CPU from its neighbour."""
    limit = 300
    with StudentProcess(Limits(call_timeout=30, tasks=limit)) as bomb, \
            StudentProcess(Limits(call_timeout=30)) as neighbour:
        assert error_of(bomb, _BOMB) is None
        for _ in range(500):
            if len(bomb._cgroup.members()) >= limit - 5:
                break
            time.sleep(0.01)
        assert len(bomb._cgroup.members()) >= limit - 5, "the bomb never reached its cap"
        assert error_of(neighbour, _SPIN) is None
        share = neighbour.get("share")
    assert share > 0.25, f"the neighbour ran {share:.1%} of the time beside the bomb"


def _running(pid: int) -> bool:
    """True while `pid` exists and is not a zombie waiting to be reaped by init."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"
    except FileNotFoundError:
        return False


def test_an_ordinary_users_limit_sits_above_what_it_already_runs():
    assert submission_cgroup.nproc_limit(10) >= len([p for p in os.listdir("/proc") if p.isdigit()]) + 10


@pytest.mark.skipif(NO_CGROUP is not None, reason=f"no pids cgroup here: {NO_CGROUP}")
def test_cgroups_left_by_a_killed_grader_are_removed():
    dead_pid = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # never a live process
    stale = submission_cgroup.controller_root("pids") / f"{submission_cgroup.PREFIX}{dead_pid}-0"
    stale.mkdir()
    submission_cgroup.SubmissionCgroup(4).remove()
    assert not stale.exists()


def test_describing_the_cap_creates_no_cgroup(monkeypatch):
    def refuse(*args, **kwargs):
        raise AssertionError("describe() created a directory")

    monkeypatch.setattr(Path, "mkdir", refuse)
    line, reason = submission_cgroup.describe(100), submission_cgroup.unavailable_reason()
    if reason is None:  # the line this machine's state calls for, whichever that is
        assert line.startswith("a cgroup per submission, at most 100 tasks "), line
    elif os.getuid() != 0:
        assert line == f"RLIMIT_NPROC, 100 tasks above what the grading user runs ({reason})"
    else:
        assert line.startswith(f"NOT AVAILABLE ({reason}): "), line


@pytest.mark.parametrize(("pids", "cpu", "uid", "expected"), [
    (True, True, 0, "a cgroup per submission, at most 100 tasks and an equal share of the CPU"),
    (True, False, 0, "a cgroup per submission, at most 100 tasks but NO CPU share (no cpu controller): "
                     "a fork bomb slows the submissions graded beside it"),
    (False, False, 1000, "RLIMIT_NPROC, 100 tasks above what the grading user runs "
                         "(cannot create a pids cgroup (no pids controller))"),
    (False, False, 0, "NOT AVAILABLE (cannot create a pids cgroup (no pids controller)): "
                      "only the wall-clock limits stop a fork bomb"),
], ids=["cgroup with cpu share", "cgroup without cpu share", "ordinary user", "root without cgroups"])
def test_the_cap_is_described_as_the_machine_enforces_it(monkeypatch, tmp_path, pids, cpu, uid, expected):
    available = {"pids": pids, "cpu": cpu}

    def controller_root(controller):
        if not available[controller]:
            raise submission_cgroup.CgroupUnavailable(f"no {controller} controller")
        return tmp_path

    monkeypatch.setattr(submission_cgroup, "controller_root", controller_root)
    monkeypatch.setattr(submission_cgroup.os, "getuid", lambda: uid)
    assert submission_cgroup.describe(100) == expected


def test_without_a_cgroup_the_grader_says_what_stops_a_fork_bomb(monkeypatch):
    def no_pids_controller(controller):
        raise submission_cgroup.CgroupUnavailable("no pids controller mounted")

    monkeypatch.setattr(submission_cgroup, "controller_root", no_pids_controller)
    assert submission_cgroup.unavailable_reason() == "cannot create a pids cgroup (no pids controller mounted)"
    expected = "NOT AVAILABLE" if os.getuid() == 0 else "RLIMIT_NPROC, 100 tasks above"
    assert submission_cgroup.describe(100).startswith(expected)
