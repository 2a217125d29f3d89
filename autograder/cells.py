"""What a notebook cell is to the grader: a test, an instructor's cell, setup, plain Python.

nbgrader marks cells in their metadata; these predicates say which the grader runs where
(tests in the grader, everything else in the submission's process), and `python_source`
turns a cell's IPython syntax into the Python that the grader parses and runs.
"""

from __future__ import annotations

from nbgrader.utils import is_grade, is_locked, is_solution


def is_test_cell(cell) -> bool:
    """An autograded test: a locked grade cell that is not a solution."""
    return cell.cell_type == "code" and is_grade(cell) and not is_solution(cell)


def is_instructor_cell(cell) -> bool:
    """Read-only code written by the instructor (nbgrader restores its source)."""
    return cell.cell_type == "code" and is_locked(cell) and not is_solution(cell) and not is_grade(cell)


def grader_setup_cells(nb) -> list:
    """The instructor cells before the first solution: imports and data the tests use.

    They also run in the grader, so tests see the instructor's `np`, not whatever the
    submission rebinds. Later instructor cells (demos) run only in the student's process.
    """
    setup = []
    for cell in nb.cells:
        if is_solution(cell):
            break
        if is_instructor_cell(cell):
            setup.append(cell)
    return setup


def python_source(source: str) -> str:
    """A cell's source as plain Python: IPython magics become the calls they stand for."""
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)
