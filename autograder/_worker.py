"""The student side of the sandbox: runs a submission's cells, then answers calls.

Started by `autograder.sandbox.StudentProcess` as
``python -m autograder._worker REQUEST_FD REPLY_FD``. Everything the protocol needs is
bound to locals before the first student cell runs, so a submission that patches
modules (time, numpy, this package) cannot change how requests are read or answered.
Verdicts are never decided here: the grader compares the values this process returns.
"""

from __future__ import annotations

import collections
import contextlib
import io
import itertools
import os
import pickle
import sys
import traceback

from autograder.protocol import (
    Apply,
    Call,
    CellResult,
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
    encode_reply,
)

# Student output kept per request: the first and the last half of this many characters,
# with a note of how much was dropped between them (a failing loop's last lines matter).
MAX_CAPTURED_CHARS = 20_000
# ... and of this many lines, under nbgrader's LimitOutput (1000 lines), so the note of
# what was dropped survives into the feedback.
MAX_CAPTURED_LINES = 800
HARNESS_FILES = ("autograder/_worker.py", "IPython/core/")
# Rich outputs kept per cell (figures, images): enough for a write-up's plots, bounded so a
# loop that displays in every iteration cannot flood the reply.
MAX_DISPLAYS_PER_CELL = 8
MAX_DISPLAY_CHARS = 2_000_000
# What a notebook shows for a rich output, best first; text/plain is kept as the fallback.
RICH_MIME_TYPES = ("image/png", "image/jpeg", "image/svg+xml", "text/html", "text/markdown", "text/plain")


def _format_error(exc: BaseException) -> ErrorReport:
    """The exception described in plain data: its type need not exist in the grader."""
    kind = type(exc)
    builtin_base = next(k.__qualname__ for k in kind.__mro__ if k.__module__ == "builtins")
    try:
        message = str(exc)
    except Exception:  # a student exception whose __str__ fails
        message = "<exception message could not be printed>"
    frames = traceback.format_exception(kind, exc, exc.__traceback__)
    # Drop the harness's and IPython's frames: the student needs their own code.
    text = "".join(f for f in frames if not any(h in f for h in HARNESS_FILES))
    return ErrorReport(kind.__module__, kind.__qualname__, builtin_base, message, text)


class CappedOutput(io.TextIOBase):
    """sys.stdout for student code: keeps the head and the tail, counts the rest.

    Written to as it is produced, so memory stays bounded and a submission that prints
    millions of lines runs about as fast as it would printing to a pipe.
    """

    def __init__(self, limit: int = MAX_CAPTURED_CHARS, max_lines: int = MAX_CAPTURED_LINES):
        super().__init__()
        self._keep = limit // 2
        self._keep_lines = max_lines // 2
        self._head: list[str] = []
        self._head_chars = 0
        self._tail: collections.deque[str] = collections.deque()
        self._tail_chars = 0
        self._dropped = 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        written = len(text)
        if self._head_chars < self._keep:
            taken = text[:self._keep - self._head_chars]
            self._head.append(taken)
            self._head_chars += len(taken)
            text = text[len(taken):]
        if text:
            self._tail.append(text)
            self._tail_chars += len(text)
            while self._tail_chars - len(self._tail[0]) >= self._keep:
                oldest = self._tail.popleft()
                self._tail_chars -= len(oldest)
                self._dropped += len(oldest)
        return written

    def getvalue(self) -> str:
        head, tail = "".join(self._head), "".join(self._tail)
        excess = max(0, len(tail) - self._keep)
        dropped, tail = self._dropped + excess, tail[excess:]
        head_lines, tail_lines = head.splitlines(keepends=True), tail.splitlines(keepends=True)
        if len(head_lines) + len(tail_lines) > 2 * self._keep_lines:
            cut_head, cut_tail = head_lines[self._keep_lines:], tail_lines[:-self._keep_lines]
            dropped += sum(map(len, cut_head)) + sum(map(len, cut_tail))
            head = "".join(head_lines[:self._keep_lines])
            tail = "".join(tail_lines[-self._keep_lines:])
        if not dropped:
            return head + tail
        return f"{head}\n[... {dropped} characters of output dropped ...]\n{tail}"


class CapturedDisplays:
    """Rich outputs of the cell being run (what a notebook would show), as plain data."""

    def __init__(self):
        self.items: list[dict[str, str]] = []

    def publish(self, data: dict, metadata=None, **kwargs) -> None:
        import base64

        shown = {}
        for mime in RICH_MIME_TYPES:
            value = data.get(mime)
            text = base64.b64encode(value).decode() if isinstance(value, bytes) else value
            if isinstance(text, str) and len(text) <= MAX_DISPLAY_CHARS:
                shown[mime] = text
        if set(shown) <= {"text/plain"}:  # plain text stays in the cell's printed output
            if shown:
                print(shown["text/plain"])
        elif len(self.items) < MAX_DISPLAYS_PER_CELL:
            self.items.append(shown)
        else:
            print(f"[a display was left out: the grader keeps {MAX_DISPLAYS_PER_CELL} per cell]")

    def flush_figures(self) -> None:
        """Open matplotlib figures become PNG displays, as the inline backend shows them."""
        pyplot = sys.modules.get("matplotlib.pyplot")
        if pyplot is None:
            return
        for number in pyplot.get_fignums():
            buffer = io.BytesIO()
            pyplot.figure(number).savefig(buffer, format="png", bbox_inches="tight")
            self.publish({"image/png": buffer.getvalue(), "text/plain": f"<Figure {number}>"})
        pyplot.close("all")

    def take(self) -> list[dict[str, str]]:
        items, self.items = self.items, []
        return items


def _make_shell(displays: CapturedDisplays):
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.enabled = False  # no sqlite file, no background thread
    shell = InteractiveShell.instance(config=config, colors="NoColor")
    # Both replace methods on this one shell on purpose (mypy's method-assign), and _tee's
    # stand-in gives nullcontext where IPython's own is a generator-based context manager.
    shell.showtraceback = lambda *args, **kwargs: None  # type: ignore[method-assign]  # errors are reported structurally
    # IPython copies every write into its output history (kept even with history off):
    # ten times the cost of the print itself, and unbounded memory. The worker captures.
    shell._tee = lambda channel: contextlib.nullcontext()  # type: ignore[method-assign, assignment, return-value]
    # Displays and a cell's last value go to the captured outputs as a notebook would show them
    # (a figure as an image, not as the text "<IPython.core.display.Image object>").
    shell.display_pub.publish = displays.publish  # type: ignore[method-assign, assignment]
    shell.displayhook.write_format_data = (  # type: ignore[method-assign]
        lambda format_dict, md_dict=None: displays.publish(format_dict))
    shell.displayhook.write_output_prompt = lambda: None  # type: ignore[method-assign]  # no "Out[0]: " text
    return shell


def serve(request_fd: int, reply_fd: int, confinement: str) -> None:
    from autograder.wire import WorkerGone, is_plain, read_frame, write_frame

    dumps, loads = pickle.dumps, pickle.loads
    displays = CapturedDisplays()
    shell = _make_shell(displays)
    namespace = shell.user_ns
    handles: dict[int, object] = {}
    next_handle = itertools.count(1).__next__

    def resolve(ref):
        kind, key = ref
        if kind == "handle":
            return handles[key]
        if key not in namespace:
            raise NameError(f"name {key!r} is not defined by the submission")
        return namespace[key]

    class ArgUnpickler(pickle.Unpickler):  # made here, before any submission code runs
        def persistent_load(self, pid):
            return resolve(pid)

    def decode_args(payload: bytes):
        return ArgUnpickler(io.BytesIO(payload)).load()

    def as_reply(value, keep: bool):
        if not keep and is_plain(value):
            return Value(value)
        handle = next_handle()
        handles[handle] = value
        kind = type(value)
        return Handle(handle, f"{kind.__module__}.{kind.__qualname__}")

    def run_cells(request: RunCells) -> CellsRan:
        results = []
        for index, source in request.cells:
            buffer = CappedOutput()
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                outcome = shell.run_cell(source, store_history=False)
                try:
                    displays.flush_figures()
                except Exception as exc:  # a figure the student left half-built
                    print(f"[a figure could not be drawn: {type(exc).__name__}: {exc}]")
            error = outcome.error_before_exec or outcome.error_in_exec
            results.append(CellResult(index, buffer.getvalue(),
                                      _format_error(error) if error is not None else None, displays.take()))
        names = sorted(n for n in namespace
                       if not n.startswith("_") and n not in shell.user_ns_hidden)
        return CellsRan(results, names)

    def call(request: Call):
        args, kwargs = decode_args(request.payload)
        return as_reply(resolve(request.ref)(*args, **kwargs), keep=request.keep)

    def apply(request: Apply):
        # Timed by the grader around the whole request: nothing else happens here. The
        # grader checks the kept results against a clean process's on the same inputs.
        function, inputs = resolve(request.function), resolve(request.inputs)
        kept, result = [], None
        for args in inputs:
            result = function(*args)
            if request.keep_every_result:
                kept.append(result)
        return as_reply(kept if request.keep_every_result else [result], keep=True)

    def forget(request: Forget):
        for handle in request.handles:
            handles.pop(handle, None)
        return Value(None)

    handlers = {
        RunCells: run_cells,
        GetValue: lambda request: as_reply(resolve(request.ref), keep=False),
        GetAttr: lambda request: as_reply(getattr(resolve(request.ref), request.name), keep=False),
        Call: call,
        Apply: apply,
        Forget: forget,
        Put: lambda request: as_reply(decode_args(request.payload), keep=True),
        ReportConfinement: lambda request: Value(confinement),
    }

    while True:
        try:
            request = loads(read_frame(request_fd))
        except WorkerGone:
            return
        buffer = CappedOutput()
        try:
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                reply = handlers[type(request)](request)
        except BaseException as exc:  # noqa: BLE001 - SystemExit from student code included
            reply = _format_error(exc)
        try:
            payload = dumps((encode_reply(reply), buffer.getvalue()), protocol=5)
        except Exception as exc:
            payload = dumps((encode_reply(_format_error(exc)), buffer.getvalue()), protocol=5)
        write_frame(reply_fd, payload)


def confine() -> str:
    """Apply the grader's Landlock rules, before any thread or student code exists."""
    import json

    from autograder import confinement

    try:
        return confinement.apply(json.loads(os.environ.pop(confinement.ENV_VARIABLE)))
    except (KeyError, OSError, ValueError) as exc:
        return f"unconfined: {exc}"


if __name__ == "__main__":
    serve(int(sys.argv[1]), int(sys.argv[2]), confine())
