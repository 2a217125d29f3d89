"""The student tree: what students clone or open on Binder, with no instructor material.

It holds the book's sources without the instructor pages, the released assignments, the
course library (`coursekit`) and what Binder installs, plus a README for students. The
tree is checked for leaks (solution lines, hidden tests) before anything is written, and
can be committed to a branch of this repository for Binder to launch.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import yaml

from autograder.defaults import REPO_ROOT
from autograder.leaks import find_leaks, secret_lines

# What students get, relative to the repository root.
STUDENT_PATHS = ("_config.yml", "book", "assignments", "binder", "coursekit", "pyproject.toml")
# Book pages for instructors only: left out of the student tree and its table of contents.
INSTRUCTOR_PAGES = ("book/instructor_guide",)
IGNORED = shutil.ignore_patterns("__pycache__", ".ipynb_checkpoints", "*.pyc")

STUDENT_README = """\
# Kernels: hardware-aware performance engineering for ML (student copy)

- **Read** the course site (your instructor gives you its address). Every figure there was
  measured when the site was built, on the machine it names.
- **Do the assignments** in `assignments/<name>/<name>.ipynb`, on Binder (the launch
  button on the site, or this repository's Binder link) or locally:

      python3.11 -m venv .venv && .venv/bin/pip install -r binder/requirements.txt jupyterlab
      .venv/bin/jupyter lab assignments/

  Implement the cells marked `# YOUR CODE HERE`, run the visible tests, and submit the
  notebook. Hidden tests check more when it is graded, including minimum speedups
  measured on the grading machine. Do not edit or delete the test cells.
- Binder sessions are temporary: download your notebook when you stop.
- A few chapter cells show results of the instructor's reference solutions; they only run
  in the instructor's copy, and the site shows what they measured.
"""


class LeakError(Exception):
    """The student tree would contain instructor-only material."""


def _student_toc(toc: dict) -> dict:
    for part in toc.get("parts", []):
        part["chapters"] = [c for c in part["chapters"] if c["file"] not in INSTRUCTOR_PAGES]
    toc["parts"] = [part for part in toc.get("parts", []) if part["chapters"]]
    return toc


def build_tree(out: Path, root: Path = REPO_ROOT) -> list[str]:
    """Write the student tree into `out` (which must not exist); return its files."""
    out = Path(out)
    if out.exists():
        raise FileExistsError(f"{out} already exists: choose a new folder")
    out.mkdir(parents=True)
    for name in STUDENT_PATHS:
        source = root / name
        if source.is_dir():
            shutil.copytree(source, out / name, ignore=IGNORED)
        else:
            shutil.copy2(source, out / name)
    for page in INSTRUCTOR_PAGES:
        (out / f"{page}.md").unlink(missing_ok=True)
    toc = _student_toc(yaml.safe_load((root / "_toc.yml").read_text()))
    (out / "_toc.yml").write_text(yaml.safe_dump(toc, sort_keys=False))
    (out / "README.md").write_text(STUDENT_README)
    leaks = find_leaks([out], secret_lines())
    if leaks:
        shutil.rmtree(out)
        raise LeakError("the student tree would leak instructor material:\n" + "\n".join(leaks[:20]))
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


def commit_to_branch(tree: Path, branch: str, root: Path = REPO_ROOT) -> str:
    """Commit `tree` as the whole content of `branch` (history kept); return the commit id."""
    identity = {key: os.environ.get(key, value) for key, value in (
        ("GIT_AUTHOR_NAME", "Kernels autograder"), ("GIT_AUTHOR_EMAIL", "autograder@localhost"),
        ("GIT_COMMITTER_NAME", "Kernels autograder"), ("GIT_COMMITTER_EMAIL", "autograder@localhost"))}

    def git(*args: str, **env: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True,
                              text=True, env={**os.environ, **identity, **env}).stdout.strip()

    with tempfile.TemporaryDirectory(prefix="student-index-") as tmp:
        index = {"GIT_INDEX_FILE": str(Path(tmp) / "index")}
        git("--work-tree", str(tree), "add", "--all", "--force", ".", **index)
        tree_id = git("write-tree", **index)
    parent = subprocess.run(["git", "-C", str(root), "rev-parse", "--verify", "--quiet", f"refs/heads/{branch}"],
                            capture_output=True, text=True).stdout.strip()
    commit = git("commit-tree", tree_id, "-m", "Student release", *(["-p", parent] if parent else []))
    git("update-ref", f"refs/heads/{branch}", commit)
    return commit
