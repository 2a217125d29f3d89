"""The static BLAS check: BLAS and hidden BLAS are found, ordinary code is left alone."""

import pytest

from autograder.anticheat import assert_no_blas, blas_uses, hand_written_problems


@pytest.mark.parametrize("source, found", [
    ("def f(A, B):\n    return A @ B", "the @ operator"),
    ("import numpy as np\ndef f(A, B):\n    return np.dot(A, B)", ".dot"),
    ("def f(A, B):\n    return A.dot(B)", ".dot"),
    ("import numpy as np\ndef f(A):\n    return np.linalg.norm(A)", ".linalg"),
    ("from numpy import dot\ndef f(A, B):\n    return dot(A, B)", "import of dot"),
    ("from numpy import *\ndef f(A, B):\n    return dot(A, B)", "import of *"),
    ("def f(A, B):\n    from scipy.linalg import blas\n    return blas.sgemm(1, A, B)", "import of"),
    ("import numpy as np\nfast = np.matmul\ndef f(A, B):\n    return fast(A, B)", ".matmul"),
    ("import numpy as np\ndef f(A, B, name='dot'):\n    return getattr(np, name)(A, B)", "getattr"),
    ("import numpy as np\ndef f(A, B):\n    return getattr(np, 'matmul')(A, B)", "getattr"),
    ("def f(A, B):\n    return eval('A @ B')", "eval"),
    ("import numpy\nm = numpy\ndef f(A, B, name='dot'):\n    return getattr(m, name)(A, B)", "getattr"),
    ("import sys\ndef f(A, B, name='dot'):\n    return getattr(sys.modules['numpy'], name)(A, B)", "getattr"),
    ("import numpy as np\ndef f(A, B, name='dot'):\n    return getattr(vars(np)['linalg'], name)(A, B)", "getattr"),
    ("import importlib\ndef f(A, B):\n    return importlib.import_module('numpy').dot(A, B)", ".import_module"),
    ("import operator, numpy\ndef f(A, B):\n    return operator.attrgetter('d' + 'ot')(numpy)(A, B)", ".attrgetter"),
])
def test_blas_and_hidden_blas_are_found(source, found):
    uses = blas_uses(source)
    assert any(found in use for use in uses), uses
    with pytest.raises(AssertionError, match="written by hand"):
        assert_no_blas(source)


@pytest.mark.parametrize("source", [
    "def f(A, B):\n    rows, inner = A.shape\n    dot = 0.0\n    for k in range(inner):\n"
    "        dot += A[0, k] * B[k, 0]\n    return dot",
    "def size(obj):\n    return getattr(obj, 'nbytes', 0) + len(getattr(obj, '__dict__', {}))",
    # A memory walker reads a student's own object's attributes by name: no function is picked.
    "def walk(obj):\n    return [getattr(obj, name) for name in getattr(type(obj), '__slots__', ())]",
    "import re\nPATTERN = re.compile('x')\ndef f(text):\n    return re.compile('y').match(text)",
    "import numpy as np\nA = np.ones((2, 2))\nprint(np.allclose(A @ A, 2))  # top-level checks are the student's own",
])
def test_ordinary_code_is_left_alone(source):
    assert blas_uses(source) == []
    assert_no_blas(source)


def test_each_finding_names_the_function_it_is_in():
    uses = blas_uses("def outer(A):\n    def inner(B):\n        return A @ B\n    return inner")
    assert uses == ["line 3: the @ operator (in inner)"]


def test_code_that_does_not_parse_is_reported():
    assert "does not parse" in blas_uses("def f(:\n")[0]


RELU_SHORTCUTS = {"maximum", "fmax", "clip", "where"}
OWN_LOOP = '''
import numba
import numpy as np

@numba.njit
def _relu_into(x, out):
    for i in range(x.size):
        out[i] = 0 if x[i] <= 0 else x[i]

def vectorized_relu(x):
    out = np.empty_like(x)
    _relu_into(x.reshape(-1), out.reshape(-1))
    return out
'''


@pytest.mark.parametrize("source", [
    OWN_LOOP,
    OWN_LOOP.replace("@numba.njit\n", "") + "_relu_into = numba.njit(_relu_into)\n",
])
def test_an_own_numba_loop_is_hand_written(source):
    assert hand_written_problems(source, ("vectorized_relu",), RELU_SHORTCUTS) == []


@pytest.mark.parametrize("source, problem", [
    ("import numpy as np\ndef vectorized_relu(x):\n    return np.maximum(x, 0)", ".maximum"),
    ("import numpy as np\ndef _k(x):\n    return np.where(x > 0, x, 0)\ndef vectorized_relu(x):\n    return _k(x)",
     ".where"),
    ("def vectorized_relu(x):\n    return [v if v > 0 else 0 for v in x]", "no numba-compiled function"),
    ("import numba, numpy as np\nx = np.maximum(np.ones(3), 0)\ny = numba.njit(lambda v: v)\n"
     "def vectorized_relu(x):\n    return [v if v > 0 else 0 for v in x]", "no numba-compiled function"),
    (OWN_LOOP + "\nnp.maximum(np.ones(2), 0)  # unrelated top-level code is fine\n"
     "def vectorized_relu(x):\n    return x.clip(0)\n", ".clip"),
])
def test_a_library_shortcut_is_reported(source, problem):
    assert any(problem in p for p in hand_written_problems(source, ("vectorized_relu",), RELU_SHORTCUTS))
