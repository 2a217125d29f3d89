"""Finding instructor-only text (solutions, hidden tests) in what students and readers get.

Used by the student release (which refuses to write a tree that leaks) and by the tests
(assignments/, book/ and the built site, `_sources` included).
"""

from __future__ import annotations

import html
import itertools
import re
from pathlib import Path

import nbformat

from autograder.defaults import SOLUTIONS_DIR

BLOCK = re.compile(r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL)
# A leak is a solution copied out, which brings several lines along. So a secret is two
# consecutive lines of a block (at least this long together), or one line long enough
# to be unique on its own; a single short line such as `rng = np.random.default_rng(seed)`
# occurs in any numeric code and proves nothing.
MIN_PAIR_CHARS = 40
MIN_SINGLE_LINE_CHARS = 60
TEXT_SUFFIXES = {".md", ".ipynb", ".html", ".txt", ".py", ".js", ".json", ".yml", ".yaml"}


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def secret_lines(solutions_dir: Path = SOLUTIONS_DIR) -> set[str]:
    """Distinctive snippets of every solution and hidden-test block in the sources.

    Text that the public part of the same notebook also shows (a visible test's
    `with pytest.raises(TypeError):`) is not a secret.
    """
    secrets: set[str] = set()
    for source in solutions_dir.rglob("*.md"):
        text = source.read_text()
        public = _squash(BLOCK.sub("", text))
        for _, block in BLOCK.findall(text):
            lines = [line for line in map(_squash, block.splitlines()) if line]
            candidates = [line for line in lines if len(line) >= MIN_SINGLE_LINE_CHARS]
            candidates += [f"{a} {b}" for a, b in itertools.pairwise(lines) if len(a) + len(b) >= MIN_PAIR_CHARS]
            secrets.update(c for c in candidates if c not in public)
    return secrets


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
    """'file: snippet' for every secret found under `roots`."""
    found = []
    for root in roots:
        files = [root] if root.is_file() else [p for p in root.rglob("*") if p.is_file()]
        for path in files:
            if path.suffix not in TEXT_SUFFIXES:
                continue
            text = readable_text(path)
            found += [f"{path}: {line}" for line in secrets if line in text]
    return found
