"""The course's nbgrader configuration, built in code so every command shares one."""

from __future__ import annotations

import copy
from pathlib import Path

from nbconvert.preprocessors import ClearMetadataPreprocessor, CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import (
    AssignLatePenalties,
    CheckCellMetadata,
    GetGrades,
    IgnorePattern,
    LimitOutput,
    SaveAutoGrades,
)
from traitlets.config import Config

from autograder.defaults import CALL_TIMEOUT, TEST_CELL_TIMEOUT
from autograder.preprocessors import ClearHiddenTestsFromTestCells, IsolatedExecute
from autograder.reports import gradebook_url

# The stub that replaces each solution in the student version.
CODE_STUB = "# YOUR CODE HERE\nraise NotImplementedError()"


def nbgrader_config(course_dir: Path, cell_timeout: int = TEST_CELL_TIMEOUT,
                    call_timeout: float = CALL_TIMEOUT) -> Config:
    course_dir = Path(course_dir).resolve()
    c = Config()
    c.CourseDirectory.root = str(course_dir)
    c.CourseDirectory.source_directory = "source"
    c.CourseDirectory.release_directory = "release"
    c.CourseDirectory.db_url = gradebook_url(course_dir)
    c.ClearSolutions.code_stub = {"python": CODE_STUB}
    c.GenerateAssignment.create_assignment = True
    # A student who deletes or edits a test cell gets it back, as the instructor wrote it.
    c.OverwriteCells.add_missing_cells = True
    c.Autograde.create_student = True
    # IsolatedExecute replaces Execute and must stay first: SaveAutoGrades scores the
    # outputs it writes. The rest is nbgrader's own order.
    c.Autograde.autograde_preprocessors = [
        IsolatedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput,
        SaveAutoGrades, AssignLatePenalties, CheckCellMetadata,
    ]
    # Explicit, and inherited by IsolatedExecute: seconds per test cell.
    c.Execute.timeout = cell_timeout
    c.IsolatedExecute.call_timeout = call_timeout
    # Feedback goes to students: it shows verdicts and messages, never hidden test code.
    c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor,
                                        ClearHiddenTestsFromTestCells]
    return c


def recording_config(config: Config, incoming_directory: str) -> Config:
    """`config` for recording notebooks already autograded elsewhere: nbgrader's Autograde
    reads them from `incoming_directory`, changes nothing, and saves their scores."""
    recording = copy.deepcopy(config)
    recording.CourseDirectory.submitted_directory = incoming_directory
    recording.Autograde.sanitize_preprocessors = []
    recording.Autograde.autograde_preprocessors = [SaveAutoGrades, AssignLatePenalties, CheckCellMetadata]
    return recording


# Written into the course directory, so that stock nbgrader commands run there
# (`nbgrader autograde`, `generate_feedback`, the formgrader) use this pipeline.
COURSE_CONFIG_FILE = "nbgrader_config.py"
_COURSE_CONFIG = """\
# Written by `autograder grade`: nbgrader commands run in this folder (autograde,
# generate_feedback, the formgrader) use the course's sandboxed pipeline, never
# nbgrader's default execution of student code in a kernel of the grader's own.
from pathlib import Path

from autograder.config import nbgrader_config

course = Path(__file__).resolve().parent
c = get_config()  # noqa: F821 - defined by traitlets when it loads this file
c.merge(nbgrader_config(course, {cell_timeout!r}, {call_timeout!r}))
if (course / "calibration.json").exists():
    c.IsolatedExecute.calibration_file = str(course / "calibration.json")
"""


def write_course_config(course_dir: Path, cell_timeout: int, call_timeout: float) -> Path:
    path = Path(course_dir) / COURSE_CONFIG_FILE
    path.write_text(_COURSE_CONFIG.format(cell_timeout=cell_timeout, call_timeout=call_timeout))
    return path
