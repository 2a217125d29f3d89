"""The student's process: values come back as plain data, failures as reasons."""

from __future__ import annotations

import pickle
import time

import numpy as np
import pytest

from autograder._worker import CappedOutput
from autograder.protocol import CellResult, decode_reply, encode_reply
from autograder.sandbox import Limits, Remote, StudentCrash, StudentError, StudentProcess, StudentTimeout
from autograder.session import GradingSession, active
from autograder.testing import remote, remote_call
from autograder.wire import ProtocolError, load_reply

pytestmark = pytest.mark.timing(reason=(
    "call limits of 1-10 s: an endless loop must be killed at its deadline, and ordinary calls must "
    "finish before theirs"))


@pytest.fixture
def student():
    with StudentProcess(Limits(call_timeout=10)) as process:
        yield process


def define(process, source: str) -> list[CellResult]:
    return process.run_cells([(0, source)]).results


def test_cells_report_output_errors_and_names(student):
    ran = student.run_cells([(0, "x = 2\nprint('hello')"), (1, "1 / 0"), (2, "%time y = x + 1")])
    assert ran.results[0] == CellResult(0, "hello\n", None, [])
    assert ran.results[1].error.name == "ZeroDivisionError" and ran.results[1].error.builtin_base == "ZeroDivisionError"
    assert ran.results[2].error is None, "IPython magics work in student cells"
    assert {"x", "y"} <= set(ran.names)


def test_plain_results_come_back_by_value_and_objects_as_proxies(student):
    define(student, "import numpy as np\nclass Box:\n    def __init__(self, n): self.data = np.arange(n)\n"
                    "    def total(self, scale=1): return {'sum': self.data.sum() * scale, 'n': len(self.data)}")
    box = student.get("Box")(4)
    assert isinstance(box, Remote)
    assert np.array_equal(box.data, np.arange(4))
    assert box.total(scale=2) == {"sum": 12, "n": 4}


def test_test_defined_functions_travel_by_value(student):
    define(student, "def apply(f, *args): return f(*args)")
    assert student.get("apply")(lambda a, b: a * b, 6, 7) == 42


def test_builtin_exceptions_keep_their_type_and_the_students_traceback(student):
    define(student, "def check(n):\n    if n < 1:\n        raise ValueError(f'n must be >= 1, got {n}')")
    with pytest.raises(ValueError, match="got 0") as info:
        student.get("check")(0)
    assert "in check" in info.value.__notes__[0]


def test_custom_exceptions_and_sys_exit_become_student_errors(student):
    define(student, "class Oops(Exception): pass\ndef fail(): raise Oops('bad')\n"
                    "def leave():\n    import sys; sys.exit(3)")
    with pytest.raises(StudentError, match="Oops: bad"):
        student.get("fail")()
    with pytest.raises(StudentError, match="sys.exit"):
        student.get("leave")()
    assert student.alive


def test_an_endless_loop_is_killed_at_the_deadline():
    with StudentProcess(Limits(call_timeout=1)) as process:
        define(process, "def spin():\n    while True: pass")
        started = time.monotonic()
        with pytest.raises(StudentTimeout):
            process.get("spin")()
        assert time.monotonic() - started < 5
        assert not process.alive


@pytest.mark.parametrize("body, reason", [
    ("import ctypes; ctypes.string_at(0)", "segmentation fault"),
    ("import os; os._exit(7)", "exit code 7"),
])
def test_a_crash_is_reported_with_its_cause(student, body, reason):
    define(student, f"def crash():\n    {body}")
    with pytest.raises(StudentCrash, match=reason):
        student.get("crash")()
    with pytest.raises(StudentCrash, match="no longer running"):
        student.get("crash")


def test_memory_is_limited():
    with StudentProcess(Limits(memory_bytes=2 * 2**30, call_timeout=30)) as process:
        define(process, "import numpy as np\ndef hog(): return np.ones(2**31).sum()")
        with pytest.raises((MemoryError, StudentCrash)):
            process.get("hog")()


def test_patching_time_or_numpy_in_the_submission_does_not_reach_the_grader(student):
    grader_modules = (time.perf_counter, np.allclose)
    define(student, "import time, numpy as np\ntime.perf_counter = lambda: 0.0\n"
                    "np.allclose = lambda *a, **k: True\ndef now(): return time.perf_counter()\n"
                    "def same(a, b): return np.allclose(a, b)")
    assert student.get("now")() == 0.0, "the patch is real inside the submission"
    assert student.get("same")(1.0, 2.0) is True, "and so is the forged comparison there"
    assert (time.perf_counter, np.allclose) == grader_modules, "the grader's own are untouched"


def test_replies_can_only_hold_plain_data():
    class Sneaky:
        def __reduce__(self):
            return (print, ("this ran in the grader",))

    with pytest.raises(ProtocolError, match="builtins.print"):
        load_reply(pickle.dumps(Sneaky()))


def test_remote_helpers_place_objects_in_the_submission(student):
    define(student, "def bump(counter): counter.n += 1")

    class Counter:
        n = 0

    with active(GradingSession(student=student)):
        counter = remote(Counter())
        student.get("bump")(counter)
        student.get("bump")(counter)
        assert counter.n == 2, "both calls saw the same object"
        view = remote_call(lambda: (lambda a: [a, a[:3]])(np.zeros(10)))
        assert isinstance(view, Remote)
    assert remote(5) == 5 and remote_call(len, [1, 2]) == 2, "outside grading they act locally"


def test_output_keeps_its_head_and_tail_and_says_how_much_was_dropped():
    output = CappedOutput(limit=40)
    for line in range(1000):
        print(line, file=output)
    text = output.getvalue()
    assert text.startswith("0\n1\n2\n") and text.endswith("998\n999\n")
    total = sum(len(f"{line}\n") for line in range(1000))
    kept = len(text.split("\n[...")[0]) + len(text.split("dropped ...]\n")[1])
    assert f"[... {total - kept} characters of output dropped ...]" in text


def test_a_flood_of_lines_is_captured_without_growing_per_line_costs(student):
    # 400 000 lines cost about 6 s through IPython's own capture and 0.6 s here; the
    # limit sits between them with room for a loaded machine.
    student.limits = Limits(call_timeout=4.0)
    [result] = define(student, "for i in range(400_000):\n    print(i)\n")
    assert result.stdout.endswith("399999\n") and "dropped" in result.stdout


def test_reply_records_cross_the_pipe_as_plain_tuples_and_come_back_equal():
    from autograder.protocol import CellsRan, ErrorReport, Handle, Value

    error = ErrorReport("builtins", "ValueError", "ValueError", "bad", "Traceback ...")
    for reply in (Value(np.arange(3).tolist()), Handle(7, "numpy.ndarray"), error,
                  CellsRan([CellResult(0, "out", None, [{"image/png": "iVBOR"}]), CellResult(1, "", error, [])],
                           ["f", "x"])):
        wire = encode_reply(reply)
        assert load_reply(pickle.dumps(wire)) == wire, "only plain data crosses"
        assert decode_reply(wire) == reply
    with pytest.raises(ValueError):
        decode_reply(("Exec", "import os"))


def test_the_process_does_not_inherit_allocator_or_thread_pool_tuning(monkeypatch):
    """A Dask worker's environment must not reach the timed processes: calibration ran without it."""
    import dask
    import distributed  # noqa: F401 - loads its defaults into dask.config

    dask_sets = dict(dask.config.get("distributed.nanny.pre-spawn-environ"))
    assert dask_sets, "Dask's nanny no longer tunes its workers: look again at what it sets"
    tuning = {**dask_sets, "MALLOC_ARENA_MAX": 2, "GLIBC_TUNABLES": "glibc.malloc.trim_threshold=0"}
    for name, value in tuning.items():
        monkeypatch.setenv(name, str(value))
    monkeypatch.setenv("KERNELS_KEPT", "yes")
    with StudentProcess(Limits(call_timeout=10)) as process:
        define(process, "import os\nseen = dict(os.environ)")
        seen = process.get("seen")
    assert seen["KERNELS_KEPT"] == "yes", "the rest of the environment is passed on"
    assert not tuning.keys() & seen.keys(), f"inherited: {sorted(tuning.keys() & seen.keys())}"
