"""Load each page script once.

Jupyter Book 1 initialises sphinx-thebe twice, so every page carries the inline script
that declares THEBE_JS_URL two times and the browser reports a redeclaration error.
Dropping exact duplicates from the page's script list removes the error and nothing else.
"""

from __future__ import annotations


def _drop_duplicate_scripts(app, pagename, templatename, context, doctree) -> None:
    seen, unique = set(), []
    for script in context.get("script_files", []):
        # Same file and attributes (an inline script's body is one of them): the same
        # script, whether its missing file was recorded as None or as "".
        key = (getattr(script, "filename", script) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key not in seen:
            seen.add(key)
            unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _drop_duplicate_scripts, priority=900)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
