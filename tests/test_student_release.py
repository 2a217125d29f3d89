"""The student tree: complete for students, empty of instructor material, runnable on Binder."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

from autograder.defaults import ASSIGNMENTS_DIR
from autograder.student_release import INSTRUCTOR_PAGES, LeakError, build_tree, commit_to_branch
from course_cli import ROOT
from student_work import student_notebook
from xdist_sharing import one_worker_at_a_time


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("student") / "tree"
    build_tree(out)
    return out


def test_tree_has_what_students_need_and_no_instructor_pages(tree):
    for needed in ("README.md", "_config.yml", "_toc.yml", "binder/requirements.txt",
                   "coursekit/cachesim.py", "book/intro.md"):
        assert (tree / needed).is_file(), needed
    for name in ("solutions", "autograder", "tests", "grading"):
        assert not (tree / name).exists(), name
    for page in INSTRUCTOR_PAGES:
        assert not (tree / f"{page}.md").exists()
        assert page not in (tree / "_toc.yml").read_text()
    released = sorted(p.relative_to(ASSIGNMENTS_DIR) for p in ASSIGNMENTS_DIR.rglob("*.ipynb"))
    assert sorted(p.relative_to(tree / "assignments") for p in (tree / "assignments").rglob("*.ipynb")) == released


def test_a_tree_that_would_leak_is_refused(tmp_path, monkeypatch):
    from autograder import student_release

    monkeypatch.setattr(student_release, "secret_lines", lambda: {"Kernels: hardware-aware performance"})
    with pytest.raises(LeakError, match="would leak"):
        build_tree(tmp_path / "out")
    assert not (tmp_path / "out").exists(), "nothing half-written is left behind"


def test_tree_is_committed_to_a_branch_with_history(tree, tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    first = commit_to_branch(tree, "student", root=repo)
    second = commit_to_branch(tree, "student", root=repo)
    log = subprocess.run(["git", "-C", str(repo), "log", "--format=%H", "student"],
                         capture_output=True, text=True, check=True).stdout.split()
    assert log == [second, first]
    files = subprocess.run(["git", "-C", str(repo), "ls-tree", "-r", "--name-only", "student"],
                           capture_output=True, text=True, check=True).stdout.split()
    assert "assignments/profiler/profiler.ipynb" in files and "README.md" in files


@pytest.fixture(scope="module")
def binder_kernel(tree, tmp_path_factory):
    """A fresh virtual environment made from the student tree's binder/ alone, as a kernel;
    made once per test run, by the first pytest-xdist worker that needs it."""
    with one_worker_at_a_time("binder", tmp_path_factory) as shared:
        kernels, ready = shared / "binder-kernels", shared / "binder.ready"
        if not ready.exists():
            _make_binder_kernel(tree, shared / "binder-venv", kernels)
            ready.touch()
    os.environ["JUPYTER_PATH"] = str(kernels / "share" / "jupyter")
    return "binder"


def _make_binder_kernel(tree: Path, venv: Path, kernels: Path) -> None:
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    # --no-compile: what the kernels import is byte-compiled when first imported instead of
    # everything at install (21 s instead of 58 s here); what is installed is the same.
    install = subprocess.run([python, "-m", "pip", "install", "--quiet", "--no-compile", "-r",
                              "binder/requirements.txt", "ipykernel"], cwd=tree, capture_output=True, text=True)
    assert install.returncode == 0, install.stderr[-3000:]
    subprocess.run([python, "-m", "ipykernel", "install", "--prefix", str(kernels), "--name", "binder"],
                   check=True, capture_output=True)


def _run(nb, kernel_name: str, cwd: Path) -> list[tuple[str, str]]:
    """Execute every cell, keep going after errors; return (cell id, error name) pairs."""
    NotebookClient(nb, kernel_name=kernel_name, timeout=600, allow_errors=True,
                   resources={"metadata": {"path": str(cwd)}}).execute()
    return [(cell.id, output.ename) for cell in nb.cells if cell.cell_type == "code"
            for output in cell.get("outputs", []) if output.output_type == "error"]


ASSIGNMENT_NAMES = sorted(p.name for p in ASSIGNMENTS_DIR.iterdir() if p.is_dir())


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENT_NAMES)
def test_released_stub_fails_only_where_code_is_missing(binder_kernel, tree, assignment):
    """Setup runs; what fails is a stub, a test of a stub, or a cell that calls one."""
    folder = tree / "assignments" / assignment
    nb = nbformat.read(folder / f"{assignment}.ipynb", as_version=4)
    errors = dict(_run(nb, binder_kernel, folder))
    assert "NotImplementedError" in errors.values(), "the stubs must fail their visible tests"
    first_solution = next(i for i, c in enumerate(nb.cells) if c.metadata.get("nbgrader", {}).get("solution"))
    for index, cell in enumerate(nb.cells):
        if cell.id not in errors:
            continue
        meta = cell.metadata.get("nbgrader", {})
        assert index >= first_solution, f"setup cell {cell.id} fails on Binder: {errors[cell.id]}"
        assert meta.get("solution") or meta.get("grade") or errors[cell.id] == "NotImplementedError", \
            f"{cell.id} fails with {errors[cell.id]} although it neither is nor tests a stub"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENT_NAMES)
def test_reference_solution_passes_every_visible_test_on_binder(binder_kernel, tree, assignment):
    folder = tree / "assignments" / assignment
    assert _run(student_notebook(assignment, assignment), binder_kernel, folder) == []


CHAPTERS = sorted(p.stem for p in (ROOT / "book").glob("*.md") if f"book/{p.stem}" not in INSTRUCTOR_PAGES)


@pytest.mark.slow
@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_chapter_runs_in_the_student_tree_on_binder(binder_kernel, tree, chapter):
    """A student who opens a chapter on Binder has no `autograder` and no `solutions/`."""
    nb = jupytext.read(tree / "book" / f"{chapter}.md")
    expected = {cell.id for cell in nb.cells if "raises-exception" in cell.metadata.get("tags", [])}
    failures = [(cell_id, error) for cell_id, error in _run(nb, binder_kernel, tree / "book")
                if cell_id not in expected]
    assert failures == [], f"{chapter} fails in the student tree: {failures}"
