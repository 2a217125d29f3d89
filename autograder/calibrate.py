"""Calibrating speed thresholds on the grading machine from the reference solution.

`autograder calibrate ASSIGNMENT` runs the instructor's notebook (solutions and hidden
tests) through the same isolated grading step several times, records the speedup of
every speed check, and stores thresholds derived from the median with the machine's
fingerprint in `<course dir>/calibration.json`. Grading refuses to judge speed with a
calibration from another machine unless told to.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from autograder.cells import is_test_cell
from autograder.config import nbgrader_config
from autograder.defaults import CALIBRATION_RUNS, CALL_TIMEOUT, SOLUTIONS_DIR, TEST_CELL_TIMEOUT
from autograder.preprocessors import IsolatedExecute
from autograder.release import read_source, source_notebooks
from autograder.thresholds import Calibration, CalibrationError
from coursekit.machine import describe_machine

CALIBRATION_FILE = "calibration.json"
_CHECK_ID = re.compile(r"""speed_check\(\s*["']([^"']+)["']""")
_VALUE_KEY = re.compile(r"""calibrated_value\(\s*f?["']([^"'{]+)""")


def calibration_path(course_dir: Path) -> Path:
    return Path(course_dir) / CALIBRATION_FILE


def speed_check_ids(assignment: str, solutions_dir: Path = SOLUTIONS_DIR) -> set[str]:
    """The ids of every speed check in the assignment's hidden tests."""
    return {check for path in source_notebooks(assignment, solutions_dir)
            for check in _CHECK_ID.findall(path.read_text())}


def calibrated_value_keys(assignment: str, solutions_dir: Path = SOLUTIONS_DIR) -> set[str]:
    """The key prefixes of every calibrated value the assignment's hidden tests read."""
    return {key for path in source_notebooks(assignment, solutions_dir)
            for key in _VALUE_KEY.findall(path.read_text())}


def unmeasured_values(assignment: str, measured, solutions_dir: Path = SOLUTIONS_DIR) -> set[str]:
    """The calibrated-value key prefixes of the assignment that none of `measured` starts with."""
    return {prefix for prefix in calibrated_value_keys(assignment, solutions_dir)
            if not any(key.startswith(prefix) for key in measured)}


def calibrate(assignment: str, course_dir: Path, runs: int = CALIBRATION_RUNS,
              solutions_dir: Path = SOLUTIONS_DIR, progress: Callable[[str], None] = print,
              cell_timeout: int = TEST_CELL_TIMEOUT, call_timeout: float = CALL_TIMEOUT) -> Calibration:
    """Measure the reference solution `runs` times and save the thresholds; return them.

    The reference runs under the limits that grading applies (one nbgrader configuration),
    so a check that fits in calibration fits in grading."""
    if runs < 1:
        raise CalibrationError("runs must be at least 1")
    wanted = speed_check_ids(assignment, solutions_dir)
    if not wanted:
        raise CalibrationError(f"{assignment!r} has no speed checks: nothing to calibrate")
    measurements: dict[str, list[float]] = {}
    values: dict[str, list[float]] = {}
    for run in range(1, runs + 1):
        for path in source_notebooks(assignment, solutions_dir):
            execute = IsolatedExecute(config=nbgrader_config(course_dir, cell_timeout, call_timeout),
                                      calibrating=True)
            nb, resources = execute.preprocess(read_source(path), {})
            _require_all_tests_pass(nb, path)
            for check, speedups in resources["speed_measurements"].items():
                measurements.setdefault(check, []).extend(speedups)
            for key, measured in resources["reference_values"].items():
                values.setdefault(key, []).extend(measured)
        progress(f"run {run}/{runs}: " + ", ".join(f"{k} {v[-1]:.2f}x" for k, v in sorted(measurements.items())))
    missing = wanted - set(measurements)
    if missing:
        raise CalibrationError(f"the reference solution never reached these checks: {sorted(missing)}")
    unread = unmeasured_values(assignment, values, solutions_dir)
    if unread:
        raise CalibrationError(f"the reference solution never measured these values: {sorted(unread)}")
    fresh = Calibration.from_measurements(measurements, values)
    path = calibration_path(course_dir)
    if path.exists():
        previous = Calibration.load(path)
        if previous.fingerprint == fresh.fingerprint:  # keep the other assignments' checks
            fresh.checks = previous.checks | fresh.checks
            fresh.measurements = previous.measurements | fresh.measurements
            fresh.reference_values = previous.reference_values | fresh.reference_values
    path.parent.mkdir(parents=True, exist_ok=True)
    fresh.save(path)
    return fresh


def _require_all_tests_pass(nb, path: Path) -> None:
    for cell in nb.cells:
        if is_test_cell(cell):
            errors = [o for o in cell.outputs if o.output_type == "error"]
            if errors:
                raise CalibrationError(
                    f"the reference solution in {path} fails {cell.metadata['nbgrader']['grade_id']}: "
                    f"{errors[0].ename}: {errors[0].evalue}")


def calibration_for_grading(assignment: str, course_dir: Path, force: bool = False,
                            solutions_dir: Path = SOLUTIONS_DIR) -> Path | None:
    """The calibration file to grade `assignment` with, or None if it has no speed checks."""
    wanted = speed_check_ids(assignment, solutions_dir)
    if not wanted:
        return None
    path = calibration_path(course_dir)
    if not path.exists():
        raise CalibrationError(f"{assignment!r} has speed checks but {path} does not exist: "
                               f"run `autograder calibrate {assignment}` on this machine first")
    calibration = Calibration.load(path)
    here = describe_machine()
    if calibration.fingerprint != here.fingerprint and not force:
        raise CalibrationError(
            f"{path} was measured on another machine ({calibration.machine.get('cpu_model')}, "
            f"fingerprint {calibration.fingerprint}); this is {here.cpu_model} ({here.fingerprint}). "
            f"Run `autograder calibrate {assignment}` here, or pass --force-calibration to use it anyway")
    missing = wanted - set(calibration.checks)
    missing |= unmeasured_values(assignment, calibration.reference_values, solutions_dir)
    if missing:
        raise CalibrationError(f"{path} has no thresholds for {sorted(missing)}: "
                               f"run `autograder calibrate {assignment}`")
    return path
