"""A submission matched to the release: every released cell once, the student's code kept."""

from __future__ import annotations

import json
import subprocess
import sys

import nbformat
import pytest

from autograder.normalise import normalise, read_submission
from notebook_mutations import HANDMADE, mutated
from student_work import released_notebook, student_notebook

ASSIGNMENT = NOTEBOOK = "profiler"
RELEASED = released_notebook(ASSIGNMENT)
REFERENCE = student_notebook(ASSIGNMENT, NOTEBOOK)


def _graded_cells(nb) -> dict[str, nbformat.NotebookNode]:
    cells = {}
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader")
        if meta is not None:
            assert meta["grade_id"] not in cells, f"{meta['grade_id']} appears twice"
            cells[meta["grade_id"]] = cell
    return cells


def _check(nb) -> None:
    """What nbgrader needs: a valid 4.5 notebook, each released cell once, tests as released."""
    nbformat.validate(nb)
    released = _graded_cells(RELEASED)
    graded = _graded_cells(nb)
    assert set(graded) == set(released)
    for grade_id, cell in graded.items():
        assert cell.metadata.nbgrader == released[grade_id].metadata.nbgrader
        assert cell.cell_type == released[grade_id].cell_type
        if not cell.metadata.nbgrader.get("solution"):
            assert cell.source == released[grade_id].source
    assert len({c.id for c in nb.cells}) == len(nb.cells)


def _as_notebook(content, tmp_path) -> nbformat.NotebookNode:
    path = tmp_path / "submitted.ipynb"
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())
    return read_submission(path)


def test_the_reference_is_unchanged_but_for_outputs():
    result = normalise(REFERENCE, RELEASED)
    assert result.notes == []
    assert [c.source for c in result.notebook.cells] == [c.source for c in REFERENCE.cells]
    _check(result.notebook)


@pytest.mark.parametrize("case", [c for c in HANDMADE if not c.refused], ids=lambda c: c.name)
def test_hand_made_cases_become_gradable_and_keep_the_students_code(case, tmp_path):
    submitted = _as_notebook(case.edit(REFERENCE), tmp_path)
    result = normalise(submitted, RELEASED)
    _check(result.notebook)
    solutions = _graded_cells(REFERENCE)
    written = "\n".join(c.source for c in result.notebook.cells)
    for grade_id, cell in solutions.items():
        if cell.metadata.nbgrader.get("solution"):
            assert cell.source in written, f"{grade_id}: the student's code was lost"
    assert normalise(result.notebook, RELEASED).notebook == result.notebook, "not idempotent"


def test_a_copied_test_cell_is_kept_as_the_students_own_and_said_so(tmp_path):
    copied = next(c for c in HANDMADE if c.name == "copied_test_cell")
    submitted = _as_notebook(copied.edit(REFERENCE), tmp_path)
    result = normalise(submitted, RELEASED)
    assert len(result.notebook.cells) == len(REFERENCE.cells) + 1
    assert any("kept as your own" in note for note in result.notes)


def test_a_missing_solution_cell_comes_back_empty_before_its_tests():
    submitted = nbformat.from_dict(json.loads(json.dumps(REFERENCE)))
    submitted.cells = [c for c in submitted.cells
                       if c.metadata.get("nbgrader", {}).get("grade_id") != "measure_memory_usage"]
    cells = normalise(submitted, RELEASED).notebook.cells
    ids = [c.metadata.get("nbgrader", {}).get("grade_id") for c in cells]
    restored = ids.index("measure_memory_usage")
    assert cells[restored].source == ""
    assert ids.index("imports") < restored < ids.index("test_measure_memory_usage")


@pytest.mark.parametrize("seed", range(200))
def test_random_mutations_become_gradable(seed, tmp_path):
    submitted = _as_notebook(mutated(REFERENCE, seed), tmp_path)
    first = normalise(submitted, RELEASED).notebook
    _check(first)
    assert normalise(submitted, RELEASED).notebook == first, "the same file must stage the same"


def test_the_grader_still_validates_notebooks_without_the_slow_iri_checker():
    """autograder keeps jsonschema from building its IRI parsers (2 s a process); nbformat
    still refuses a notebook that breaks its schema."""
    script = ("import sys, autograder, nbformat\n"
              "nb = nbformat.v4.new_notebook(); nb.cells.append(nbformat.v4.new_code_cell('1'))\n"
              "nbformat.validate(nb); del nb.cells[0]['outputs']\n"
              "try:\n    nbformat.validate(nb)\nexcept nbformat.ValidationError:\n    print('refused')\n"
              "print(sys.modules['rfc3987_syntax'])\n")
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["refused", "None"]
