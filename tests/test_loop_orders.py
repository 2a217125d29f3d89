"""The six loop orders of the naive product compute A @ B, each with its own nesting."""

import ast

import numpy as np
import pytest
from numba import njit

from coursekit.loop_orders import LOOP_ORDERS, loop_order_source


@pytest.mark.parametrize("order", LOOP_ORDERS)
def test_every_order_computes_the_product_of_non_square_matrices(order):
    rng = np.random.default_rng(1)
    A, B = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    C = LOOP_ORDERS[order](A, B)
    assert C.dtype == np.float64 and C.shape == (5, 4)
    np.testing.assert_allclose(C, A @ B, rtol=1e-12)


@pytest.mark.parametrize("order", LOOP_ORDERS)
def test_loops_are_nested_in_the_order_of_the_name(order):
    tree = ast.parse(loop_order_source(order))
    nesting = [node.target.id for node in ast.walk(tree) if isinstance(node, ast.For)]
    assert "".join(nesting) == order


def test_compiled_orders_agree_bit_for_bit():
    # Each C[i, j] sums its k in ascending order in every nesting: reordering loops moves memory, not rounding.
    rng = np.random.default_rng(2)
    A, B = rng.standard_normal((7, 9)), rng.standard_normal((9, 6))
    results = [njit(LOOP_ORDERS[o])(A, B) for o in ("ijk", "kji")]
    assert np.array_equal(*results)


def test_unknown_order_is_refused():
    with pytest.raises(ValueError, match="ikj"):
        loop_order_source("iik")
