"""Make student submissions from the instructor sources, the way a student would."""

from __future__ import annotations

import re
from pathlib import Path

import nbformat

from autograder.release import ASSIGNMENTS_DIR, SOLUTIONS_DIR, read_source

SOLUTION_MARKERS = re.compile(r"^\s*### (BEGIN|END) SOLUTION\s*\n", re.MULTILINE)


def solution_cells(assignment: str, notebook: str) -> dict[str, str]:
    """grade_id -> instructor source of every solution cell, markers removed."""
    source = read_source(SOLUTIONS_DIR / assignment / f"{notebook}.md")
    return {c.metadata["nbgrader"]["grade_id"]: SOLUTION_MARKERS.sub("", c.source)
            for c in source.cells if c.metadata.get("nbgrader", {}).get("solution")}


def student_notebook(assignment: str, notebook: str, edits=None) -> nbformat.NotebookNode:
    """The released notebook with the reference solutions typed in, then `edits` applied.

    `edits` maps grade_id -> function(source) -> source, to plant a bug or a cheat.
    """
    nb = nbformat.read(ASSIGNMENTS_DIR / assignment / f"{notebook}.ipynb", as_version=4)
    solutions = solution_cells(assignment, notebook)
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in solutions:
            cell.source = solutions[grade_id]
        if edits and grade_id in edits:
            cell.source = edits[grade_id](cell.source)
    return nb


def write_submission(folder: Path, student: str, nb, notebook: str) -> Path:
    path = folder / student / f"{notebook}.ipynb"
    path.parent.mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, path)
    return path
