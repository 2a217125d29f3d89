"""A small course with an answer cell graded by a person, graded as `autograder grade` does.

Its test cell passes only where the student's cells run in a process of their own, as the
course's sandboxed pipeline runs them, so a grade shows which pipeline produced it.

The course's own assignments are slow to grade (speed checks, calibration); this one has one
function, one test cell and one written answer, so a class grades in seconds and the tests of
manual grading (regrades, the formgrader) can afford to grade it more than once.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

from autograder.grading import ClassGrader
from autograder.release import read_source
from student_work import SOLUTION_MARKERS

ASSIGNMENT = NOTEBOOK = "essay"
ANSWER_ID = "explanation"  # the answer cell's grade id
ANSWER_POINTS = 3
TEST_POINTS = 2
ANSWER_METADATA = {"grade": True, "grade_id": ANSWER_ID, "locked": False, "points": ANSWER_POINTS,
                   "schema_version": 3, "solution": True, "task": False}

SOURCE = f"""\
---
jupytext:
  text_representation:
    extension: .md
    format_name: myst
    format_version: 0.13
kernelspec:
  display_name: Python 3 (ipykernel)
  language: python
  name: python3
---

# Assignment: a sum and why it is fast

```{{code-cell}} ipython3
---
nbgrader:
  grade: false
  grade_id: total
  locked: false
  schema_version: 3
  solution: true
  task: false
---
import os

RAN_IN = os.getpid()  # the process that runs the student's cells


def total(values):
    ### BEGIN SOLUTION
    return sum(values)
    ### END SOLUTION
```

```{{code-cell}} ipython3
---
nbgrader:
  grade: true
  grade_id: test_total
  locked: true
  points: {TEST_POINTS}
  schema_version: 3
  solution: false
  task: false
---
# Test: total ({TEST_POINTS} points)
import os

assert total([1, 2, 3]) == 6
# Only in the course's sandboxed pipeline: nbgrader's default runs both in one kernel.
assert RAN_IN != os.getpid(), "the student's cells ran in the process that runs the tests"
```

+++ {json.dumps({"nbgrader": ANSWER_METADATA})}

### BEGIN SOLUTION
Notes for markers: any answer that names the loop.
### END SOLUTION
"""


def write_solutions(folder: Path) -> Path:
    """The assignment's instructor source under `folder` (a solutions directory)."""
    path = folder / ASSIGNMENT / f"{NOTEBOOK}.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(SOURCE)
    return folder


def submission(course: Path, answer: str | None, solutions: Path) -> nbformat.NotebookNode:
    """The released notebook with the solution typed in and `answer` written in the answer
    cell (None: the answer cell left as released)."""
    nb = nbformat.read(course / "release" / ASSIGNMENT / f"{NOTEBOOK}.ipynb", as_version=4)
    source = read_source(solutions / ASSIGNMENT / f"{NOTEBOOK}.md")
    code = {c.metadata["nbgrader"]["grade_id"]: c.source for c in source.cells
            if c.cell_type == "code" and c.metadata.get("nbgrader", {}).get("solution")}
    for cell in nb.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in code:
            cell.source = SOLUTION_MARKERS.sub("", code[grade_id])
        if grade_id == ANSWER_ID and answer is not None:
            cell.source = answer
    return nb


def grade(course: Path, solutions: Path, answers: dict[str, str | None], submissions: Path,
          force: bool = False):
    """Grade one submission per student (student -> answer text) into `course`."""
    grader = ClassGrader(course, ASSIGNMENT, solutions_dir=solutions)
    grader.prepare()
    for student, answer in answers.items():
        path = submissions / student / f"{NOTEBOOK}.ipynb"
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(submission(course, answer, solutions), path)
    return {r.student_id: r for r in grader.grade_all(submissions, force=force, progress=lambda line: None)}
