"""No solution code and no hidden test reaches students or readers."""

from __future__ import annotations

import pytest

from autograder.defaults import ASSIGNMENTS_DIR
from autograder.leaks import find_leaks, secret_lines
from course_cli import ROOT


@pytest.fixture(scope="module")
def secrets():
    lines = secret_lines()
    assert len(lines) > 20, "the leak test found almost nothing to look for"
    return lines


def test_student_release_has_no_solutions_or_hidden_tests(secrets):
    assert find_leaks([ASSIGNMENTS_DIR], secrets) == []


def test_book_sources_have_no_solutions_or_hidden_tests(secrets):
    assert find_leaks([ROOT / "book"], secrets) == []


@pytest.mark.slow
def test_built_site_has_no_solutions_or_hidden_tests(built_site, secrets):
    assert (built_site / "_sources").is_dir()
    assert find_leaks([built_site], secrets) == []


def test_the_detector_finds_a_planted_leak(tmp_path, secrets):
    line = sorted(secrets)[0]
    planted = tmp_path / "page.html"
    planted.write_text(f"<pre><span>{line[:10]}</span>{line[10:].replace('<', '&lt;')}</pre>")
    assert find_leaks([tmp_path], secrets) == [f"{planted}: {line}"]
