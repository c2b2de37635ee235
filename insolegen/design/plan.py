"""The plan of an insole: its outline triangulated once, the points every surface is sampled at.

The outline is resampled at the resolution, a hexagonal grid of interior
points kept clear of every border segment's diametral circle (so each
border segment is a Delaunay edge), Delaunay-triangulated, and the
triangles outside the outline dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon

from insolegen.core.errors import InsolegenError
from insolegen.foot.outline import resample_ring
from insolegen.geometry.nearest import nearest_within, pairs_within


@dataclass(frozen=True)
class PlanMesh:
    """Triangulated plan (mm): ``points`` (n, 2), ``faces`` (m, 3) counter-clockwise,
    ``ring`` (k,) indices of the border, counter-clockwise."""

    points: np.ndarray
    faces: np.ndarray
    ring: np.ndarray


def _lattice_triangles(ok: np.ndarray) -> np.ndarray:
    """Triangles of a row-offset hexagonal lattice whose three corners are all ``ok``.

    ``ok`` is (rows, cols) bool; odd rows are shifted by half a spacing.
    Returns (m, 3) flat indices into the lattice, counter-clockwise.
    """
    rows, cols = ok.shape
    idx = np.arange(rows * cols).reshape(rows, cols)
    out = []
    for parity in (0, 1):
        lo, hi = idx[parity:-1:2, :-1], idx[parity + 1::2, :-1]
        lo_r, hi_r = idx[parity:-1:2, 1:], idx[parity + 1::2, 1:]
        if parity == 0:   # upper row shifted right
            tris = [np.stack([lo, lo_r, hi], -1), np.stack([lo_r, hi_r, hi], -1)]
        else:             # lower row shifted right
            tris = [np.stack([lo, lo_r, hi_r], -1), np.stack([lo, hi_r, hi], -1)]
        for t in tris:
            t = t.reshape(-1, 3)
            out.append(t[ok.ravel()[t].all(axis=1)])
    return np.concatenate(out)


def _delaunay(points: np.ndarray) -> np.ndarray:
    """(m, 3) indices into ``points`` (n, 2) of their Delaunay triangles.

    Shewchuk's Triangle (exact predicates: collinear border runs make no flat
    triangles); it imports in a millisecond, where ``scipy.spatial`` costs more
    than making a whole insole.
    """
    import triangle

    return np.asarray(triangle.triangulate({"vertices": points}, "Q")["triangles"], np.int64)


def triangulate_plan(outline: Polygon, spacing_mm: float) -> PlanMesh:
    """Triangulate ``outline`` with edges of about ``spacing_mm``.

    Interior: a regular hexagonal lattice, triangulated by index. Within two
    spacings of the border: a Delaunay triangulation of the border and the
    lattice points there. Lattice points are kept out of every border
    segment's diametral circle and core points a full spacing from the
    border, so border and core edges are Delaunay edges and the two parts
    meet edge to edge.
    """
    h = spacing_mm
    ring = resample_ring(outline, h)
    seg = np.roll(ring, -1, axis=0) - ring
    mid = ring + seg / 2
    half = np.linalg.norm(seg, axis=1) / 2

    x0, y0, x1, y1 = outline.bounds
    row = h * np.sqrt(3) / 2
    ys = np.arange(y0 + row / 2, y1, row)
    xs = np.arange(x0 - h, x1 + h, h)
    gx = xs[None, :] + (np.arange(len(ys)) % 2)[:, None] * (h / 2)
    lattice = np.column_stack([gx.ravel(), np.repeat(ys, len(xs))])
    shapely.prepare(outline)
    inside = shapely.contains_xy(outline, lattice[:, 0], lattice[:, 1])
    # Points deeper than 3.5 spacings are farther than 3 from every ring point and chord
    # midpoint (chords sag far less than half a spacing): only the rest need the queries.
    deep = outline.buffer(-3.5 * h)
    shapely.prepare(deep)
    near_border = inside & ~shapely.contains_xy(deep, lattice[:, 0], lattice[:, 1])
    dist = np.where(inside, np.inf, -1.0)
    probe = lattice[near_border]
    q, s, d = pairs_within(mid, probe, 3 * h)
    clear = np.ones(len(probe), bool)
    clear[q[d <= 1.1 * half[s]]] = False  # inside (or on) a border segment's diametral circle
    border = np.minimum(nearest_within(mid, probe, 3 * h), nearest_within(ring, probe, 3 * h))
    dist[near_border] = np.where(clear & (border > 0.55 * h), border, -1.0)
    kept = dist > 0
    core = dist >= h

    core_tris = _lattice_triangles(core.reshape(len(ys), len(xs)))
    band_idx = np.flatnonzero(kept & (dist < 2.2 * h))
    band_pts = np.vstack([ring, lattice[band_idx]])
    tri = _delaunay(band_pts)
    corners = band_pts[tri]
    e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    flat = np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) < 1e-9 * h * h
    tri = tri[~flat]  # slivers of collinear border points on straight stretches
    centroids = band_pts[tri].mean(axis=1)
    n_ring = len(ring)
    band_core = np.concatenate([np.zeros(n_ring, bool), core[band_idx]])
    tri = tri[shapely.contains_xy(outline, centroids[:, 0], centroids[:, 1])
              & ~band_core[tri].all(axis=1)]
    # A triangle of three border points can be a sliver across an S-bend of a nearly
    # straight border (a scanned foot's outline): centroid inside, an edge outside. Drop it.
    all_ring = np.flatnonzero((tri < n_ring).all(axis=1))
    if len(all_ring):
        slivers = shapely.polygons(band_pts[tri[all_ring]])
        tri = np.delete(tri, all_ring[~shapely.contains(outline.buffer(1e-6), slivers)], axis=0)

    # Global numbering: ring first, then kept lattice points in lattice order.
    kept_idx = np.flatnonzero(kept)
    number = np.full(len(lattice), -1)
    number[kept_idx] = n_ring + np.arange(len(kept_idx))
    band_number = np.concatenate([np.arange(n_ring), number[band_idx]])
    band_faces = band_number[tri]
    points = np.vstack([ring, lattice[kept_idx]])
    a, b, c = (points[band_faces[:, i]] for i in range(3))
    area2 = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    band_faces = np.where((area2 < 0)[:, None], band_faces[:, [0, 2, 1]], band_faces)
    faces = np.concatenate([band_faces, number[core_tris]])  # lattice triangles: CCW

    n_inner = len(kept_idx)
    if len(faces) != 2 * n_inner + n_ring - 2 or np.any(area2 == 0):
        raise InsolegenError(
            f"plan triangulation failed at resolution {h:g} mm "
            f"({len(faces)} triangles, expected {2 * n_inner + n_ring - 2})")
    return PlanMesh(points, faces.astype(np.int64), np.arange(n_ring))
