"""What a submission's process may open, reach and signal: Landlock rules for the worker.

The grader runs as the instructor, so a process it starts could read everything the
instructor can: the hidden tests in `solutions/` and `grading/source/`, the gradebook,
other students' submissions. Landlock (Linux 5.13 and later) lets any process, root or
not, give up rights for itself and its future children, irreversibly. The worker does
that before it runs a student cell, keeping:

- read access to the interpreter, the installed packages and the system directories;
- read and write access to its own scratch directory and to `/dev/shm` (semaphores);
- no TCP bind or connect (Landlock ABI 4 and later);
- no signals to, and no abstract-socket connections with, processes outside its own
  sandbox (ABI 6 and later), so a submission cannot kill or talk to the grader.

Direct syscalls through ctypes: the PyPI `landlock` package (1.0.0.dev5, alpha) covers
file rules only, not the network and scope rules above.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import importlib.util
import os
import site
import sys
import sysconfig
import tempfile
from collections.abc import Sequence
from pathlib import Path

from autograder.defaults import SOLUTIONS_DIR

# Syscall numbers: the same on every Linux architecture that has Landlock.
_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# File-system rights (LANDLOCK_ACCESS_FS_*), with the ABI version that introduced them.
_EXECUTE, _WRITE_FILE, _READ_FILE, _READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
_FS_RIGHTS_V1 = (1 << 13) - 1  # execute ... make_sym
_REFER, _TRUNCATE, _IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
_FILE_RIGHTS = _EXECUTE | _WRITE_FILE | _READ_FILE | _TRUNCATE | _IOCTL_DEV  # the rest are for directories
_READ_ONLY = _EXECUTE | _READ_FILE | _READ_DIR
_NET_BIND_TCP, _NET_CONNECT_TCP = 1 << 0, 1 << 1
_SCOPE_ABSTRACT_UNIX_SOCKET, _SCOPE_SIGNAL = 1 << 0, 1 << 1

# Directories every Python process needs to read (dynamic libraries, locale, /proc).
SYSTEM_READ = ("/usr", "/lib", "/lib32", "/lib64", "/bin", "/sbin", "/etc", "/proc", "/sys")
# Packages of this project that a submission imports (coursekit) or the worker loads
# lazily (autograder); with an editable install they live in the course repository,
# which is otherwise closed.
PROJECT_PACKAGES = ("autograder", "coursekit")
ENV_VARIABLE = "AUTOGRADER_CONFINEMENT"


class ConfinementUnavailable(OSError):
    """This kernel (or container) cannot confine the process; the reason says why."""


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # packed in the kernel's header
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(number: int, *args) -> int:
    result = _libc.syscall(number, *args)
    if result < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return result


def landlock_abi() -> int:
    """The kernel's Landlock ABI version; raises ConfinementUnavailable with the reason."""
    if not sys.platform.startswith("linux"):
        raise ConfinementUnavailable(errno.ENOSYS, f"Landlock needs Linux, not {sys.platform}")
    try:
        return _syscall(_CREATE_RULESET, None, ctypes.c_size_t(0), ctypes.c_uint32(_CREATE_RULESET_VERSION))
    except OSError as exc:
        why: dict[int | None, str] = {
            errno.ENOSYS: "the kernel has no Landlock (needs Linux 5.13+ built with "
                          "CONFIG_SECURITY_LANDLOCK, and no seccomp filter blocking it)",
            errno.EOPNOTSUPP: "Landlock is disabled at boot (add landlock to the lsm= list)"}
        raise ConfinementUnavailable(exc.errno, why.get(exc.errno, str(exc))) from None


def protected_paths() -> tuple[Path, ...]:
    """What a submission must never read: where the grader runs (the course) and solutions/."""
    return Path.cwd(), SOLUTIONS_DIR


def unavailable_reason() -> str | None:
    """None where submissions graded from here are confined; otherwise why they are not."""
    try:
        landlock_abi()
        rules_for(Path(tempfile.gettempdir()), protected_paths())
    except ConfinementUnavailable as exc:
        return exc.strerror
    return None


def available_abi() -> int:
    """The Landlock ABI that confines submissions graded from here, or 0 where none does."""
    return 0 if unavailable_reason() else landlock_abi()


def describe() -> str:
    """One line for the instructor: what grading from here enforces on a submission."""
    reason = unavailable_reason()
    if reason:
        return (f"NOT AVAILABLE ({reason}): submissions can read every file the "
                f"grading user can read, hidden tests included")
    return _enforced(landlock_abi())


def _enforced(abi: int) -> str:
    """What rules built by `apply` enforce under this Landlock ABI."""
    extras = [what for needed, what in ((4, "no TCP"), (6, "no signals to the grader"))
              if abi >= needed]
    return f"Landlock ABI {abi}: submissions read only Python and system files" + \
        "".join(f", {what}" for what in extras)


@functools.cache
def readable_paths() -> tuple[str, ...]:
    """What a submission's process may read: the interpreter, packages, system files."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, site.getusersitepackages(),
             *site.getsitepackages(), *sysconfig.get_paths().values(), *SYSTEM_READ}
    for name in PROJECT_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is not None and spec.submodule_search_locations:
            paths.update(spec.submodule_search_locations)
    return tuple(sorted(p for p in paths if p and os.path.exists(p)))


def rules_for(scratch: Path, protected: Sequence[Path]) -> dict:
    """The worker's rules: read as above, write only `scratch` and /dev; never `protected`.

    Refuses (ConfinementUnavailable) when a path Python needs contains a protected one,
    for example a course directory placed inside the interpreter's prefix.
    """
    read = readable_paths()
    for secret in (p.resolve() for p in protected):
        for path in read:
            if secret.is_relative_to(Path(path).resolve()):
                raise ConfinementUnavailable(
                    errno.EPERM, f"{secret} lies inside {path}, which the submission's "
                                 f"Python must read; move the course elsewhere")
    return {"read": list(read), "write": [str(scratch), "/dev/shm"], "devices": ["/dev"]}


def apply(rules: dict) -> str:
    """Confine the calling process and its future children; returns what was enforced.

    Landlock binds the calling thread only, so call this before any thread starts.
    """
    abi = landlock_abi()
    handled_fs = _FS_RIGHTS_V1 | (_REFER if abi >= 2 else 0) | (_TRUNCATE if abi >= 3 else 0) \
        | (_IOCTL_DEV if abi >= 5 else 0)
    attr = _RulesetAttr(handled_fs, _NET_BIND_TCP | _NET_CONNECT_TCP if abi >= 4 else 0,
                        _SCOPE_ABSTRACT_UNIX_SOCKET | _SCOPE_SIGNAL if abi >= 6 else 0)
    size = 8 if abi < 4 else 16 if abi < 6 else 24
    ruleset = _syscall(_CREATE_RULESET, ctypes.byref(attr), ctypes.c_size_t(size), ctypes.c_uint32(0))
    try:
        device_rights = _READ_ONLY | _WRITE_FILE | _TRUNCATE | _IOCTL_DEV
        for key, rights in (("read", _READ_ONLY), ("write", handled_fs), ("devices", device_rights)):
            for path in rules[key]:
                _allow(ruleset, path, rights & handled_fs)
        _libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        _syscall(_RESTRICT_SELF, ruleset, ctypes.c_uint32(0))
    finally:
        os.close(ruleset)
    return _enforced(abi)


def _allow(ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except FileNotFoundError:
        return
    try:
        if not os.path.isdir(path):
            rights &= _FILE_RIGHTS
        beneath = _PathBeneathAttr(rights, fd)
        _syscall(_ADD_RULE, ruleset, ctypes.c_int(_RULE_PATH_BENEATH), ctypes.byref(beneath), ctypes.c_uint32(0))
    finally:
        os.close(fd)
