"""IsolatedExecute on hostile notebooks: verdicts with reasons, never a stalled grader."""

from __future__ import annotations

import base64
import time

import nbformat
import pytest
from nbgrader.utils import determine_grade, is_grade, is_solution

from autograder.preprocessors import IsolatedExecute
from student_work import student_notebook

pytestmark = pytest.mark.timing(reason=(
    "a hung submission must be graded within 30 s of wall time under 3 s call limits"))

ASSIGNMENT = NOTEBOOK = "profiler"


def grade(nb, call_timeout=20.0):
    """Run the isolated step as nbgrader's autograde would; return {test id: (score, outputs)}."""
    step = IsolatedExecute(call_timeout=call_timeout, timeout=60)
    nb, _ = step.preprocess(nb, {})
    return {c.metadata.nbgrader.grade_id: (determine_grade(c)[0], c.outputs)
            for c in nb.cells if is_grade(c) and not is_solution(c)}


def with_cell(nb, grade_id: str, source: str):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == grade_id:
            cell.source = source
    return nb


def error_text(outputs) -> str:
    return " ".join(o.get("evalue", "") + " ".join(o.get("traceback", [])) for o in outputs)


def test_reference_solution_passes_every_test():
    scores = grade(student_notebook(ASSIGNMENT, NOTEBOOK))
    assert all(score > 0 for score, _ in scores.values()), scores


def test_a_submission_that_never_finishes_its_cells_gets_zero_quickly():
    nb = with_cell(student_notebook(ASSIGNMENT, NOTEBOOK), "measure_memory_usage", "while True:\n    pass")
    started = time.monotonic()
    scores = grade(nb, call_timeout=3)
    assert time.monotonic() - started < 30, "one hung submission must not cost a timeout per test"
    for score, outputs in scores.values():
        assert score == 0 and "did not finish" in error_text(outputs)


def test_a_crash_in_one_test_does_not_sink_the_next():
    crash_on_empty = ("def measure_memory_usage(obj):\n"
                      "    import os\n"
                      "    if isinstance(obj, list) and not obj:\n"
                      "        os._exit(1)\n"
                      "    import numpy as np\n"
                      "    return obj.nbytes if isinstance(obj, np.ndarray) else 4040")
    nb = with_cell(student_notebook(ASSIGNMENT, NOTEBOOK), "measure_memory_usage", crash_on_empty)
    scores = grade(nb)
    assert scores["test_measure_memory_usage"][0] == 0
    assert "process ended" in error_text(scores["test_measure_memory_usage"][1])
    assert scores["test_profile_operation"][0] > 0, "the next test runs in a fresh process"


@pytest.mark.parametrize("cheat", [
    # An answer object that claims to equal anything.
    "class Anything:\n    def __eq__(self, other): return True\n"
    "def measure_memory_usage(obj):\n    return Anything()",
    # Patch the helpers the tests might use, then return nonsense.
    "import numpy as np, pytest, builtins\nnp.allclose = np.isclose = lambda *a, **k: True\n"
    "pytest.raises = None\nbuiltins.AssertionError = Exception\n"
    "def measure_memory_usage(obj):\n    return -1",
])
def test_cheats_inside_the_submission_change_no_verdict(cheat):
    nb = with_cell(student_notebook(ASSIGNMENT, NOTEBOOK), "measure_memory_usage", cheat)
    scores = grade(nb)
    assert scores["test_measure_memory_usage"][0] == 0
    assert scores["test_profile_errors"][0] > 0, "the grader's own pytest is untouched"


def test_figures_and_images_reach_the_graded_notebook_as_images():
    """A student's plot is feedback too: shown as an image, never as '<... Image object>'."""
    plots = ("import matplotlib.pyplot as plt\n"
             "from IPython.display import Image, display\n"
             "plt.plot([1, 2, 3])\n"
             "plt.xlabel('batch')\n"
             "display(Image(data=b'\\x89PNG\\r\\n\\x1a\\n'))\n"
             "print('measured')\n"
             "6 * 7\n")
    nb = student_notebook(ASSIGNMENT, NOTEBOOK)
    nb.cells.insert(1, nbformat.v4.new_code_cell(plots))
    step = IsolatedExecute(call_timeout=20.0, timeout=60)
    nb, _ = step.preprocess(nb, {})
    outputs = nb.cells[1].outputs
    assert [o.output_type for o in outputs] == ["stream", "display_data", "display_data"]
    assert outputs[0].text == "measured\n42\n"
    assert all("image/png" in o.data for o in outputs[1:])
    assert base64.b64decode(outputs[1].data["image/png"]).startswith(b"\x89PNG"), "the IPython Image"
    assert base64.b64decode(outputs[2].data["image/png"])[:4] == b"\x89PNG", "the figure, drawn at the cell's end"
    assert "object>" not in outputs[0].text, "a display is shown, not printed as its repr"
