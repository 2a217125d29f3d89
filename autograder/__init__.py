"""The course's autograder: nbgrader with a sandboxed executor and calibrated speed checks."""

import sys

# jsonschema (under nbformat, nbclient and nbgrader) imports `rfc3987_syntax` when it is
# installed (jupyter_events asks for it), and that module builds some 35 Earley parsers at
# import: 2 s of every grader, export and Dask worker process, for an `iri` format that no
# notebook schema uses (python-jsonschema/jsonschema#1392, #1428). Marking the module absent
# makes jsonschema skip that one optional checker; notebooks are validated as before.
sys.modules.setdefault("rfc3987_syntax", None)  # type: ignore[arg-type]
