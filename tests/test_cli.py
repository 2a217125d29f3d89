"""Every command explains itself."""

from __future__ import annotations

import subprocess
import sys

import pytest

from course_cli import run_cli

COMMANDS = ["release", "check-sync", "student-release", "calibrate", "grade", "export", "feedback"]


def test_main_help_lists_every_command_and_examples():
    text = run_cli("--help").stdout
    for command in COMMANDS:
        assert command in text
    assert "examples:" in text


@pytest.mark.parametrize("command", COMMANDS)
def test_each_command_has_help(command):
    assert "usage: autograder " + command in run_cli(command, "--help").stdout


def test_unknown_assignment_is_a_clear_error(tmp_path):
    result = run_cli("grade", "no_such_assignment", tmp_path, "--course-dir", tmp_path / "c", check=False)
    assert result.returncode == 1
    assert "no assignment 'no_such_assignment'" in result.stderr


def test_missing_submissions_path_is_a_clear_error(tmp_path):
    result = run_cli("grade", "profiler", tmp_path / "nope.zip", "--course-dir", tmp_path / "c", check=False)
    assert result.returncode == 1
    assert "does not exist" in result.stderr


def test_export_before_grading_is_a_clear_error(tmp_path):
    result = run_cli("export", "profiler", "--course-dir", tmp_path / "c", check=False)
    assert result.returncode == 1
    assert "nothing graded yet" in result.stderr


def test_the_command_line_works_without_docstrings(tmp_path):
    """`python -OO` drops docstrings: nothing the commands print may come from one."""
    stripped = subprocess.run([sys.executable, "-OO", "-m", "autograder", "--help"], capture_output=True, text=True)
    assert stripped.returncode == 0 and "instructor's command line" in stripped.stdout, stripped.stderr
    export = subprocess.run([sys.executable, "-OO", "-m", "autograder", "export", "profiler", "--course-dir",
                             str(tmp_path)], capture_output=True, text=True)
    assert export.returncode == 1 and "nothing graded yet" in export.stderr, export.stderr
