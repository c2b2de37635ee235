"""Spatial queries on triangle meshes: faces that cross each other, thickness along Z.

Both queries bin triangles into a uniform grid of their bounding boxes (a
broad phase that stays linear for meshes of evenly sized faces, like an
insole) and then test the candidates exactly, vectorised, in chunks.
"""

from __future__ import annotations

import numpy as np

MAX_CANDIDATES = 40_000_000   # candidate pairs past which a query gives up (hostile files)
# ... or, for a large mesh, this many per face: an insole of evenly sized faces has about 26
# (1.04 million faces at 0.3 mm: 27 million); a hostile pile of faces has thousands
CANDIDATES_PER_FACE = 64


def candidate_limit(n_faces: int) -> int:
    """Candidate pairs a query of a mesh of ``n_faces`` may test before it gives up: the
    limit grows with the mesh, so a finer insole stays checkable."""
    return max(MAX_CANDIDATES, CANDIDATES_PER_FACE * int(n_faces))
_CHUNK = 400_000


def cross_rows(u: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Row-wise cross products of (k, 3) arrays: ``np.cross``'s exact arithmetic, ~10x faster."""
    u0, u1, u2 = u[:, 0], u[:, 1], u[:, 2]
    w0, w1, w2 = w[:, 0], w[:, 1], w[:, 2]
    out = np.empty(u.shape, dtype=np.result_type(u, w))
    np.subtract(u1 * w2, u2 * w1, out=out[:, 0])
    np.subtract(u2 * w0, u0 * w2, out=out[:, 1])
    np.subtract(u0 * w1, u1 * w0, out=out[:, 2])
    return out


class TooDense(Exception):
    """A query would need more than :data:`MAX_CANDIDATES` candidate pairs."""


def _cell_size(tri: np.ndarray, dims: int) -> float:
    """Grid cell edge (mm): the median face extent, so most faces touch few cells."""
    extent = (tri[:, :, :dims].max(axis=1) - tri[:, :, :dims].min(axis=1)).max(axis=1)
    size = float(np.median(extent)) if len(extent) else 1.0
    span = float((tri.reshape(-1, 3)[:, :dims].max(0) - tri.reshape(-1, 3)[:, :dims].min(0)).max())
    return max(size, span / 2000.0, 1e-6)


def _split_long(tri: np.ndarray, dims: int) -> tuple[np.ndarray, np.ndarray]:
    """Halve faces across their longest edge until none is much longer than the median.

    Long thin faces (a big flat face of a CAD part, a fan across a recess)
    have boxes far larger than themselves; pieces of them keep the grid
    lean. Returns the pieces (k, 3, 3) and the face each came from (k,).
    """
    origin = np.arange(len(tri))
    edge = np.linalg.norm(np.roll(tri, -1, axis=1) - tri, axis=2)
    span = float(np.ptp(tri.reshape(-1, 3)[:, :dims], axis=0).max()) if len(tri) else 1.0
    limit = max(8.0 * float(np.median(edge.max(axis=1))), span / 500.0, 1e-6)
    for _ in range(40):
        edge = np.linalg.norm(np.roll(tri, -1, axis=1) - tri, axis=2)
        big = edge.max(axis=1) > limit
        if not big.any():
            break
        if len(tri) + int(big.sum()) > MAX_CANDIDATES // 8:
            raise TooDense(f"more than {MAX_CANDIDATES // 8} face pieces")
        turn = (edge[big].argmax(axis=1)[:, None] + np.arange(3)) % 3
        t = np.take_along_axis(tri[big], turn[:, :, None], axis=1)  # longest edge is 0 -> 1
        mid = (t[:, 0] + t[:, 1]) / 2
        tri = np.concatenate([tri[~big], np.stack([t[:, 0], mid, t[:, 2]], 1),
                              np.stack([mid, t[:, 1], t[:, 2]], 1)])
        origin = np.concatenate([origin[~big], origin[big], origin[big]])
    return tri, origin


def _bins(lo: np.ndarray, hi: np.ndarray, size: float, origin: np.ndarray,
          limit: int = MAX_CANDIDATES) -> tuple[np.ndarray, np.ndarray]:
    """Every (item, cell key) pair whose box [lo, hi] (k, d) overlaps a grid cell."""
    i0 = np.floor((lo - origin) / size).astype(np.int64)
    i1 = np.floor((hi - origin) / size).astype(np.int64)
    span = i1 - i0 + 1
    count = span.prod(axis=1)
    total = int(count.sum())
    if total > limit:
        raise TooDense(f"{total} grid entries")
    item = np.repeat(np.arange(len(lo)), count)
    k = np.arange(total) - np.repeat(np.cumsum(count) - count, count)
    cell = np.empty((total, lo.shape[1]), np.int64)
    for d in range(lo.shape[1]):  # mixed-radix digits of k over the box's cells
        cell[:, d] = i0[item, d] + k % span[item, d]
        k = k // span[item, d]
    key = np.zeros(total, np.int64)
    for d in range(lo.shape[1]):
        key = key * (2**20) + cell[:, d]
    return item, key


def _group_pairs(item: np.ndarray, key: np.ndarray, limit: int = MAX_CANDIDATES) -> np.ndarray:
    """Unique unordered pairs (p, 2) of items sharing a cell, p[:, 0] < p[:, 1]."""
    order = np.argsort(key, kind="stable")
    item, key = item[order], key[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(key)]
    group_end = np.repeat(ends, ends - starts)
    partners = group_end - np.arange(len(key)) - 1
    total = int(partners.sum())
    if total > limit:
        raise TooDense(f"{total} candidate pairs")
    first = np.repeat(np.arange(len(key)), partners)
    second = first + 1 + np.arange(total) - np.repeat(np.cumsum(partners) - partners, partners)
    a, b = item[first], item[second]
    n = np.int64(item.max() + 1) if len(item) else np.int64(1)
    code = np.sort((np.minimum(a, b) * n + np.maximum(a, b))[a != b])
    code = code[np.r_[True, code[1:] != code[:-1]]] if len(code) else code
    return np.column_stack([code // n, code % n])


def _separated(t1: np.ndarray, t2: np.ndarray, axis: np.ndarray, eps: float) -> np.ndarray:
    """True where ``axis`` (k, 3) separates triangles t1, t2 (k, 3, 3) by more than -eps."""
    norm = np.linalg.norm(axis, axis=1)
    ok = norm > 1e-12
    unit = axis / np.where(ok, norm, 1.0)[:, None]
    p1 = np.einsum("kij,kj->ki", t1, unit)
    p2 = np.einsum("kij,kj->ki", t2, unit)
    gap = np.maximum(p2.min(1) - p1.max(1), p1.min(1) - p2.max(1))
    return ok & (gap > -eps)


def _triangles_cross(t1: np.ndarray, t2: np.ndarray, eps: float) -> np.ndarray:
    """Separating-axis test of triangle pairs (k, 3, 3): True where they overlap by more than eps.

    Axes: both normals, the nine edge-edge cross products and the six in-plane
    edge normals (these decide coplanar pairs).
    """
    e1 = np.roll(t1, -1, axis=1) - t1
    e2 = np.roll(t2, -1, axis=1) - t2
    n1 = cross_rows(e1[:, 0], e1[:, 1])
    n2 = cross_rows(e2[:, 0], e2[:, 1])
    apart = _separated(t1, t2, n1, eps) | _separated(t1, t2, n2, eps)
    live = ~apart
    for i in range(3):
        for j in range(3):
            live[live] &= ~_separated(t1[live], t2[live], cross_rows(e1[live, i], e2[live, j]), eps)
    for i in range(3):
        live[live] &= ~_separated(t1[live], t2[live], cross_rows(n1[live], e1[live, i]), eps)
        live[live] &= ~_separated(t1[live], t2[live], cross_rows(n2[live], e2[live, i]), eps)
    return live


def crossing_pairs(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Pairs (p, 2) of faces that cut into each other.

    Faces that share a vertex are not tested against each other (their
    contact is the mesh's connectivity), so a fold at a shared corner goes
    unnoticed; everything else that overlaps by more than 1e-6 of the mesh
    size counts. Raises :class:`TooDense` on pathological inputs.
    """
    if len(faces) < 2:
        return np.zeros((0, 2), np.int64)
    tri = vertices[faces]
    lo, hi = tri.min(axis=1), tri.max(axis=1)
    scale = float(np.ptp(vertices, axis=0).max()) or 1.0
    eps = 1e-6 * scale
    piece, origin = _split_long(tri, 3)
    limit = candidate_limit(len(faces))
    item, key = _bins(piece.min(axis=1) - eps, piece.max(axis=1) + eps, _cell_size(piece, 3),
                      lo.min(axis=0) - eps, limit)
    pairs = _group_pairs(origin[item], key, limit)
    found = []
    for start in range(0, len(pairs), _CHUNK):
        p = pairs[start:start + _CHUNK]
        fa, fb = faces[p[:, 0]], faces[p[:, 1]]
        shared = (fa[:, :, None] == fb[:, None, :]).any(axis=(1, 2))
        overlap = np.all((lo[p[:, 0]] <= hi[p[:, 1]] + eps) & (lo[p[:, 1]] <= hi[p[:, 0]] + eps),
                         axis=1)
        p = p[~shared & overlap]
        if len(p):
            found.append(p[_triangles_cross(tri[p[:, 0]], tri[p[:, 1]], eps)])
    return np.concatenate(found) if found else np.zeros((0, 2), np.int64)


def vertical_thickness(vertices: np.ndarray, faces: np.ndarray, min_slope: float = 0.5
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Material thickness (mm) straight up or down from each face's centroid.

    A ray leaves the centroid of every face whose unit normal has |n_z| >=
    ``min_slope`` (0.5: faces within 60 degrees of level) into the solid
    (down from faces that look up, up from faces that look down) and stops
    at the first face it crosses. Returns
    the face indices (k,) and their thickness (k,); a ray that leaves
    through nothing (an open mesh) gets ``inf``.
    """
    tri = vertices[faces]
    normal = cross_rows(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(normal, axis=1)
    nz = np.divide(normal[:, 2], length, out=np.zeros(len(faces)), where=length > 0)
    query = np.flatnonzero(np.abs(nz) >= min_slope)
    if len(query) == 0:
        return query, np.zeros(0)
    origin_pt = tri[query].mean(axis=1)
    piece, source = _split_long(tri, 2)
    size = _cell_size(piece, 2)
    origin = tri[:, :, :2].reshape(-1, 2).min(axis=0)
    limit = candidate_limit(len(faces))
    t_item, t_key = _bins(piece[:, :, :2].min(axis=1), piece[:, :, :2].max(axis=1), size, origin,
                          limit)
    q_item, q_key = _bins(origin_pt[:, :2], origin_pt[:, :2], size, origin, limit)
    order = np.argsort(t_key, kind="stable")
    t_item, t_key = t_item[order], t_key[order]
    lo = np.searchsorted(t_key, q_key, "left")
    hi = np.searchsorted(t_key, q_key, "right")
    counts = hi - lo
    total = int(counts.sum())
    if total > limit:
        raise TooDense(f"{total} ray candidates")
    best = np.full(len(query), np.inf)
    down = nz[query] > 0
    qi_all = np.repeat(q_item, counts)
    offset = np.arange(total) - np.repeat(np.cumsum(counts) - counts, counts)
    ti_all = t_item[np.repeat(lo, counts) + offset]
    for start in range(0, total, _CHUNK):
        qi, ti = qi_all[start:start + _CHUNK], ti_all[start:start + _CHUNK]
        keep = source[ti] != query[qi]
        qi, ti = qi[keep], ti[keep]
        a, b, c = piece[ti, 0], piece[ti, 1], piece[ti, 2]
        p = origin_pt[qi]
        ab, ac, ap = b - a, c - a, p - a
        det = ab[:, 0] * ac[:, 1] - ac[:, 0] * ab[:, 1]
        flat = np.abs(det) < 1e-12  # a vertical face: no ray crosses it
        det = np.where(flat, 1.0, det)
        l1 = (ap[:, 0] * ac[:, 1] - ac[:, 0] * ap[:, 1]) / det
        l2 = (ab[:, 0] * ap[:, 1] - ap[:, 0] * ab[:, 1]) / det
        inside = ~flat & (l1 >= 0) & (l2 >= 0) & (l1 + l2 <= 1)
        z = a[:, 2] + l1 * ab[:, 2] + l2 * ac[:, 2]
        dist = np.where(down[qi], p[:, 2] - z, z - p[:, 2])
        hit = inside & (dist > 1e-9)
        np.minimum.at(best, qi[hit], dist[hit])
    return query, best
