"""Static checks on a submission's source, for kernels that must be written by hand.

The speed checks already time the student's kernel against a baseline, but a kernel that
calls BLAS would pass them without teaching anything. This check reads the submission's
code (the grader holds it; nothing here runs it) and fails on BLAS calls and on the
dynamic tricks that would hide one (getattr, eval, exec, __import__).
"""

from __future__ import annotations

import ast

# Names that reach BLAS or LAPACK from numpy and scipy.
BLAS_NAMES = {"dot", "matmul", "einsum", "tensordot", "inner", "vdot", "linalg", "blas", "lapack"}
# Calls that can reach any function by a name built at run time.
DYNAMIC_CALLS = {"getattr", "eval", "exec", "__import__", "compile", "import_module"}


def _to_python(source: str) -> str:
    from IPython.core.inputtransformer2 import TransformerManager

    return TransformerManager().transform_cell(source)


def _scan(node: ast.AST) -> list[str]:
    """BLAS calls and dynamic calls anywhere below `node`."""
    found = []
    for child in ast.walk(node):
        if isinstance(child, (ast.BinOp, ast.AugAssign)) and isinstance(child.op, ast.MatMult):
            found.append(f"line {child.lineno}: the @ operator")
        elif isinstance(child, ast.Attribute) and (child.attr in BLAS_NAMES or child.attr in DYNAMIC_CALLS):
            found.append(f"line {child.lineno}: .{child.attr}")
        elif isinstance(child, ast.Name) and (child.id in BLAS_NAMES or child.id in DYNAMIC_CALLS):
            found.append(f"line {child.lineno}: {child.id}")
    return found


def _imports_blas(node: ast.AST) -> bool:
    names = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
    return any(part in BLAS_NAMES for name in names for part in name.split("."))


def blas_uses(source: str) -> list[str]:
    """Each place in `source` where a kernel could reach BLAS, as 'line N: what'.

    Kernels are functions, so the bodies of functions, classes and lambdas are checked
    in full. Top-level code is the student's own experiments (`np.allclose(C, A @ B)` is a
    fine way to check a kernel) and is only checked for imports of BLAS and for aliases
    (`fast = np.dot`) that a function could then call.
    """
    try:
        tree = ast.parse(_to_python(source))
    except SyntaxError as exc:
        return [f"line {exc.lineno}: the code does not parse, so it cannot be checked"]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            found += _scan(node)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and _imports_blas(node):
            names = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
            found.append(f"line {node.lineno}: import of {', '.join(n for n in names if n)}")
        elif isinstance(node, ast.Assign) and isinstance(node.value, (ast.Attribute, ast.Name)):
            found += _scan(node.value)
    return sorted(set(found), key=lambda text: int(text.split(":")[0].split()[1]))


def assert_no_blas(source: str) -> None:
    """Fail, saying where, if the submission's code uses BLAS or could hide a BLAS call."""
    uses = blas_uses(source)
    assert not uses, ("kernels in this assignment must be written by hand, without BLAS "
                      "(np.dot, @, np.matmul, np.einsum, np.tensordot, scipy.linalg) or dynamic "
                      "calls that could hide it. Found in your code: " + "; ".join(uses))
