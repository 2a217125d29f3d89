"""Where the course is, and how tests run its command line as an instructor would."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def run_cli(*args: str, check: bool = True, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run the instructor CLI in a fresh process (with `env`, if given)."""
    result = subprocess.run([BIN / "autograder", *map(str, args)], capture_output=True, text=True, env=env)
    if check:
        command = " ".join(map(str, args))
        assert result.returncode == 0, f"autograder {command} failed:\n{result.stdout}\n{result.stderr}"
    return result
