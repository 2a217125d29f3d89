"""Every command explains itself."""

from __future__ import annotations

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
    assert result.returncode == 2
    assert "no assignment 'no_such_assignment'" in result.stderr


def test_missing_submissions_path_is_a_clear_error(tmp_path):
    result = run_cli("grade", "profiler", tmp_path / "nope.zip", "--course-dir", tmp_path / "c", check=False)
    assert result.returncode == 2
    assert "does not exist" in result.stderr


def test_export_before_grading_is_a_clear_error(tmp_path):
    result = run_cli("export", "profiler", "--course-dir", tmp_path / "c", check=False)
    assert result.returncode == 2
    assert "nothing graded yet" in result.stderr
