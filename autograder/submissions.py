"""Finding each student's notebook in a folder or zip of submissions.

Accepted layouts, one entry per student at the top level:
  <student_id>/.../<notebook>.ipynb   a folder per student (any depth inside)
  <student_id>.ipynb                  a single notebook named after the student
Anything else is still a student's entry: it is recorded with the reason it cannot be
graded (not a notebook, wrong notebook name, invalid JSON), so nobody silently vanishes.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import nbformat

from autograder.normalise import MAX_NOTEBOOK_BYTES

# Entries that archivers add and nobody submitted.
IGNORED_NAMES = {"__MACOSX", ".DS_Store", ".ipynb_checkpoints", "Thumbs.db"}
# A zip that expands beyond this is refused before extraction (a zip bomb, not homework).
MAX_UNZIPPED_BYTES = 2 * 2**30


class SubmissionsError(Exception):
    """The submissions source as a whole cannot be used."""


@dataclass(frozen=True)
class Submission:
    student_id: str
    notebooks: dict[str, Path]  # notebook name (no suffix) -> file to grade
    problem: str | None = None  # why this entry cannot be graded, if it cannot


def safe_student_id(name: str) -> str:
    """A student id that is safe as a folder name and in nbgrader's gradebook."""
    cleaned = re.sub(r"[^A-Za-z0-9_.@-]+", "_", name).strip("._") or "unnamed"
    return cleaned[:100]


def unpack(source: Path, workdir: Path) -> Path:
    """The folder to read submissions from: `source` itself, or a zip extracted safely."""
    if source.is_dir():
        return source
    if not source.exists():
        raise SubmissionsError(f"{source} does not exist")
    if not zipfile.is_zipfile(source):
        raise SubmissionsError(f"{source} is neither a folder nor a zip file")
    target = workdir / "unzipped"
    target.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(source) as archive:
        members = archive.infolist()
        if sum(m.file_size for m in members) > MAX_UNZIPPED_BYTES:
            raise SubmissionsError(f"{source} would expand beyond {MAX_UNZIPPED_BYTES} bytes")
        for member in members:
            parts = Path(member.filename).parts
            if member.filename.startswith("/") or ".." in parts:
                raise SubmissionsError(f"{source} contains an unsafe path: {member.filename}")
        archive.extractall(target)
    return target


def _check_notebook(path: Path) -> str | None:
    size = path.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        return (f"{path.name} is {size / 2**20:.0f} MiB, more than the {MAX_NOTEBOOK_BYTES // 2**20} MiB "
                f"a notebook may have (clear large outputs and images, then submit again)")
    try:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
    except Exception as exc:  # nbformat raises JSON, schema and encoding errors alike
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        return f"{path.name} is not a valid Jupyter notebook ({first_line[:200]})"
    return None


def _from_folder(folder: Path, expected: list[str]) -> Submission:
    student = safe_student_id(folder.name)
    found = [p for p in folder.rglob("*.ipynb")
             if not IGNORED_NAMES.intersection(p.relative_to(folder).parts)]
    notebooks = {}
    for name in expected:
        matches = sorted((p for p in found if p.stem == name), key=lambda p: len(p.parts))
        if matches:
            notebooks[name] = matches[0]
    if not notebooks:
        others = ", ".join(sorted(p.name for p in found)) or "no notebook at all"
        wanted = ", ".join(f"{n}.ipynb" for n in expected)
        return Submission(student, {}, f"expected {wanted}, found {others}")
    for path in notebooks.values():
        problem = _check_notebook(path)
        if problem:
            return Submission(student, {}, problem)
    return Submission(student, notebooks)


def _from_file(path: Path, expected: list[str]) -> Submission:
    student = safe_student_id(path.stem)
    if path.suffix != ".ipynb":
        return Submission(student, {}, f"{path.name} is not a notebook (.ipynb)")
    if len(expected) != 1:
        return Submission(student, {}, "this assignment has several notebooks: submit a folder")
    problem = _check_notebook(path)
    return Submission(student, {} if problem else {expected[0]: path}, problem)


def collect(source: Path, expected: list[str], workdir: Path) -> list[Submission]:
    """Every student entry in `source` (a folder or zip), sorted by student id."""
    root = unpack(Path(source), workdir)
    entries = [p for p in sorted(root.iterdir())
               if p.name not in IGNORED_NAMES and not p.name.startswith(".")]
    if not entries:
        raise SubmissionsError(f"{source} holds no submissions")
    submissions = [_from_folder(p, expected) if p.is_dir() else _from_file(p, expected)
                   for p in entries]
    ids = [s.student_id for s in submissions]
    duplicates = sorted({i for i in ids if ids.count(i) > 1})
    if duplicates:
        raise SubmissionsError(f"several entries map to the same student id: {', '.join(duplicates)}")
    return sorted(submissions, key=lambda s: s.student_id)
