"""Serve MathJax from the site itself: no page of the book may depend on the network.

Sphinx links MathJax from a CDN by default. The PyPI package django-static-mathjax
ships MathJax 3 as plain files (it needs no Django); this extension copies the one
script and its fonts into the site's _static folder and points the pages at them.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import mathjax

SOURCE = Path(mathjax.__file__).parent / "static" / "mathjax" / "es5"
# The combined TeX+MathML input, CommonHTML output build, and the fonts it loads
# relative to its own location.
FILES = ("tex-mml-chtml.js", "output/chtml/fonts/woff-v2")
TARGET = "mathjax"


def _use_local_copy(app, config) -> None:
    config.mathjax_path = f"{TARGET}/tex-mml-chtml.js"


def _copy_files(app, exception) -> None:
    if exception is not None or app.builder.format != "html":
        return
    target = Path(app.outdir) / "_static" / TARGET
    for relative in FILES:
        source, destination = SOURCE / relative, target / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, destination, dirs_exist_ok=True)
        else:
            shutil.copy2(source, destination)


def setup(app):
    app.connect("config-inited", _use_local_copy)
    app.connect("build-finished", _copy_files)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
