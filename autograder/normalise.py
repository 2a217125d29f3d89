"""A submitted notebook made safe for nbgrader, matched cell by cell to the release.

nbgrader trusts a notebook's cell metadata: a copied test cell (same grade id twice), a
re-labelled one, changed points or locked flags, or a missing cell id each stop its
pipeline for the whole class. Here, before nbgrader sees a submission, every cell is
matched to the released notebook by grade id. The first cell of each released grade id
(of the released cell type) keeps its place: a solution cell keeps the student's source
under the released metadata, any other released cell is restored exactly. Everything
else is the student's own content: kept, with its nbgrader metadata removed, so it is
neither graded nor trusted. What the student wrote therefore still appears in the
feedback, and nothing they typed can change what is graded or how.
"""

from __future__ import annotations

import copy
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

# A submission larger than this is not homework (a notebook of this course with its
# outputs is well under 1 MiB); it is refused before it is parsed.
MAX_NOTEBOOK_BYTES = 20 * 2**20
# Markdown attachments (pasted images) above this many bytes in all are dropped: the
# feedback page embeds them, and graded cells never read them.
MAX_ATTACHMENT_BYTES = 2 * 2**20
# nbformat 4.5's rule for cell ids.
_CELL_ID = re.compile(r"^[a-zA-Z0-9-_]{1,64}$")
# Markdown's references to attachments: nbconvert stops on one that names nothing.
_ATTACHMENT_REFERENCE = re.compile(r"attachment:([^\s)\"'>\]]+)")
# A transparent 1x1 PNG that stands in for a dropped or missing attachment.
_PLACEHOLDER_PNG = ("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAQAAAC1HAwCAAAAC0lEQVR42mNkYAAAAAYAAjCB0C8AAAAASUVORK5CYII=")


@dataclass
class Normalised:
    """The notebook nbgrader may grade, and what was changed, in words for the student."""

    notebook: nbformat.NotebookNode
    notes: list[str] = field(default_factory=list)


def _grade_id(cell) -> str | None:
    meta = cell.get("metadata", {}).get("nbgrader")
    if isinstance(meta, dict) and isinstance(meta.get("grade_id"), str):
        return meta["grade_id"]
    return None


def _is_solution(cell) -> bool:
    return bool(cell.metadata.get("nbgrader", {}).get("solution"))


def _as_own_content(cell, notes: list[str]) -> None:
    """Keep the cell as the student's own, ungraded content."""
    grade_id = _grade_id(cell)
    if "nbgrader" in cell.metadata:
        del cell.metadata["nbgrader"]
        if grade_id:
            notes.append(f"a second or changed copy of cell {grade_id!r} was kept as your own "
                         f"(ungraded) content")


def _restore(cell, released, notes: list[str]) -> nbformat.NotebookNode:
    """The cell to grade in place of `cell`, whose grade id matches `released`."""
    if _is_solution(released):
        cell.metadata["nbgrader"] = copy.deepcopy(released.metadata["nbgrader"])
        return cell
    restored = copy.deepcopy(released)
    restored["id"] = cell.get("id", released.get("id"))
    if cell.source != released.source or cell.metadata.get("nbgrader") != released.metadata["nbgrader"]:
        notes.append(f"cell {_grade_id(released)!r} differs from the released one (edited, or from an "
                     f"earlier copy of the assignment) and was graded as released")
    return restored


def _tidy_ids(nb) -> None:
    """nbformat 4.5: every cell has an id, unique and well formed."""
    seen = set()
    for index, cell in enumerate(nb.cells):
        cell_id = cell.get("id")
        if not isinstance(cell_id, str) or not _CELL_ID.match(cell_id) or cell_id in seen:
            # Derived from the position, so the same submission always stages identically.
            cell_id, suffix = f"cell-{index}", 0
            while cell_id in seen:
                suffix += 1
                cell_id = f"cell-{index}-{suffix}"
            cell["id"] = cell_id
        seen.add(cell_id)
    nb.nbformat, nb.nbformat_minor = 4, max(nb.get("nbformat_minor", 0), 5)


def _drop_outputs(nb) -> None:
    """Outputs are produced again by grading; a submission's own are not evidence."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None


def _usable(bundle) -> bool:
    return isinstance(bundle, dict) and bool(bundle) and all(isinstance(v, str) for v in bundle.values())


def _tidy_attachments(nb, notes: list[str]) -> None:
    """Attachments within budget are kept; the rest, and any that markdown names but the
    cell lacks, become a placeholder, so the feedback page renders whatever was typed."""
    budget = MAX_ATTACHMENT_BYTES
    for cell in nb.cells:
        if cell.cell_type == "code":
            continue
        attachments = {}
        for name, bundle in (cell.get("attachments") or {}).items():
            size = len(json.dumps(bundle))
            if _usable(bundle) and size <= budget:
                budget -= size
                attachments[name] = bundle
            else:
                attachments[name] = {"image/png": _PLACEHOLDER_PNG}
                notes.append("attachments beyond 2 MiB in all were replaced by placeholders")
        for name in _ATTACHMENT_REFERENCE.findall(cell.source):
            for spelling in {name, urllib.parse.unquote(name)}:
                attachments.setdefault(spelling, {"image/png": _PLACEHOLDER_PNG})
        if attachments:
            cell["attachments"] = attachments
        else:
            cell.pop("attachments", None)


def _add_missing(cells: list, released, placed: set[str], notes: list[str]) -> list:
    """Released cells the submission lacks, put back after their released predecessor.

    nbgrader can add back a missing test cell only after a solution cell that is present,
    so a missing solution cell is added too, empty: the student's code, wherever it is,
    stays the code that runs.
    """
    cells = list(cells)
    position = 0
    for original in released.cells:
        grade_id = _grade_id(original)
        if grade_id is None:
            continue
        if grade_id in placed:
            position = next(i for i, c in enumerate(cells) if _grade_id(c) == grade_id) + 1
            continue
        missing = copy.deepcopy(original)
        if _is_solution(original):
            missing.source = ""
        cells.insert(position, missing)
        position += 1
        notes.append(f"cell {grade_id!r} was missing and was added back as released"
                     + (", empty" if _is_solution(original) else ""))
    return cells


def read_submission(path: Path) -> nbformat.NotebookNode:
    """A submitted notebook as version 4, as written: nbformat's own reader would repair
    duplicate cell ids with random ones, and the same file must always stage the same."""
    return nbformat.convert(nbformat.reader.reads(Path(path).read_text(encoding="utf-8")), 4)


def normalise(submitted: nbformat.NotebookNode, released: nbformat.NotebookNode) -> Normalised:
    """`submitted` matched to `released`: safe for nbgrader's autograde and feedback."""
    nb = copy.deepcopy(submitted)
    notes: list[str] = []
    released_cells = {_grade_id(c): c for c in released.cells if _grade_id(c)}
    placed: set[str] = set()
    cells = []
    for cell in nb.cells:
        grade_id = _grade_id(cell)
        match = released_cells.get(grade_id)
        if grade_id is not None and match is not None and grade_id not in placed and cell.cell_type == match.cell_type:
            placed.add(grade_id)
            cells.append(_restore(cell, match, notes))
        else:
            _as_own_content(cell, notes)
            cells.append(cell)
    nb.cells = _add_missing(cells, released, placed, notes)
    nb.metadata = copy.deepcopy(released.metadata)  # kernelspec and language as released
    _drop_outputs(nb)
    _tidy_attachments(nb, notes)
    _tidy_ids(nb)
    nbformat.validate(nb)
    return Normalised(nb, sorted(set(notes)))
