"""The instructor's reference solutions as importable modules.

Chapters show results measured with a reference kernel, never its source: a chapter
built from the instructor repository calls `load_reference("matmul")` in a cell and
plots what the kernel does. The project's own tests use it to check the references and
the performance claims. Copies of the course without `solutions/` cannot load it.
"""

from __future__ import annotations

import functools
import types

from autograder.cells import grader_setup_cells, is_test_cell
from autograder.defaults import SOLUTIONS_DIR
from autograder.release import read_source, source_notebooks


class ReferenceUnavailable(LookupError):
    """This copy of the course has no instructor solutions."""


@functools.cache
def load_reference(assignment: str) -> types.ModuleType:
    """A module holding the setup and solution cells of the assignment's notebooks."""
    if not SOLUTIONS_DIR.is_dir():
        raise ReferenceUnavailable("this copy of the course has no instructor solutions; "
                                   "the rendered site shows what this cell measured")
    module = types.ModuleType(f"reference_{assignment}")
    module.__dict__["__name__"] = "__main__"  # so that its functions pickle by value
    for path in source_notebooks(assignment):
        nb = read_source(path)
        setup = grader_setup_cells(nb)
        for cell in nb.cells:
            solution = cell.metadata.get("nbgrader", {}).get("solution", False)
            if cell.cell_type == "code" and (cell in setup or solution) and not is_test_cell(cell):
                exec(compile(cell.source, f"<{assignment} reference>", "exec"), module.__dict__)
    return module
