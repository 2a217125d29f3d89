"""Notebooks a real class produces, as data: hand-made cases and seeded random mutations.

Each hand-made case edits the reference solution's notebook the way students do (notes
that quote nbgrader's markers, copied or re-labelled test cells, old nbformat versions,
pasted images, huge outputs) and states its expected verdict: full marks, or refused
with words the problem column must contain. `mutated` draws random edits of cells and
metadata; for those only the invariants of a class hold (one row each, no score above
the maximum), which `test_untrusted_notebooks.py` checks.
"""

from __future__ import annotations

import base64
import copy
import json
import random
from collections.abc import Callable
from dataclasses import dataclass

import nbformat

MARKERS = ("### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS", "### BEGIN SOLUTION",
           "### END SOLUTION", "# YOUR CODE HERE")


@dataclass(frozen=True)
class Case:
    name: str
    edit: Callable  # notebook -> notebook, or bytes for the file itself
    refused: str = ""  # words of the problem when the entry is refused; "" = full marks


def _grade_id(cell) -> str | None:
    meta = cell.metadata.get("nbgrader")
    return meta.get("grade_id") if isinstance(meta, dict) else None


def _index(nb, grade_id: str) -> int:
    return next(i for i, c in enumerate(nb.cells) if _grade_id(c) == grade_id)


def _tests(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells)
            if isinstance(c.metadata.get("nbgrader"), dict) and c.metadata.nbgrader.get("grade")]


def _solutions(nb) -> list[int]:
    return [i for i, c in enumerate(nb.cells)
            if isinstance(c.metadata.get("nbgrader"), dict) and c.metadata.nbgrader.get("solution")]


def _edited(change):
    """A case edit that works on a copy."""
    def edit(nb):
        nb = copy.deepcopy(nb)
        change(nb)
        return nb
    return edit


def _note_quoting_markers(nb):
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(
        "My notes: the instructor's cells use\n\n### BEGIN HIDDEN TESTS\n\nand I never saw the end."))


def _solution_quoting_markers(nb):
    cell = nb.cells[_solutions(nb)[0]]
    cell.source += ('\n# ### BEGIN HIDDEN TESTS (a comment, not a test)\n'
                    '_NOTE = """\n### BEGIN SOLUTION\n### END HIDDEN TESTS\n"""\n')


def _copied_test_cell(nb):
    first = _tests(nb)[0]
    nb.cells.insert(first + 1, copy.deepcopy(nb.cells[first]))


def _relabelled_test_cell(nb):
    nb.cells[_tests(nb)[0]].metadata.nbgrader["grade_id"] = "my_own_test"


def _more_points_unlocked_and_emptied(nb):
    for index in _tests(nb):
        meta = nb.cells[index].metadata.nbgrader
        meta["points"], meta["locked"] = 1000, False
        nb.cells[index].source = "pass"


def _moved_test_cell(nb):
    nb.cells.insert(0, nb.cells.pop(_tests(nb)[-1]))


def _retyped_test_cell(nb):
    index = _tests(nb)[0]
    cell = nb.cells[index]
    nb.cells[index] = nbformat.v4.new_markdown_cell(cell.source, metadata=cell.metadata)


def _duplicate_and_missing_ids(nb):
    for cell in nb.cells[::2]:
        cell.pop("id", None)
    for cell in nb.cells[1::2]:
        cell["id"] = "same"


def _huge_outputs(nb):
    cell = nb.cells[_solutions(nb)[0]]
    cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 5_000_000)]


def _pasted_image(nb):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + bytes(3_000_000)).decode()
    nb.cells.insert(1, nbformat.v4.new_markdown_cell(
        "![plot](attachment:plot.png)", attachments={"plot.png": {"image/png": png}}))


def _junk_nbgrader_metadata(nb):
    nb.cells[_solutions(nb)[0]].metadata["nbgrader"] = "solution, please"
    nb.cells[_tests(nb)[0]].metadata["nbgrader"]["grade_id"] = ["not", "a", "string"]


def _notebook_metadata_replaced(nb):
    nb.metadata = {"kernelspec": {"name": "julia-1.9", "display_name": "Julia", "language": "julia"},
                   "nbgrader": {"grade": True}}


def _nbformat(minor: int):
    def edit(nb) -> bytes:
        data = json.loads(nbformat.writes(nb))
        data["nbformat_minor"] = minor
        for cell in data["cells"]:
            cell.pop("id", None)
        return json.dumps(data).encode()
    return edit


def _latin1(nb) -> bytes:
    return nbformat.writes(nb).replace("# ", "# caf\u00e9 ", 1).encode("latin-1", errors="replace")


def _oversized(nb) -> bytes:
    data = json.loads(nbformat.writes(nb))
    data["metadata"]["padding"] = "x" * 21 * 2**20
    return json.dumps(data).encode()


HANDMADE = [
    Case("note_quoting_markers", _edited(_note_quoting_markers)),
    Case("solution_quoting_markers", _edited(_solution_quoting_markers)),
    Case("copied_test_cell", _edited(_copied_test_cell)),
    Case("relabelled_test_cell", _edited(_relabelled_test_cell)),
    Case("more_points_unlocked_and_emptied", _edited(_more_points_unlocked_and_emptied)),
    Case("moved_test_cell", _edited(_moved_test_cell)),
    Case("retyped_test_cell", _edited(_retyped_test_cell)),
    Case("duplicate_and_missing_ids", _edited(_duplicate_and_missing_ids)),
    Case("huge_outputs", _edited(_huge_outputs)),
    Case("pasted_image", _edited(_pasted_image)),
    Case("junk_nbgrader_metadata", _edited(_junk_nbgrader_metadata)),
    Case("notebook_metadata_replaced", _edited(_notebook_metadata_replaced)),
    Case("nbformat_4_0", _nbformat(0)),
    Case("nbformat_4_4", _nbformat(4)),
    Case("not_utf8", _latin1, refused="not a valid Jupyter notebook"),
    Case("oversized", _oversized, refused="MiB"),
]


# -- random mutations ------------------------------------------------------------------

def _any_cell(nb, rng):
    return nb.cells[rng.randrange(len(nb.cells))] if nb.cells else None


def _m_duplicate(nb, rng):
    if nb.cells:
        index = rng.randrange(len(nb.cells))
        nb.cells.insert(rng.randrange(len(nb.cells) + 1), copy.deepcopy(nb.cells[index]))


def _m_delete(nb, rng):
    if nb.cells:
        nb.cells.pop(rng.randrange(len(nb.cells)))


def _m_move(nb, rng):
    if nb.cells:
        nb.cells.insert(rng.randrange(len(nb.cells)), nb.cells.pop(rng.randrange(len(nb.cells))))


def _m_metadata(nb, rng):
    cell = _any_cell(nb, rng)
    if cell is None:
        return
    meta = cell.metadata.setdefault("nbgrader", {})
    if not isinstance(meta, dict):
        return
    key = rng.choice(["grade_id", "points", "locked", "solution", "grade", "task", "checksum",
                      "schema_version", "cell_type"])
    meta[key] = rng.choice([True, False, None, -1, 0, 3.5, 10**9, "x", "test_profile_errors",
                            "performance_profiler", [], {}])


def _m_marker(nb, rng):
    cell = _any_cell(nb, rng)
    if cell is not None:
        lines = cell.source.split("\n")
        lines.insert(rng.randrange(len(lines) + 1), rng.choice(MARKERS))
        cell.source = "\n".join(lines)


def _m_retype(nb, rng):
    if nb.cells:
        index = rng.randrange(len(nb.cells))
        cell = nb.cells[index]
        make = nbformat.v4.new_markdown_cell if cell.cell_type == "code" else nbformat.v4.new_code_cell
        nb.cells[index] = make(cell.source, metadata=cell.metadata)


def _m_id(nb, rng):
    cell = _any_cell(nb, rng)
    if cell is not None:
        cell["id"] = rng.choice(["same", "x" * 64, "a-b_c", nb.cells[0].get("id", "first")])


def _m_source(nb, rng):
    cell = _any_cell(nb, rng)
    if cell is not None:
        cell.source = rng.choice(["", "pass", "raise SystemExit", "1/0", "def (", "import os",
                                  "print('é' * 1000)", cell.source * 2])


def _m_output(nb, rng):
    cell = _any_cell(nb, rng)
    if cell is not None and cell.cell_type == "code":
        cell.outputs = [nbformat.v4.new_output("stream", name="stdout", text="y" * rng.randrange(10**6))]


MUTATIONS = [_m_duplicate, _m_delete, _m_move, _m_metadata, _m_marker, _m_retype, _m_id,
             _m_source, _m_output]


def mutated(nb, seed: int):
    """`nb` with one to four random edits of cells and metadata, drawn from `seed`."""
    rng = random.Random(seed)
    nb = copy.deepcopy(nb)
    for _ in range(rng.randint(1, 4)):
        rng.choice(MUTATIONS)(nb, rng)
    return nb
