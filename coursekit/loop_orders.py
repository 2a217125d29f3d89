"""The naive matrix product C = A @ B with its three loops nested in each of the six orders.

The memory-hierarchy chapter compiles all six with numba and times them: they perform the
same multiply-adds, in the same order for each C[i, j] (k ascending), and differ only in the
order in which memory is walked. They are plain Python functions (no decorator), so that the
chapter can time the interpreter on one of them and compile each with `numba.njit`.
Each returns a new float64 array, as the naive product of the course does.
"""

from __future__ import annotations

import inspect

import numpy as np


def product_ijk(A, B):
    rows, inner = A.shape
    cols = B.shape[1]
    C = np.zeros((rows, cols))
    for i in range(rows):
        for j in range(cols):
            for k in range(inner):
                C[i, j] += A[i, k] * B[k, j]
    return C


def product_ikj(A, B):
    rows, inner = A.shape
    cols = B.shape[1]
    C = np.zeros((rows, cols))
    for i in range(rows):
        for k in range(inner):
            for j in range(cols):
                C[i, j] += A[i, k] * B[k, j]
    return C


def product_jik(A, B):
    rows, inner = A.shape
    cols = B.shape[1]
    C = np.zeros((rows, cols))
    for j in range(cols):
        for i in range(rows):
            for k in range(inner):
                C[i, j] += A[i, k] * B[k, j]
    return C


def product_jki(A, B):
    rows, inner = A.shape
    cols = B.shape[1]
    C = np.zeros((rows, cols))
    for j in range(cols):
        for k in range(inner):
            for i in range(rows):
                C[i, j] += A[i, k] * B[k, j]
    return C


def product_kij(A, B):
    rows, inner = A.shape
    cols = B.shape[1]
    C = np.zeros((rows, cols))
    for k in range(inner):
        for i in range(rows):
            for j in range(cols):
                C[i, j] += A[i, k] * B[k, j]
    return C


def product_kji(A, B):
    rows, inner = A.shape
    cols = B.shape[1]
    C = np.zeros((rows, cols))
    for k in range(inner):
        for j in range(cols):
            for i in range(rows):
                C[i, j] += A[i, k] * B[k, j]
    return C


# Every order, by its loop indices outermost first.
LOOP_ORDERS = {"ijk": product_ijk, "ikj": product_ikj, "jik": product_jik,
               "jki": product_jki, "kij": product_kij, "kji": product_kji}


def loop_order_source(order: str) -> str:
    """The source of one order's function, to print beside its timing."""
    if order not in LOOP_ORDERS:
        raise ValueError(f"order must be one of {', '.join(LOOP_ORDERS)}, got {order!r}")
    return inspect.getsource(LOOP_ORDERS[order])
