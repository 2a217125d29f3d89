"""Static checks on a submission's source, for kernels that must be written by hand.

The speed checks already time the student's kernel against a baseline, but a kernel that
calls BLAS would pass them without teaching anything. This check reads the submission's
code (the grader holds it; nothing here runs it) and fails on BLAS calls and on the
dynamic tricks that would hide one (getattr, eval, exec, __import__).
"""

from __future__ import annotations

import ast

from autograder.cells import python_source

# Attributes that reach BLAS or LAPACK from numpy and scipy (`np.dot`, `x.dot`, `np.linalg`).
BLAS_NAMES = {"dot", "matmul", "einsum", "tensordot", "inner", "vdot", "linalg", "blas", "lapack"}
# Builtins that run code or reach any function by a name built at run time. `getattr` is
# allowed with a literal attribute name that is not one of BLAS_NAMES.
DYNAMIC_BUILTINS = {"eval", "exec", "__import__", "compile", "getattr"}
# Attributes that do the same from a module (`importlib.import_module`, `operator.attrgetter`).
DYNAMIC_ATTRIBUTES = {"import_module", "__import__", "getattr", "attrgetter", "methodcaller"}


# Names through which any module, and so BLAS, can be reached without an import statement.
MODULE_ROUTES = {"sys", "globals", "vars", "locals", "builtins", "__builtins__"}


def _module_names(tree: ast.AST) -> set[str]:
    """Names that may hold a module: every import's bound name, the routes to any module,
    and names assigned from those (`m = np`, `la = np.linalg`, `mods = sys.modules`)."""
    names = set(MODULE_ROUTES)
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and _root_name(node.value) in names:
            names |= {target.id for target in node.targets if isinstance(target, ast.Name)}
    return names


def _root_name(node: ast.AST) -> str | None:
    """`np` for `np`, `np.linalg`, `sys.modules["numpy"]` or `vars(np)`; None for anything else."""
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _is_harmless_getattr(call: ast.Call, module_names: set[str]) -> bool:
    """getattr(obj, "literal"[, default]) with a literal that names no BLAS function, or
    getattr with a computed name on an object that cannot be a module (reading a student's
    own object's attributes, as a memory walker does, picks no function from a library)."""
    if len(call.args) < 2:
        return False
    name = call.args[1]
    if isinstance(name, ast.Constant) and isinstance(name.value, str):
        return name.value not in BLAS_NAMES
    root = _root_name(call.args[0])
    return root is not None and root not in module_names


def _scan(node: ast.AST, module_names: set[str]) -> list[str]:
    """BLAS calls and dynamic calls anywhere below `node`.

    Bare names are not BLAS by themselves: a local variable may be called `dot` or `inner`.
    A bare BLAS name can only come from an import, which `blas_uses` reports wherever it is.
    """
    harmless = {id(call.func) for call in ast.walk(node)
                if isinstance(call, ast.Call) and isinstance(call.func, ast.Name)
                and call.func.id == "getattr" and _is_harmless_getattr(call, module_names)}
    found = []
    for child in ast.walk(node):
        if isinstance(child, (ast.BinOp, ast.AugAssign)) and isinstance(child.op, ast.MatMult):
            found.append(f"line {child.lineno}: the @ operator")
        elif isinstance(child, ast.Attribute) and (child.attr in BLAS_NAMES or child.attr in DYNAMIC_ATTRIBUTES):
            found.append(f"line {child.lineno}: .{child.attr}")
        elif isinstance(child, ast.Name) and child.id in DYNAMIC_BUILTINS and id(child) not in harmless:
            found.append(f"line {child.lineno}: {child.id}")
    return found


def _imports_blas(node: ast.Import | ast.ImportFrom) -> bool:
    """An import of a BLAS module or function, or of everything numpy or scipy holds."""
    module = getattr(node, "module", None) or ""
    if any(alias.name == "*" for alias in node.names) and module.split(".")[0] in ("numpy", "scipy"):
        return True
    names = [alias.name for alias in node.names] + [module]
    return any(part in BLAS_NAMES for name in names for part in name.split("."))


def blas_uses(source: str) -> list[str]:
    """Each place in `source` where a kernel could reach BLAS, as 'line N: what'.

    Kernels are functions, so the bodies of functions, classes and lambdas are checked
    in full. Top-level code is the student's own experiments (`np.allclose(C, A @ B)` is a
    fine way to check a kernel) and is only checked for imports of BLAS and for aliases
    (`fast = np.dot`) that a function could then call.
    """
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError as exc:
        return [f"line {exc.lineno}: the code does not parse, so it cannot be checked"]
    found = []
    modules = _module_names(tree)
    where: dict[str, str] = {}  # each use, named by the innermost function or class holding it
    for node in ast.walk(tree):  # outer definitions come before the ones nested in them
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)):
            for use in _scan(node, modules):
                where[use] = f"{use} (in {node.name})" if hasattr(node, "name") else where.get(use, use)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and _imports_blas(node):
            names = [alias.name for alias in node.names] + [getattr(node, "module", None) or ""]
            found.append(f"line {node.lineno}: import of {', '.join(n for n in names if n)}")
        elif isinstance(node, ast.Assign) and isinstance(node.value, (ast.Attribute, ast.Name)):
            found += _scan(node.value, modules)
    return sorted({*found, *where.values()}, key=lambda text: int(text.split(":")[0].split()[1]))


def assert_no_blas(source: str) -> None:
    """Fail, saying where, if the submission's code uses BLAS or could hide a BLAS call."""
    uses = blas_uses(source)
    assert not uses, ("kernels in this assignment must be written by hand, without BLAS "
                      "(np.dot, @, np.matmul, np.einsum, np.tensordot, np.inner, np.vdot, "
                      "np.linalg, scipy.linalg) or calls that pick a function by a name built "
                      "at run time (eval, exec, getattr with a computed name, import_module). "
                      "Found in your code: " + "; ".join(uses))


def _reachable_functions(tree: ast.AST, entry_points: tuple[str, ...]) -> dict[str, ast.FunctionDef | ast.Assign]:
    """The submission's functions that `entry_points` can call, directly or through others.

    A function compiled by assignment (`kernel = numba.njit(loop)`) counts as its call.
    """
    defined: dict[str, ast.FunctionDef | ast.Assign] = {
        node.name: node for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Call) and _numba_compiled(node):
            defined.update({target.id: node for target in node.targets if isinstance(target, ast.Name)})
    found: dict[str, ast.FunctionDef | ast.Assign] = {}
    todo = list(entry_points)
    while todo:
        name = todo.pop()
        if name in found or name not in defined:
            continue
        found[name] = defined[name]
        todo += [n.id for n in ast.walk(defined[name]) if isinstance(n, ast.Name)]
    return found


def _numba_compiled(node: ast.FunctionDef | ast.Assign) -> bool:
    if isinstance(node, ast.FunctionDef):
        return any("jit" in ast.unparse(d) or "vectorize" in ast.unparse(d) for d in node.decorator_list)
    # kernel = numba.njit(loop), or numba.njit(...)(loop)
    return isinstance(node.value, ast.Call) and "jit" in ast.unparse(node.value.func)


def hand_written_problems(source: str, entry_points: tuple[str, ...], shortcuts: set[str]) -> list[str]:
    """Why the functions behind `entry_points` are not a numba loop of the student's own.

    Reports each library function among `shortcuts` (`np.maximum` for a ReLU) used on the
    way, and the absence of any numba-compiled function; an empty list means hand-written.
    """
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError as exc:
        return [f"line {exc.lineno}: the code does not parse, so it cannot be checked"]
    functions = _reachable_functions(tree, entry_points)
    problems = sorted({f"line {n.lineno}: .{n.attr}" for f in functions.values() for n in ast.walk(f)
                       if isinstance(n, ast.Attribute) and n.attr in shortcuts})
    if not any(_numba_compiled(f) for f in functions.values()):
        problems.append(f"no numba-compiled function behind {', '.join(entry_points)}")
    return problems


def numba_functions_behind(source: str, entry_points: tuple[str, ...]) -> list[str]:
    """Names of the numba-compiled functions that `entry_points` can call, themselves included.

    The grader reads the assembly of exactly these (the SIMD width check), so a vectorized
    loop elsewhere in the notebook is no evidence for the function being graded.
    """
    try:
        tree = ast.parse(python_source(source))
    except SyntaxError:
        return []
    return sorted(name for name, node in _reachable_functions(tree, entry_points).items()
                  if _numba_compiled(node))
