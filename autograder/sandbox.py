"""A submission's code in a process of its own, reached from the grader through proxies.

The grader starts one `StudentProcess` per notebook, runs the student's cells there,
and puts a `Remote` proxy into the test namespace for every name the student defined.
Calling a proxy sends the arguments (pickled with cloudpickle, so test-defined
functions travel by value) and brings back plain data, or another proxy when the result
is not plain data. Comparisons and verdicts therefore happen in the grader, where
student code never runs. The process has limits on memory, CPU time and wall time per
call; when it crashes or stalls it is killed and the current check fails with a reason.
"""

from __future__ import annotations

import builtins
import io
import json
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import cloudpickle

from autograder import confinement
from autograder.defaults import CALL_TIMEOUT
from autograder.protocol import (
    Apply,
    Call,
    CellsRan,
    ErrorReport,
    Forget,
    GetAttr,
    GetValue,
    Handle,
    Put,
    ReportConfinement,
    RunCells,
    Value,
    decode_reply,
)
from autograder.submission_cgroup import CgroupUnavailable, SubmissionCgroup, nproc_limit
from autograder.wire import ProtocolError, WorkerGone, WorkerTimeout, load_reply, read_frame, write_frame

# Variables that tune the C allocator and library thread pools, which tools set in the
# processes they start: Dask's nanny sets MALLOC_TRIM_THRESHOLD_=65536 and the three
# *_NUM_THREADS=1 in every worker (`distributed.nanny.pre-spawn-environ`). Inherited by the
# submission and the baseline, the trim threshold alone made the reference ReLU 0.2x its
# scalar baseline instead of 3.5x. Neither a calibration nor a grading passes them on, so
# both time kernels under the same settings, serially or on any cluster.
TUNING_VARIABLES = ("GLIBC_TUNABLES", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")
TUNING_PREFIXES = ("MALLOC_",)
# How much of the worker's own stderr (faulthandler, numba fatal errors) a crash
# report quotes: enough for the last traceback, not a flood.
CRASH_TAIL_CHARS = 3000


@dataclass(frozen=True)
class Limits:
    """Resource limits for one student process."""

    # Address space, not resident memory: numba and LLVM reserve a few hundred MiB
    # of it before allocating anything, so the limit leaves room for that.
    memory_bytes: int = 4 * 2**30
    # CPU seconds for the whole process: a backstop behind the wall-clock limits.
    cpu_seconds: int = 900
    # Wall-clock seconds for one request (running the cells, or one call).
    call_timeout: float = CALL_TIMEOUT
    # Processes and threads at once (see `autograder.submission_cgroup`). numba's CUDA simulator
    # runs a block as one thread per CUDA thread, up to 1024; numba's CPU threads and a
    # pool of workers add a few per core. All that fits; a fork bomb does not.
    tasks: int = 1024 + 64 + 16 * (os.cpu_count() or 1)


class SandboxError(Exception):
    """The student's process failed in a way that ends the current check."""


class StudentTimeout(SandboxError):
    """The student's code did not answer in time; its process was killed."""


class StudentCrash(SandboxError):
    """The student's process died (segfault, os._exit, out of memory, corrupt reply)."""


class StudentError(Exception):
    """An exception whose type the submission defined (or that cannot be rebuilt here)."""


class _ArgPickler(cloudpickle.Pickler):
    """Pickles request arguments, sending proxies as references to the remote objects."""

    def __init__(self, file, process: StudentProcess):
        super().__init__(file, protocol=5)
        self._process = process

    def persistent_id(self, obj):
        if isinstance(obj, Remote):
            if process_of(obj) is not self._process:
                raise SandboxError("a proxy from an earlier student process was reused "
                                   "after that process was restarted")
            return ref_of(obj)
        return None


class Remote:
    """A proxy for an object that lives in the student's process."""

    __slots__ = ("_process", "_ref", "_label")

    def __init__(self, process: StudentProcess, ref: tuple, label: str):
        object.__setattr__(self, "_process", process)
        object.__setattr__(self, "_ref", ref)
        object.__setattr__(self, "_label", label)

    def __getattr__(self, name):
        return self._process.request(GetAttr(self._ref, name))

    def __setattr__(self, name, value):
        raise AttributeError("objects of the submission cannot be modified from a test")

    def __call__(self, *args, **kwargs):
        return self._process.call(self._ref, args, kwargs)

    def __repr__(self):
        return f"<submission's {self._label}>"


def ref_of(proxy: Remote) -> tuple:
    """How the student's process names the object behind `proxy`."""
    return object.__getattribute__(proxy, "_ref")


def process_of(proxy: Remote) -> StudentProcess:
    """The process that holds the object behind `proxy`."""
    return object.__getattribute__(proxy, "_process")


class _Suspended:
    """Stops a process group for the duration of a block, so it cannot steal CPU time."""

    def __init__(self, pgid: int):
        self.pgid = pgid

    def __enter__(self):
        os.killpg(self.pgid, signal.SIGSTOP)

    def __exit__(self, *exc_info):
        try:
            os.killpg(self.pgid, signal.SIGCONT)
        except ProcessLookupError:
            pass


def timed_environment() -> dict[str, str]:
    """The grader's environment without the allocator and thread-pool tuning variables."""
    return {name: value for name, value in os.environ.items()
            if name not in TUNING_VARIABLES and not name.startswith(TUNING_PREFIXES)}


def _set_limits(limits: Limits, cgroup: SubmissionCgroup | None, nproc: int | None) -> None:
    """Runs in the child before exec: the limits bind the worker and all it starts."""
    resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    if cgroup is not None:
        cgroup.join()
    elif nproc is not None:
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))


def _raise_remote_error(report: ErrorReport):
    """Re-raise a student's exception as its nearest builtin type, so tests can expect it."""
    kind = getattr(builtins, report.builtin_base, None)
    qualified = f"{report.module}.{report.name}"
    error: Exception
    if report.name == "SystemExit":
        error = StudentError(f"the submission called sys.exit({report.message})")
    elif isinstance(kind, type) and issubclass(kind, Exception) and kind is not Exception:
        error = kind(report.message if report.module == "builtins" else f"{qualified}: {report.message}")
    else:
        error = StudentError(f"{qualified}: {report.message}")
    if report.traceback:
        error.add_note("In the submission:\n" + report.traceback.rstrip())
    raise error


class StudentProcess:
    """One worker process running one submission's cells; a context manager."""

    def __init__(self, limits: Limits = Limits()):
        self.limits = limits
        self.deadline: float | None = None  # set by the caller to bound a whole check
        self.transcript: list[str] = []  # what the student's code printed during calls
        self._proc: subprocess.Popen | None = None
        self._workdir: Path | None = None
        self._cgroup: SubmissionCgroup | None = None
        # What the kernel enforces on the process: see `autograder.confinement`.
        self.confinement = "not started"

    # -- life cycle -------------------------------------------------------------

    def start(self) -> None:
        self._workdir = Path(tempfile.mkdtemp(prefix="student-"))
        request_read, self._request_fd = os.pipe()
        self._reply_fd, reply_write = os.pipe()
        # Everything the submission may write goes to its scratch directory.
        scratch = {name: str(self._workdir / folder) for name, folder in (
            ("IPYTHONDIR", "ipython"), ("MPLCONFIGDIR", "matplotlib"),
            ("NUMBA_CACHE_DIR", "numba"), ("XDG_CACHE_HOME", "cache"), ("TMPDIR", "tmp"))}
        os.mkdir(scratch["TMPDIR"])
        env = dict(timed_environment(), MPLBACKEND="Agg", PYTHONFAULTHANDLER="1", **scratch)
        try:
            rules = confinement.rules_for(self._workdir, confinement.protected_paths())
            env[confinement.ENV_VARIABLE] = json.dumps(rules)
        except confinement.ConfinementUnavailable as exc:
            self.confinement = f"unconfined: {exc.strerror}"
        self._log = open(self._workdir / "process.log", "w+b")
        nproc = None
        try:
            self._cgroup = SubmissionCgroup(self.limits.tasks)
        except CgroupUnavailable:
            # Root ignores RLIMIT_NPROC, so only an ordinary user gets this fallback.
            nproc = nproc_limit(self.limits.tasks) if os.getuid() != 0 else None
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "autograder._worker", str(request_read), str(reply_write)],
            pass_fds=(request_read, reply_write), cwd=self._workdir, env=env,
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=self._log,
            start_new_session=True, preexec_fn=lambda: _set_limits(self.limits, self._cgroup, nproc),
        )
        os.close(request_read)
        os.close(reply_write)
        if confinement.ENV_VARIABLE in env:
            self.confinement = self.request(ReportConfinement())

    @property
    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def _started(self) -> subprocess.Popen:
        """The worker's process, for the methods that only run between start() and close()."""
        assert self._proc is not None, "the submission's process was never started"
        return self._proc

    def close(self) -> None:
        if self._proc is not None:
            self._kill()
            for fd in (self._request_fd, self._reply_fd):
                try:
                    os.close(fd)
                except OSError:
                    pass
            self._log.close()
            self._proc = None
        if self._cgroup is not None:
            self._cgroup.remove()
            self._cgroup = None
        if self._workdir is not None:
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def __enter__(self) -> StudentProcess:
        self.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _kill(self) -> None:
        try:
            os.killpg(self._started.pid, signal.SIGKILL)  # the whole group: children too
        except (ProcessLookupError, PermissionError):
            pass
        if self._cgroup is not None:  # and those that left the group with setsid
            self._cgroup.kill_all()
        self._started.wait()

    # -- requests ---------------------------------------------------------------

    def run_cells(self, cells: list[tuple[int, str]]) -> CellsRan:
        """Run (index, source) cells in order; per-cell output and errors, and the names defined."""
        return self.request(RunCells(cells))

    def get(self, name: str):
        """The value of a student-defined name: plain data by value, anything else as a proxy."""
        return self.request(GetValue(("name", name)))

    def call(self, ref: tuple, args: tuple, kwargs: dict, keep: bool = False):
        return self.request(Call(ref, self._pickle_args((args, kwargs)), keep))

    def apply(self, function: Remote, inputs: Remote, keep_every_result: bool) -> Remote:
        """Call `function(*args)` for each args tuple in the list `inputs`, inside the process;
        a proxy for the list of kept results (every one, or only the last)."""
        return self.request(Apply(ref_of(function), ref_of(inputs), keep_every_result))

    def value_of(self, proxy: Remote):
        """The object behind `proxy` as plain data (a proxy again where it is not plain data)."""
        return self.request(GetValue(ref_of(proxy)))

    def forget(self, *proxies: Remote) -> None:
        """Let the process free the objects behind these proxies."""
        self.request(Forget(tuple(ref_of(proxy)[1] for proxy in proxies)))

    def suspended(self):
        """A context in which the process and its children cannot run (SIGSTOP/SIGCONT)."""
        return _Suspended(self._started.pid)

    def put(self, obj) -> Remote:
        """Send an object to the student's process and return a proxy for it there."""
        return self.request(Put(self._pickle_args(obj)))

    def request(self, message):
        if not self.alive:
            raise StudentCrash("the submission's process is no longer running" + self._exit_reason())
        timeout = self.limits.call_timeout
        deadline = time.monotonic() + timeout
        if self.deadline is not None:
            deadline = min(deadline, self.deadline)
        write_frame(self._request_fd, cloudpickle.dumps(message, protocol=5))
        try:
            message, printed = load_reply(read_frame(self._reply_fd, deadline))
            reply = decode_reply(message)
        except WorkerTimeout:
            self._kill()
            raise StudentTimeout(
                f"the submission did not finish within {timeout:.0f} s "
                f"(or the time left for this check); its process was stopped") from None
        except WorkerGone:
            self._started.wait()
            raise StudentCrash("the submission's process ended" + self._exit_reason()) from None
        except (ProtocolError, ValueError, TypeError) as exc:  # not a reply record either
            self._kill()
            raise StudentCrash(f"the submission's process sent an unreadable reply ({exc})") from None
        if printed:
            self.transcript.append(printed)
        if isinstance(reply, Handle):
            return Remote(self, ("handle", reply.handle), reply.label)
        if isinstance(reply, ErrorReport):
            _raise_remote_error(reply)
        if isinstance(reply, Value):
            return reply.value
        return reply  # CellsRan

    def _pickle_args(self, obj) -> bytes:
        buffer = io.BytesIO()
        _ArgPickler(buffer, self).dump(obj)
        return buffer.getvalue()

    def _exit_reason(self) -> str:
        code = self._proc.returncode if self._proc is not None else None
        if code is None:
            return ""
        if code < 0:
            name = signal.Signals(-code).name
            why = {"SIGSEGV": "a segmentation fault (an out-of-bounds access in compiled code?)",
                   "SIGKILL": "being killed (out of memory, or a time limit)",
                   "SIGXCPU": "using up its CPU-time limit",
                   "SIGABRT": "an abort (often a failed allocation)"}.get(name, name)
            reason = f" by {why}"
        else:
            reason = f" with exit code {code} (sys.exit or os._exit in the submission?)"
        return reason + self._log_tail()

    def _log_tail(self) -> str:
        try:
            self._log.seek(0)
            tail = self._log.read().decode(errors="replace")[-CRASH_TAIL_CHARS:].strip()
        except (OSError, ValueError):
            return ""
        return f"\nLast output of the process:\n{tail}" if tail else ""
