"""Finding instructor-only text (solutions, hidden tests) in what students and readers get."""

from __future__ import annotations

import html
import re
from pathlib import Path

import nbformat

from autograder.release import SOLUTIONS_DIR

BLOCK = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL)
# Lines shorter than this (`return x`, `else:`) occur in any code; longer ones identify.
MIN_DISTINCTIVE_CHARS = 24
TEXT_SUFFIXES = {".md", ".ipynb", ".html", ".txt", ".py", ".js", ".json", ".yml", ".yaml"}


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def secret_lines(solutions_dir: Path = SOLUTIONS_DIR) -> set[str]:
    """Distinctive lines of every solution and hidden-test block in the sources.

    A line that the public part of the same notebook also shows (a visible test's
    `with pytest.raises(TypeError):`) is not a secret.
    """
    lines = set()
    for source in solutions_dir.rglob("*.md"):
        text = source.read_text()
        public = {_squash(line) for line in BLOCK.sub("", text).splitlines()}
        for _, block in BLOCK.findall(text):
            lines.update(s for s in map(_squash, block.splitlines())
                         if len(s) >= MIN_DISTINCTIVE_CHARS and s not in public)
    return lines


def readable_text(path: Path) -> str:
    """What a person could read in `path`: notebook sources, or HTML without its markup."""
    raw = path.read_text(errors="replace")
    if path.suffix == ".ipynb":
        try:
            nb = nbformat.reads(raw, as_version=4)
            raw = "\n".join(cell.source for cell in nb.cells)
        except Exception:
            pass
    elif path.suffix == ".html":
        raw = html.unescape(re.sub(r"<[^>]+>", "", raw))
    return _squash(raw)


def find_leaks(roots: list[Path], secrets: set[str]) -> list[str]:
    """'file: line' for every secret line found under `roots`."""
    found = []
    for root in roots:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            if path.suffix not in TEXT_SUFFIXES:
                continue
            text = readable_text(path)
            found += [f"{path}: {line}" for line in secrets if line in text]
    return found
