"""The messages between the grader and a student worker, one typed record each.

Requests travel grader -> worker pickled by cloudpickle (the worker trusts the grader).
Replies travel worker -> grader as plain tuples, `(kind, *fields)`, because the grader
decodes them with `wire.load_reply`, which rebuilds plain data only; `encode_reply` and
`decode_reply` turn the records into those tuples and back through one table, so no
field is ever read by position outside this module.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

# -- requests (grader -> worker) ---------------------------------------------------------

Ref = tuple  # ("name", str) for a name the submission defined, ("handle", int) for a kept object


@dataclass(frozen=True)
class RunCells:
    """Run (index, source) cells in order."""

    cells: list[tuple[int, str]]


@dataclass(frozen=True)
class GetValue:
    """The object behind `ref`: by value if plain data, else as a handle."""

    ref: Ref


@dataclass(frozen=True)
class GetAttr:
    ref: Ref
    name: str


@dataclass(frozen=True)
class Call:
    """Call the object behind `ref` with pickled (args, kwargs); `keep` returns a handle."""

    ref: Ref
    payload: bytes
    keep: bool


@dataclass(frozen=True)
class Apply:
    """Call `function(*args)` once for each args tuple of the list behind `inputs`: what is
    timed. The results stay in the worker (every one, or only the last) for the grader to
    check; the reply is a handle to their list."""

    function: Ref
    inputs: Ref
    keep_every_result: bool


@dataclass(frozen=True)
class Forget:
    """Drop the objects kept under these handles (inputs and results of timed calls)."""

    handles: tuple[int, ...]


@dataclass(frozen=True)
class Put:
    """Unpickle `payload` in the worker and keep it there."""

    payload: bytes


@dataclass(frozen=True)
class ReportConfinement:
    """What the kernel enforces on the worker."""


# -- replies (worker -> grader) ----------------------------------------------------------

@dataclass(frozen=True)
class Value:
    value: object


@dataclass(frozen=True)
class Handle:
    """An object kept in the worker, named by `handle`; `label` is its type for messages."""

    handle: int
    label: str


@dataclass(frozen=True)
class ErrorReport:
    """An exception raised in the worker, described without its type having to exist here."""

    module: str
    name: str
    builtin_base: str  # the nearest builtin class, so a test can expect ValueError etc.
    message: str
    traceback: str


@dataclass(frozen=True)
class CellResult:
    index: int
    stdout: str
    error: ErrorReport | None
    # What the cell displayed beyond text (figures, images, HTML): one {mime type: data} each,
    # binary data base64-encoded as notebooks store it.
    displays: list[dict[str, str]]


@dataclass(frozen=True)
class CellsRan:
    """Every cell's result, and the names the submission defined."""

    results: list[CellResult]
    names: list[str]


_REPLIES = {cls.__name__: cls for cls in (Value, Handle, ErrorReport, CellsRan)}


def _plain(record) -> tuple:
    return tuple(getattr(record, f.name) for f in fields(record))


def encode_reply(reply) -> tuple:
    """A reply record as the plain tuple that crosses the pipe."""
    if isinstance(reply, CellsRan):
        results = [(r.index, r.stdout, None if r.error is None else _plain(r.error), r.displays)
                   for r in reply.results]
        return ("CellsRan", results, list(reply.names))
    return (type(reply).__name__, *_plain(reply))


def decode_reply(message: tuple):
    """The record a plain tuple from the pipe stands for; ValueError if it stands for none."""
    if not isinstance(message, tuple) or not message or message[0] not in _REPLIES:
        raise ValueError(f"not a reply: {str(message)[:80]}")
    kind, *values = message
    if kind == "CellsRan":
        results, names = values
        return CellsRan([CellResult(index, stdout, None if error is None else ErrorReport(*error),
                                    [{str(mime): str(data) for mime, data in shown.items()} for shown in displays])
                         for index, stdout, error, displays in results], list(names))
    return _REPLIES[kind](*values)
