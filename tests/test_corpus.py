"""Every hostile or broken submission in the corpus gets its expected verdict, in one class."""

from __future__ import annotations

import os
import uuid

import psutil
import pytest

from autograder import confinement, submission_cgroup
from corpus import APPEND, CORPUS
from student_work import grade_class, student_notebook

pytestmark = pytest.mark.slow
ASSIGNMENT = NOTEBOOK = "profiler"
# Short limits keep the corpus quick; the defaults are minutes.
CALL_TIMEOUT = "5"
LANDLOCK_ABI = confinement.available_abi()
NO_CGROUP = submission_cgroup.unavailable_reason()
# Every process this class's grading starts inherits this variable.
RUN_MARKER, RUN_TOKEN = "KERNELS_CORPUS_RUN", uuid.uuid4().hex


def _missing_protection(attack) -> str | None:
    """Why this machine cannot grade `attack` safely, or None."""
    if attack.landlock_abi > LANDLOCK_ABI:
        return f"needs Landlock ABI {attack.landlock_abi}: {confinement.describe()}"
    if attack.needs_cgroup and NO_CGROUP:
        return f"needs a pids cgroup: {NO_CGROUP}"
    return None


# Attacks that only confinement stops would harm this very grading where it is missing.
GRADED = [attack for attack in CORPUS if _missing_protection(attack) is None]


def _apply(edit: str):
    return (lambda source: source + edit) if edit.startswith(APPEND) else (lambda source: edit)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    notebooks = {"reference": student_notebook(ASSIGNMENT, NOTEBOOK)}
    for attack in GRADED:
        edits = {grade_id: _apply(edit) for grade_id, edit in attack.edits.items()}
        notebooks[attack.name] = student_notebook(ASSIGNMENT, NOTEBOOK, edits=edits)
    course = tmp_path_factory.mktemp("course")
    output, rows = grade_class(ASSIGNMENT, notebooks, tmp_path_factory.mktemp("corpus"), course,
                               "--call-timeout", CALL_TIMEOUT, env=dict(os.environ, **{RUN_MARKER: RUN_TOKEN}))
    return course, output, rows


@pytest.mark.parametrize("attack", CORPUS, ids=[a.name for a in CORPUS])
def test_attack_gets_its_expected_verdict(graded, attack):
    if attack not in GRADED:
        pytest.skip(_missing_protection(attack))
    course, _, rows = graded
    row, reference = rows[attack.name], rows["reference"]
    for test in attack.zero:
        assert float(row[test]) == 0, f"{attack.name}: {test} should score 0"
    for test in attack.kept:
        assert row[test] == reference[test], f"{attack.name}: {test} should keep full marks"
    feedback = (course / "feedback" / attack.name / ASSIGNMENT / f"{NOTEBOOK}.html").read_text()
    assert attack.reason in feedback, f"{attack.name}: the feedback should say {attack.reason!r}"


def test_the_reference_is_graded_normally_beside_the_corpus(graded):
    _, output, rows = graded
    assert float(rows["reference"]["score"]) == float(rows["reference"]["max_score"])
    assert f"[{len(rows)}/{len(rows)}]" in output


def test_no_process_started_by_a_submission_outlives_grading(graded):
    # Found by the marker in their environment: graders running beside this test keep theirs.
    left = []
    for process in psutil.process_iter(["pid", "cmdline"]):
        try:
            if process.environ().get(RUN_MARKER) == RUN_TOKEN:
                left.append(process.info)
        except (psutil.NoSuchProcess, psutil.AccessDenied, psutil.ZombieProcess):
            continue
    assert left == [], f"processes left behind by a submission: {left}"
