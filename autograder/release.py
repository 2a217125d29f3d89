"""From instructor sources to student notebooks.

Sources are jupytext MyST files in `solutions/<assignment>/`, readable in a diff. They
become nbgrader source notebooks in a course directory, nbgrader's generate_assignment
strips solutions and hidden tests, and the result is what `assignments/` must hold.
"""

from __future__ import annotations

import difflib
import shutil
import tempfile
from pathlib import Path

import jupytext
import nbformat
from nbgrader.apps import NbGraderAPI
from nbgrader.coursedir import CourseDirectory

from autograder.config import nbgrader_config
from autograder.defaults import ASSIGNMENTS_DIR, SOLUTIONS_DIR

KERNELSPEC = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}


class ReleaseError(Exception):
    """An assignment could not be generated."""


def assignment_names(solutions_dir: Path = SOLUTIONS_DIR) -> list[str]:
    return sorted(p.name for p in solutions_dir.iterdir() if p.is_dir() and any(p.glob("*.md")))


def source_notebooks(assignment: str, solutions_dir: Path = SOLUTIONS_DIR) -> list[Path]:
    folder = solutions_dir / assignment
    if not folder.is_dir():
        known = ", ".join(assignment_names(solutions_dir)) or "none"
        raise ReleaseError(f"no assignment {assignment!r} in {solutions_dir} (known: {known})")
    return sorted(folder.glob("*.md"))


def read_source(path: Path) -> nbformat.NotebookNode:
    """A jupytext source as an nbgrader notebook with stable cell ids and no jupytext pairing."""
    nb = jupytext.read(path)
    nb.metadata.pop("jupytext", None)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    for index, cell in enumerate(nb.cells):
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        cell.id = grade_id or f"cell-{index}"
    return nb


def stage_sources(course_dir: Path, assignment: str, solutions_dir: Path = SOLUTIONS_DIR) -> None:
    """Write the assignment's nbgrader source notebooks into `course_dir/source`."""
    target = course_dir / "source" / assignment
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    for path in source_notebooks(assignment, solutions_dir):
        nbformat.write(read_source(path), target / f"{path.stem}.ipynb")


def generate(course_dir: Path, assignment: str, solutions_dir: Path = SOLUTIONS_DIR) -> Path:
    """Run nbgrader's generate_assignment (filling the gradebook); return the release folder."""
    stage_sources(course_dir, assignment, solutions_dir)
    config = nbgrader_config(course_dir)
    api = NbGraderAPI(coursedir=CourseDirectory(config=config), config=config)
    result = api.generate_assignment(assignment, force=True, create=True)
    if not result["success"]:
        raise ReleaseError(f"nbgrader could not generate {assignment!r}:\n"
                           f"{result.get('log', '')}\n{result.get('error', '')}")
    return course_dir / "release" / assignment


def write_release(out_dir: Path = ASSIGNMENTS_DIR, solutions_dir: Path = SOLUTIONS_DIR,
                  assignments: list[str] | None = None) -> list[Path]:
    """Generate student notebooks into `out_dir/<assignment>/`; return the files written."""
    written = []
    with tempfile.TemporaryDirectory(prefix="release-") as tmp:
        for assignment in assignments or assignment_names(solutions_dir):
            released = generate(Path(tmp), assignment, solutions_dir)
            target = out_dir / assignment
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(released, target)
            written += sorted(p for p in target.rglob("*") if p.is_file())
    return written


def sync_diff(assignments_dir: Path = ASSIGNMENTS_DIR, solutions_dir: Path = SOLUTIONS_DIR) -> str:
    """A unified diff from the committed release to a fresh one; empty when in sync."""
    with tempfile.TemporaryDirectory(prefix="sync-") as tmp:
        fresh = Path(tmp) / "fresh"
        write_release(fresh, solutions_dir)
        committed = {p.relative_to(assignments_dir) for p in assignments_dir.rglob("*") if p.is_file()}
        expected = {p.relative_to(fresh) for p in fresh.rglob("*") if p.is_file()}
        chunks: list[str] = []
        for rel in sorted(committed | expected):
            old = (assignments_dir / rel).read_text().splitlines(keepends=True) if rel in committed else []
            new = (fresh / rel).read_text().splitlines(keepends=True) if rel in expected else []
            chunks += difflib.unified_diff(old, new, f"assignments/{rel} (committed)",
                                           f"assignments/{rel} (generated from solutions/)")
        return "".join(chunks)
