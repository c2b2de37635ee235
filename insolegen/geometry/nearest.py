"""Neighbours within a radius in the plane, by a uniform grid of buckets (numpy only).

Used where a k-d tree would do, on the hot path of every insole: importing
``scipy.spatial`` costs more than a whole insole takes to make, and these
queries need only "every point within r", exactly.
"""

from __future__ import annotations

import numpy as np


class _Grid:
    """Points bucketed in square cells of side ``cell`` (mm), sorted by cell."""

    def __init__(self, points: np.ndarray, queries: np.ndarray, cell: float) -> None:
        self.points = np.asarray(points, float)
        self.origin = np.minimum(self.points.min(axis=0), queries.min(axis=0)) - cell
        self.cell = cell
        cells = self._cells(self.points)
        self.width = int(max(cells[:, 0].max(), self._cells(queries)[:, 0].max())) + 3
        key = cells[:, 0] + 1 + (cells[:, 1] + 1) * self.width
        self.order = np.argsort(key, kind="stable")
        self.sorted_key = key[self.order]

    def _cells(self, xy: np.ndarray) -> np.ndarray:
        return np.floor((xy - self.origin) / self.cell).astype(np.int64)

    def candidates(self, queries: np.ndarray):
        """For each of the 9 neighbouring cells: (counts per query, point indices), the
        indices grouped by query in query order."""
        qcell = self._cells(queries)
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                k = qcell[:, 0] + 1 + dx + (qcell[:, 1] + 1 + dy) * self.width
                start = np.searchsorted(self.sorted_key, k, "left")
                count = np.searchsorted(self.sorted_key, k, "right") - start
                total = int(count.sum())
                if total:
                    first = np.repeat(np.cumsum(count) - count, count)
                    yield count, self.order[np.repeat(start, count) + np.arange(total) - first]


def pairs_within(points: np.ndarray, queries: np.ndarray, radius: float
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (query, point) pair closer than ``radius``.

    Parameters
    ----------
    points : (n, 2) float
    queries : (m, 2) float
    radius : float, > 0

    Returns
    -------
    q, p : (k,) int
        Indices into ``queries`` and ``points``.
    d : (k,) float
        Their distances, all ``<= radius``.
    """
    queries = np.asarray(queries, float)
    out_q, out_p = [], []
    for count, p in _Grid(points, queries, radius).candidates(queries):
        out_q.append(np.repeat(np.arange(len(queries)), count))
        out_p.append(p)
    if not out_q:
        empty = np.zeros(0, np.int64)
        return empty, empty, np.zeros(0)
    q = np.concatenate(out_q)
    p = np.concatenate(out_p)
    diff = queries[q] - np.asarray(points, float)[p]
    d = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    near = d <= radius
    return q[near], p[near], d[near]


def nearest_within(points: np.ndarray, queries: np.ndarray, radius: float) -> np.ndarray:
    """(m,) distance from each query to its nearest point, ``inf`` where none is within
    ``radius``."""
    queries = np.asarray(queries, float)
    out = np.full(len(queries), np.inf)
    grid = _Grid(points, queries, radius)
    for count, p in grid.candidates(queries):
        has = count > 0
        diff = np.repeat(queries[has], count[has], axis=0) - grid.points[p]
        d2 = np.einsum("ij,ij->i", diff, diff)
        starts = np.cumsum(count[has]) - count[has]
        out[has] = np.minimum(out[has], np.minimum.reduceat(d2, starts))
    out = np.sqrt(out)
    out[out > radius] = np.inf
    return out
