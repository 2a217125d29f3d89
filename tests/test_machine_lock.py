"""The machine-wide lock between graders: a timing waits for other graders' work, and keeps
new work out until it is done. Other processes play the graders; a shared log records the order."""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
import time

import pytest

from autograder import machine_lock

# A grader in another process: holds the lock (shared or exclusive) and logs when.
_GRADER = """
import sys, time
from autograder import machine_lock
name, mode, log, seconds = sys.argv[1], sys.argv[2], sys.argv[3], float(sys.argv[4])
def note(event):
    with open(log, "a") as handle:
        handle.write(f"{name} {event}\\n")
with getattr(machine_lock, mode)():
    note("in")
    time.sleep(seconds)
    note("out")
"""


@pytest.fixture
def lock(tmp_path, monkeypatch):
    """This test's own lock files (other processes find them through TMPDIR), and a fresh
    process-side state for them here."""
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(machine_lock, "LOCK_FILE", tmp_path / machine_lock.LOCK_FILE.name)
    monkeypatch.setattr(machine_lock, "GATE_FILE", tmp_path / machine_lock.GATE_FILE.name)
    return machine_lock._MachineLock()


def _start(name: str, mode: str, log, seconds: float = 0.0) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", _GRADER, name, mode, str(log), str(seconds)], env=os.environ)


def _events(log) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + 60
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.01)


def _a_timer_waits_at_the_gate() -> bool:
    with machine_lock.GATE_FILE.open("a") as gate:
        try:
            fcntl.flock(gate, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(gate, fcntl.LOCK_UN)
        return False


def test_timing_waits_for_other_graders_work_to_finish(lock, tmp_path):
    log = tmp_path / "log"
    other = _start("other", "shared", log, 1.0)
    _wait_for(lambda: "other in" in _events(log), "the other grader works")
    with lock.exclusive() as waited:
        assert _events(log) == ["other in", "other out"], "timed while another grader worked"
    assert waited > 0
    other.wait(timeout=60)


def test_work_waits_while_a_kernel_is_timed(lock, tmp_path):
    log = tmp_path / "log"
    timer = _start("timer", "exclusive", log, 1.0)
    _wait_for(lambda: "timer in" in _events(log), "the other grader times")
    with lock.shared():
        assert _events(log) == ["timer in", "timer out"], "worked while another grader timed"
    timer.wait(timeout=60)


def test_a_grader_that_times_inside_its_own_work_takes_its_hold_back(lock, tmp_path):
    log = tmp_path / "log"
    with lock.shared(), lock.shared():
        with lock.exclusive(), lock.shared():  # the timed calls run inside the timing
            pass
        timer = _start("timer", "exclusive", log)
        _wait_for(_a_timer_waits_at_the_gate, "the other timer waits")
        assert _events(log) == [], "the shared hold was not taken back after timing"
    timer.wait(timeout=60)
    assert _events(log) == ["timer in", "timer out"]


def test_a_waiting_timer_goes_before_new_work(lock, tmp_path):
    """The gate: work that starts while a timer waits runs after the timing."""
    log = tmp_path / "log"
    with lock.shared():
        timer = _start("timer", "exclusive", log, 0.2)
        _wait_for(_a_timer_waits_at_the_gate, "the timer waits")
        late = _start("late", "shared", log)
        time.sleep(0.5)
    timer.wait(timeout=60)
    late.wait(timeout=60)
    assert _events(log) == ["timer in", "timer out", "late in", "late out"]
