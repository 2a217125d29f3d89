"""A corpus of hostile and broken profiler submissions, each with its expected verdict.

Each entry replaces the source of some solution cells of the reference solution (so
everything else in the notebook is correct) and says which tests must then score zero,
which must keep full marks, and what the feedback must say. `test_corpus.py` grades the
whole corpus as one class, which also shows that one bad submission never harms another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ALL_TESTS = ("test_measure_memory_usage", "test_profile_operation", "test_profile_errors",
             "test_compare_operations")
MEMORY = "measure_memory_usage"  # grade_id of the first solution cell
PROFILER = "performance_profiler"


@dataclass(frozen=True)
class Attack:
    name: str
    edits: dict[str, str]  # grade_id -> replacement source, or the marker KEEP_AND_APPEND + code
    zero: tuple[str, ...]  # tests that must score 0
    reason: str  # words the feedback must contain
    full: tuple[str, ...] = field(default=())  # tests that must keep full marks
    # What stops the attack where nothing else would: the Landlock ABI it needs
    # (`autograder.confinement`), a pids cgroup (`autograder.submission_cgroup`). On machines
    # without them the attack is left out of the class and its test skipped.
    landlock_abi: int = 0
    needs_cgroup: bool = False

    @property
    def kept(self) -> tuple[str, ...]:
        return self.full or tuple(t for t in ALL_TESTS if t not in self.zero)


# Source appended after the reference code of a cell.
APPEND = "\n# --- appended by the attack ---\n"

CORPUS = [
    Attack("hangs_while_its_cells_run", {MEMORY: APPEND + "while True:\n    pass\n"},
           zero=ALL_TESTS, reason="did not finish"),
    Attack("hangs_inside_one_function",
           {MEMORY: APPEND + "def measure_memory_usage(obj):\n    while True:\n        pass\n"},
           zero=("test_measure_memory_usage",), reason="did not finish"),
    Attack("segfaults_in_compiled_code",
           {MEMORY: APPEND + "import ctypes\ndef measure_memory_usage(obj):\n    return ctypes.string_at(0)\n"},
           zero=("test_measure_memory_usage",), reason="segmentation fault"),
    Attack("exits_while_its_cells_run", {MEMORY: APPEND + "import os\nos._exit(0)\n"},
           zero=ALL_TESTS, reason="process ended"),
    Attack("calls_sys_exit_in_a_function",
           {MEMORY: APPEND + "import sys\ndef measure_memory_usage(obj):\n    sys.exit(0)\n"},
           zero=("test_measure_memory_usage",), reason="sys.exit"),
    Attack("allocates_without_bound",
           {MEMORY: APPEND + "import numpy as np\ndef measure_memory_usage(obj):\n"
                             "    hoard = []\n    while True:\n        hoard.append(np.empty(2**27))\n"},
           zero=("test_measure_memory_usage",), reason="MemoryError"),
    Attack("starts_hundreds_of_processes",
           {MEMORY: APPEND + "import subprocess\ndef measure_memory_usage(obj):\n"
                             "    for _ in range(200):\n        try:\n"
                             "            subprocess.Popen(['sleep', '600'])\n"
                             "        except OSError:  # the process cap\n            break\n"
                             "    return -1\n"},
           zero=("test_measure_memory_usage",), reason="AssertionError"),
    # The timer is patched after the class has bound the real one as its default, so the
    # submission's own profiler still works: only the grader could be fooled, and is not.
    Attack("patches_time_numpy_and_pytest",
           {MEMORY: APPEND + "import numpy, pytest, builtins\n"
                             "numpy.allclose = numpy.isclose = lambda *a, **k: True\n"
                             "pytest.raises = None\nbuiltins.AssertionError = Exception\n"
                             "def measure_memory_usage(obj):\n    return -1\n",
            PROFILER: APPEND + "import time\ntime.perf_counter = lambda: 0.0\n"},
           zero=("test_measure_memory_usage",), reason="AssertionError"),
    Attack("returns_an_object_equal_to_anything",
           {MEMORY: APPEND + "class Anything:\n    def __eq__(self, other):\n        return True\n"
                             "def measure_memory_usage(obj):\n    return Anything()\n"},
           zero=("test_measure_memory_usage",), reason="AssertionError"),
    Attack("prints_without_end",
           {MEMORY: APPEND + "print('x' * 50_000_000)\n"}, zero=(), reason="output dropped",
           full=ALL_TESTS),
    # Half a million short lines: within the 5 s call limit only if output is carried at
    # pipe speed (IPython's own capture took 16 us a line, 8 s here).
    Attack("floods_short_lines",
           {MEMORY: APPEND + "for line in range(500_000):\n    print(line)\n"}, zero=(),
           reason="output dropped", full=ALL_TESTS),
    # The grader's working directory is the course: /proc leads there without knowing it.
    Attack("reads_the_hidden_tests",
           {MEMORY: APPEND + "import os\ndef measure_memory_usage(obj):\n"
                             "    path = f'/proc/{os.getppid()}/cwd/solutions/profiler/profiler.md'\n"
                             "    return len(open(path).read())\n"},
           zero=("test_measure_memory_usage",), reason="Permission denied", landlock_abi=1),
    Attack("kills_the_grader",
           {MEMORY: APPEND + "import os, signal\ndef measure_memory_usage(obj):\n"
                             "    os.kill(os.getppid(), signal.SIGKILL)\n"},
           zero=("test_measure_memory_usage",), reason="Operation not permitted", landlock_abi=6),
    # Every child leaves the process group, so only the cgroup finds them all.
    Attack("fork_bomb",
           {MEMORY: APPEND + "import os\ndef measure_memory_usage(obj):\n    while True:\n"
                             "        try:\n            if os.fork() == 0:\n                os.setsid()\n"
                             "        except OSError:\n            pass\n"},
           zero=("test_measure_memory_usage",), reason="did not finish", needs_cgroup=True),
    # pytest.raises that sees no error raises an outcome that is not an Exception.
    Attack("refuses_no_bad_input",
           {PROFILER: APPEND + "_checked = PerformanceProfiler.profile_operation\n"
                               "def _lenient(self, operation, *args, num_runs=100, **kwargs):\n"
                               "    try:\n"
                               "        return _checked(self, operation, *args, num_runs=num_runs, **kwargs)\n"
                               "    except (ValueError, TypeError):\n"
                               "        return None\n"
                               "PerformanceProfiler.profile_operation = _lenient\n"},
           zero=("test_profile_errors",), reason="DID NOT RAISE"),
    Attack("a_syntax_error", {PROFILER: "class PerformanceProfiler(:\n    pass\n"},
           zero=("test_profile_operation", "test_profile_errors", "test_compare_operations"),
           reason="SyntaxError"),
]
