"""Make student submissions from the instructor sources, the way a student would."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import nbformat

from autograder.cli import GRADED_WITH_PROBLEMS, OK
from autograder.defaults import ASSIGNMENTS_DIR, SOLUTIONS_DIR
from autograder.release import read_source
from autograder.reports import export_csv
from course_cli import run_cli
from cpu_targets import environment

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


def planted(old: str, new: str):
    """An edit that plants a change, failing loudly once the solution no longer has `old`."""
    def edit(source: str) -> str:
        changed = source.replace(old, new)
        assert changed != source, f"the planted change no longer matches the solution's code: {old!r}"
        return changed
    return edit


def appended(code: str):
    """An edit that adds code after a cell's reference solution (redefining a function, say)."""
    return lambda source: source + code


def released_notebook(assignment: str) -> nbformat.NotebookNode:
    """The untouched student version, as a student who did nothing would submit it."""
    return nbformat.read(ASSIGNMENTS_DIR / assignment / f"{assignment}.ipynb", as_version=4)


def calibrate(assignment: str, course: Path, check: bool = True, *, env: dict | None = None):
    """`autograder calibrate` with one run of the reference, as the tests can afford."""
    return run_cli("calibrate", assignment, "--course-dir", course, "--runs", "1", check=check, env=env)


def calibrated_course(assignment: str, target: str, tmp_path_factory, checks) -> Path:
    """A course directory calibrated for `assignment` with numba compiling for `target`;
    fails unless calibration recorded every speed check in `checks`."""
    course = tmp_path_factory.mktemp(f"course-{target}")
    output = calibrate(assignment, course, env=environment(target)).stdout
    missing = [check for check in checks if f"{check}: reference" not in output]
    assert not missing, f"calibration recorded no {missing}:\n{output}"
    return course


def grade_class(assignment: str, notebooks: dict, folder: Path, course: Path, *options: str,
                env: dict | None = None):
    """Grade `notebooks` (student -> notebook) and whatever `folder` already holds as one
    class through the CLI (with `env`, if given); return the grading output and the
    exported rows by student. Grading may not stop, whatever the class holds."""
    for student, nb in notebooks.items():
        write_submission(folder, student, nb, assignment)
    graded = run_cli("grade", assignment, folder, "--course-dir", course, *options, check=False, env=env)
    assert graded.returncode in (OK, GRADED_WITH_PROBLEMS), f"grading stopped:\n{graded.stdout}\n{graded.stderr}"
    grades = course / "grades.csv"
    export_csv(course, assignment, grades)  # in this process: `autograder export` is tested on its own
    with grades.open() as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle)}
    # The exit status says that some entries have problems, and only then.
    with_problems = any(row["problem"] for row in rows.values())
    assert graded.returncode == (GRADED_WITH_PROBLEMS if with_problems else OK), graded.stdout
    return graded.stdout, rows
