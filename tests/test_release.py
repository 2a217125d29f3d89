"""assignments/ is exactly what nbgrader generates from solutions/."""

from __future__ import annotations

import re

import nbformat

from autograder.config import CODE_STUB
from autograder.defaults import ASSIGNMENTS_DIR, SOLUTIONS_DIR
from autograder.release import assignment_names, sync_diff, write_release
from course_cli import run_cli


def test_committed_release_matches_a_fresh_generation():
    diff = sync_diff()
    assert diff == "", f"assignments/ is stale; run `make release`:\n{diff[:5000]}"


def test_every_assignment_is_released():
    assert assignment_names() == sorted(p.name for p in ASSIGNMENTS_DIR.iterdir() if p.is_dir())


def test_solution_cells_become_stubs_and_tests_stay_locked(tmp_path):
    write_release(tmp_path, assignments=["profiler"])
    nb = nbformat.read(tmp_path / "profiler" / "profiler.ipynb", as_version=4)
    meta = [c.metadata.get("nbgrader", {}) for c in nb.cells]
    solutions = [c for c, m in zip(nb.cells, meta, strict=True) if m.get("solution")]
    tests = [c for c, m in zip(nb.cells, meta, strict=True) if m.get("grade") and not m.get("solution")]
    assert solutions and all(all(line in c.source for line in CODE_STUB.splitlines()) for c in solutions)
    assert tests and all(c.metadata["nbgrader"]["locked"] for c in tests)
    assert all("BEGIN HIDDEN TESTS" not in c.source for c in nb.cells)
    assert "jupytext" not in nb.metadata, "a released notebook must not pair itself with a text file"


def test_check_sync_reports_a_stale_release(tmp_path):
    stale = tmp_path / "assignments"
    write_release(stale, assignments=["profiler"])
    notebook = stale / "profiler" / "profiler.ipynb"
    nb = nbformat.read(notebook, as_version=4)
    nb.cells[0].source += "\nAn edit made by hand."
    nbformat.write(nb, notebook)
    diff = sync_diff(assignments_dir=stale)
    assert "An edit made by hand." in diff and diff.startswith("---")


def test_check_sync_command_passes_on_the_repository():
    assert "matches" in run_cli("check-sync").stdout


def test_hidden_tests_import_the_grader_only_through_its_public_module():
    """autograder.testing is the hidden tests' whole interface: the modules behind it may change."""
    for source in sorted(SOLUTIONS_DIR.glob("*/*.md")):
        imported = set(re.findall(r"^\s*(?:from|import) (autograder[\w.]*)", source.read_text(), re.M))
        assert imported <= {"autograder.testing"}, f"{source.name} imports {sorted(imported)}"
