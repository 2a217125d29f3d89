"""Shared fixtures: the book built once per session, submissions made from the sources."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
import yaml

from course_cli import BIN, ROOT
from cpu_targets import TARGETS


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The site built from the working tree with every chapter executed afresh.

    Uses the same flags as `make book` (-W -n --keep-going), so any cell error or Sphinx
    warning fails here, with execution forced so that no cache hides a broken chapter.
    """
    out = tmp_path_factory.mktemp("site")
    config = yaml.safe_load((ROOT / "_config.yml").read_text())
    config["execute"]["execute_notebooks"] = "force"
    # The copied config lives elsewhere: local extension paths must stay anchored here.
    extensions = config.get("sphinx", {}).get("local_extensions", {})
    for name, path in extensions.items():
        extensions[name] = str(ROOT / path)
    config_path = out / "_config.yml"
    config_path.write_text(yaml.safe_dump(config))
    result = subprocess.run(
        [BIN / "jupyter-book", "build", str(ROOT), "--path-output", str(out),
         "--config", str(config_path), "-W", "-n", "--keep-going"],
        capture_output=True, text=True, env=dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}"))
    log = result.stdout + result.stderr
    assert result.returncode == 0, f"book build failed:\n{log[-6000:]}"
    return out / "_build" / "html"


@pytest.fixture(scope="module", params=list(TARGETS))
def target(request) -> str:
    """A grading test module that asks for this fixture runs once per CPU target (cpu_targets.TARGETS)."""
    return request.param
