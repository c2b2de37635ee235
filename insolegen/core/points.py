"""Products on tall arrays of points, without BLAS.

numpy sends ``points @ matrix`` to a threaded BLAS, which for an (n, 3) by
(3, 3) product spends far more time waking and syncing threads than
multiplying, and fights the batch runner's worker processes for the cores.
``einsum`` does the same arithmetic in one thread, many times faster here.
"""

from __future__ import annotations

import numpy as np


def dot(points: np.ndarray, other: np.ndarray) -> np.ndarray:
    """(n, d) points times a (d,) vector -> (n,), or times (k, d) rows -> (n, k)."""
    if other.ndim == 1:
        return np.einsum("ij,j->i", points, other)
    return np.einsum("ij,kj->ik", points, other)


def principal_axes(points: np.ndarray) -> np.ndarray:
    """(d, d) unit axes as columns, from the smallest spread to the largest."""
    centred = points - points.mean(axis=0)
    return np.linalg.eigh(np.einsum("ij,ik->jk", centred, centred))[1]
