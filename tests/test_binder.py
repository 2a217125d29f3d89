"""Binder installs the same versions the course was built and graded with."""

from __future__ import annotations

import re
import sys

import nbformat

from course_cli import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.-]+)==(\S+)$", re.MULTILINE)


def _pins(path) -> dict[str, str]:
    return {name.lower(): version for name, version in PIN.findall(path.read_text())}


def test_binder_pins_match_the_lock():
    lock, binder = _pins(ROOT / "requirements.txt"), _pins(ROOT / "binder" / "requirements.txt")
    assert binder, "binder/requirements.txt pins nothing"
    assert {name: lock.get(name) for name in binder} == binder


def test_released_notebooks_import_only_what_binder_installs():
    allowed = set(_pins(ROOT / "binder" / "requirements.txt")) | set(sys.stdlib_module_names)
    allowed |= {"coursekit", "sklearn"} if "scikit-learn" in allowed else {"coursekit"}
    for notebook in (ROOT / "assignments").rglob("*.ipynb"):
        nb = nbformat.read(notebook, as_version=4)
        code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
        imported = set(re.findall(r"^\s*(?:import|from) ([A-Za-z_]+)", code, re.M))
        assert imported, f"{notebook.name}: found no imports, so this check saw nothing"
        assert imported <= allowed, f"{notebook.name} imports {imported - allowed}, which Binder lacks"
