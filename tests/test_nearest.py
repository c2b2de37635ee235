"""The grid neighbour queries that replace a k-d tree on the hot path, against brute force."""

from __future__ import annotations

import numpy as np
import pytest

from insolegen.geometry.nearest import nearest_within, pairs_within


def _brute(points, queries, radius):
    d = np.linalg.norm(queries[:, None, :] - points[None, :, :], axis=2)
    return d, d <= radius


@pytest.mark.parametrize("seed", range(12))
def test_pairs_and_nearest_match_brute_force(seed):
    rng = np.random.default_rng(seed)
    points = rng.uniform(-50, 50, (int(rng.integers(1, 300)), 2))
    queries = rng.uniform(-70, 70, (int(rng.integers(1, 200)), 2))
    radius = float(rng.uniform(0.3, 25))
    d, within = _brute(points, queries, radius)
    q, p, dist = pairs_within(points, queries, radius)
    assert sorted(zip(q.tolist(), p.tolist())) == sorted(zip(*map(list, np.nonzero(within))))
    assert np.allclose(dist, d[q, p])
    near = nearest_within(points, queries, radius)
    expected = np.where(within.any(axis=1), d.min(axis=1), np.inf)
    assert np.array_equal(np.isinf(near), np.isinf(expected))
    assert np.allclose(near[np.isfinite(near)], expected[np.isfinite(expected)], atol=1e-12)


def test_points_exactly_on_cell_borders_and_at_the_radius():
    points = np.array([[0.0, 0.0], [1.0, 0.0], [2.0, 0.0], [0.0, 1.0]])
    queries = np.array([[1.0, 1.0], [3.0, 0.0], [-1.0, -1.0]])
    q, p, d = pairs_within(points, queries, 1.0)
    assert sorted(zip(q.tolist(), p.tolist())) == [(0, 1), (0, 3), (1, 2)]
    assert nearest_within(points, queries, 1.0)[2] == np.inf
