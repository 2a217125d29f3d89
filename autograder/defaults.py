"""Defaults shared by the command line and the grading pipeline (cheap to import)."""

from pathlib import Path

# The course repository (with an editable install, where this package lives): instructor
# sources with hidden tests in solutions/, generated student notebooks in assignments/.
REPO_ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS_DIR = REPO_ROOT / "solutions"
ASSIGNMENTS_DIR = REPO_ROOT / "assignments"

# Where instructors grade, relative to where they run the CLI (ignored by git).
DEFAULT_COURSE_DIR = Path("grading")
# Seconds one test cell may take in the grader. The slowest checks time a kernel
# against its baseline several times over; a minute is plenty, five leaves room for
# a slow grading machine without letting a stalled submission hold the class.
TEST_CELL_TIMEOUT = 300
# Wall-clock seconds one call into a submission may take (running its cells, or one
# function call from a test); a whole test cell is bounded by TEST_CELL_TIMEOUT.
CALL_TIMEOUT = 120.0
# Runs of the reference solution per calibration: the median of three is robust to one
# disturbed run and keeps calibration to a few minutes per assignment.
CALIBRATION_RUNS = 3
