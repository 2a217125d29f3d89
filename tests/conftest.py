"""Shared fixtures: the book built once per session, submissions made from the sources."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


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


def run_cli(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the instructor CLI as an instructor would, in a fresh process (with `env`, if given)."""
    result = subprocess.run([BIN / "autograder", *map(str, args)], capture_output=True, text=True, env=env)
    if check:
        assert result.returncode == 0, f"autograder {' '.join(map(str, args))} failed:\n{result.stdout}\n{result.stderr}"
    return result
