"""The gradebook nbgrader creates for a new course, as `autograder` creates it."""

from __future__ import annotations

import subprocess

from nbgrader.api import Gradebook
from nbgrader.dbutil import _temp_alembic_ini
from sqlalchemy import text

from autograder.reports import gradebook_url
from course_cli import BIN


def test_a_new_gradebook_records_the_schema_version_that_alembic_reports(tmp_path, monkeypatch):
    """The version is read in this process (no `alembic` run) and is the one alembic names."""
    with _temp_alembic_ini(gradebook_url(tmp_path / "scratch")) as alembic_ini:
        heads = subprocess.check_output([BIN / "alembic", "-c", alembic_ini, "heads"], text=True)

    def no_process(*args, **kwargs):
        raise AssertionError(f"creating a gradebook started a process: {args}")

    monkeypatch.setattr(subprocess, "check_output", no_process)
    monkeypatch.setattr(subprocess, "Popen", no_process)
    with Gradebook(gradebook_url(tmp_path)) as gradebook:
        recorded = gradebook.db.execute(text("SELECT version_num FROM alembic_version")).scalar()
    assert recorded == heads.split()[0]
