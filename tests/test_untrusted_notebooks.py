"""Whatever a student's notebook holds, the class is graded: one row each, with a reason.

Hand-made cases (`notebook_mutations.HANDMADE`) have exact verdicts; seeded random
mutations of the reference notebook must keep the invariants of a class. They are all
graded as one class beside the reference. KERNELS_FUZZ_NOTEBOOKS sets how many random
notebooks (`make test-fuzz` grades a few hundred).
"""

from __future__ import annotations

import json
import os

import pytest

from autograder.grading import ERROR_LOG
from notebook_mutations import HANDMADE, mutated
from student_work import grade_class, student_notebook

pytestmark = pytest.mark.slow
ASSIGNMENT = NOTEBOOK = "profiler"
# Enough random notebooks to exercise every mutation a few times in a minute of grading.
FUZZ_NOTEBOOKS = int(os.environ.get("KERNELS_FUZZ_NOTEBOOKS", "16"))
# Short limits keep the class quick: a mutation can make a cell loop or call sys.exit.
CALL_TIMEOUT = "10"


def _write(folder, student: str, content) -> None:
    path = folder / student / f"{NOTEBOOK}.ipynb"
    path.parent.mkdir(parents=True)
    path.write_bytes(content if isinstance(content, bytes) else json.dumps(content).encode())


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder, course = tmp_path_factory.mktemp("class"), tmp_path_factory.mktemp("course")
    reference = student_notebook(ASSIGNMENT, NOTEBOOK)
    for case in HANDMADE:
        _write(folder, case.name, case.edit(reference))
    for seed in range(FUZZ_NOTEBOOKS):
        _write(folder, f"fuzz_{seed:03d}", mutated(reference, seed))
    output, rows = grade_class(ASSIGNMENT, {"reference": reference}, folder, course,
                               "--call-timeout", CALL_TIMEOUT)
    return course, output, rows


def test_every_student_has_exactly_one_row_within_the_maximum(graded):
    _, output, rows = graded
    expected = {"reference"} | {c.name for c in HANDMADE} | {f"fuzz_{s:03d}" for s in range(FUZZ_NOTEBOOKS)}
    assert set(rows) == expected
    maximum = float(rows["reference"]["max_score"])
    assert float(rows["reference"]["score"]) == maximum > 0
    for student, row in rows.items():
        assert float(row["max_score"]) == maximum, f"{student}: the maximum changed"
        assert 0 <= float(row["score"]) <= maximum, f"{student}: {row['score']} of {maximum}"
    assert f"[{len(rows)}/{len(rows)}]" in output


def test_no_notebook_made_the_grader_fail(graded):
    course, output, _ = graded
    log = course / ERROR_LOG
    assert not log.exists(), f"the grader failed on some notebooks:\n{log.read_text()[-4000:]}"


@pytest.mark.parametrize("case", HANDMADE, ids=[c.name for c in HANDMADE])
def test_each_hand_made_case_gets_its_verdict(graded, case):
    course, _, rows = graded
    row = rows[case.name]
    if case.refused:
        assert float(row["score"]) == 0 and case.refused in row["problem"], row
    else:
        assert float(row["score"]) == float(row["max_score"]) and not row["problem"], row
    feedback = course / "feedback" / case.name / ASSIGNMENT / f"{NOTEBOOK}.html"
    assert feedback.exists(), f"{case.name}: no feedback page"


def test_what_the_student_wrote_reaches_the_feedback(graded):
    course, _, _ = graded
    page = (course / "feedback" / "note_quoting_markers" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "I never saw the end" in page
    page = (course / "feedback" / "copied_test_cell" / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert "Notes from the grader" in page and "kept as your own" in page
