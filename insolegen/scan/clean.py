"""Cleaning a scan: millimetres, no floor, one piece.

- **Units**: the file's unit is detected from its size (:func:`detect_units`)
  unless given, and the scan is scaled to millimetres.
- **Floor**: a floor or platform the foot stood on is the plane (RANSAC) that
  holds many points, has the rest of the scan on one side, and reaches out
  beyond the foot's own shadow on it; a flat sole or the flat cut at the
  ankle lies within that shadow and is kept. The floor's points and
  everything behind it go; the sole resting on the floor stays: on a mesh,
  the faces on the plane that face the other way from the floor's own; in a
  point cloud, the points on the plane within the footprint of what stands
  just above it (a floor seen under the arch cannot be told from a sole).
- **Pieces**: points are binned into :data:`CLUSTER_VOXEL_MM` voxels; voxels
  touching (26-neighbours) form pieces; the largest piece is the foot and the
  rest (stray points, scanner debris) is dropped. A second piece at least half
  as big and a foot's size is the other foot (a file of two feet): it is
  kept as a scan of its own (:attr:`CleanScan.second`); three, or a second
  too small for a foot, are refused.

From here on a scan is a set of points spread evenly over its surface (a
mesh's faces sampled at :data:`SURFACE_SPACING_MM`, every scan thinned to one
point per :data:`THIN_VOXEL_MM` voxel), so a coarse mesh, a dense mesh and a
point cloud are handled alike and a 500k-triangle scan costs what a 50k one
does. What was changed is counted in :attr:`CleanScan.report`. Holes and open
meshes are normal for scans and are left alone here.
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass, field

import numpy as np
import shapely
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components
from scipy.spatial import ConvexHull, QhullError

from insolegen.core.errors import ScanError
from insolegen.scan.plantar import footprint, surface_samples
from insolegen.scan.sole import Sole, find_soles
from insolegen.core.points import dot
from insolegen.scan.load import (UNITS, RawScan, detect_units, parse_units, scan_extent,
                                 units_confidence, wrong_units)

log = logging.getLogger("insolegen")

CLUSTER_VOXEL_MM = 4.0
SECOND_PIECE_LIMIT = 0.5          # a second piece this big (of the largest) is another foot
TWO_FEET_MIN_EXTENT_MM = 90.0     # ... if it is a foot's size, else the scan is refused
FLOOR_TOLERANCE_MM = 2.0          # RANSAC inlier distance
FLOOR_SHADOW_HEIGHT_MM = 40.0     # a point cloud's sole on the floor lies in the shadow of this
FLOOR_MIN_FRACTION = 0.04         # of the points, for a plane to be a floor candidate
FLOOR_BEYOND_FRACTION = 0.15      # floor area outside the foot's shadow, of the shadow's area
RANSAC_PLANES = 300
SAMPLE_VOXEL_MM = 2.0             # representative points for the plane search
SURFACE_SPACING_MM = 1.0          # faces are sampled this densely ...
THIN_VOXEL_MM = 0.5               # ... and all points thinned to one per voxel this size


@dataclass(frozen=True)
class CleanScan:
    """A scan in millimetres, one piece, no floor (file's own frame and orientation).

    ``points`` (n, 3) float mm spread evenly over the surface (a mesh's faces
    sampled, see :func:`surface_points`); ``kind`` "mesh" or "point cloud";
    ``floor`` the removed floor plane ``(normal towards the foot, offset)`` in
    mm, or ``None``.
    """

    path: str
    points: np.ndarray
    kind: str
    units: str
    units_source: str
    floor: tuple[tuple[float, float, float], float] | None
    report: dict = field(default_factory=dict)
    scale: float = 1.0  # mm per file unit
    soles: tuple[Sole, ...] = ()  # a plantar or impression scan's feet (then no floor removed)
    second: CleanScan | None = None  # the other foot of a file of two


CHUNK = 1 << 18  # rows per step over big arrays: temporaries stay small and cached


def voxel_index(points: np.ndarray, size: float) -> np.ndarray:
    """(n,) int64: each point's voxel of ``size``, packed (21 bits per axis, all >= 1).

    Computed in chunks, so a few million points need no big temporaries.
    """
    lo = points.min(axis=0) - size
    span = (points.max(axis=0) - lo) / size
    if span.max() >= 2 ** 21 - 2:
        raise ScanError(f"scan: spans {float(span.max()):.3g} voxels of {size:g} along an axis "
                        f"(stray points far away?); expected under {2 ** 21 - 2}")
    out = np.empty(len(points), dtype=np.int64)
    for start in range(0, len(points), CHUNK):
        k = ((points[start:start + CHUNK] - lo) / size).astype(np.int64)
        out[start:start + CHUNK] = (k[:, 0] << 42) | (k[:, 1] << 21) | k[:, 2]
    return out


def voxel_representatives(points: np.ndarray, size: float) -> np.ndarray:
    """One point per occupied voxel (the first), (k, 3): an even sample of the surface."""
    _, first = np.unique(voxel_index(points, size), return_index=True)
    return points[np.sort(first)]


def pieces(points: np.ndarray, size: float) -> tuple[np.ndarray, np.ndarray]:
    """Label each point with its piece: voxels of ``size`` mm touching in 26 directions.

    Returns
    -------
    labels : (n,) int
        Piece of each point, 0 the largest (by occupied voxels), then by size.
    voxels : (p,) int
        Occupied voxels of each piece, largest first.
    """
    cells, inverse = np.unique(voxel_index(points, size), return_inverse=True)
    offsets = np.array([(dx, dy, dz) for dx in (-1, 0, 1) for dy in (-1, 0, 1)
                        for dz in (-1, 0, 1) if (dx, dy, dz) > (0, 0, 0)], dtype=np.int64)
    step = (offsets[:, 0] << 42) + (offsets[:, 1] << 21) + offsets[:, 2]
    rows, cols = [], []
    for s in step:  # 13 neighbour directions, each one vectorised lookup
        target = cells + s
        pos = np.searchsorted(cells, target)
        pos = np.minimum(pos, len(cells) - 1)
        hit = cells[pos] == target
        rows.append(np.flatnonzero(hit))
        cols.append(pos[hit])
    r, c = np.concatenate(rows), np.concatenate(cols)
    graph = coo_matrix((np.ones(len(r), np.int8), (r, c)), shape=(len(cells), len(cells)))
    n, cell_label = connected_components(graph, directed=False)
    counts = np.bincount(cell_label, minlength=n)
    order = np.argsort(-counts, kind="stable")
    rank = np.empty(n, dtype=np.int64)
    rank[order] = np.arange(n)
    return rank[cell_label][inverse.ravel()], counts[order]


def _hull_polygon(xy: np.ndarray) -> shapely.Polygon:
    """Convex hull of (n, 2) points as a polygon (empty if they span no area)."""
    try:
        hull = ConvexHull(xy)
    except (QhullError, ValueError):
        return shapely.Polygon()
    return shapely.Polygon(xy[hull.vertices])


def _fit_plane(points: np.ndarray) -> tuple[np.ndarray, float]:
    centre = points.mean(axis=0)
    normal = np.linalg.svd(points - centre, full_matrices=False)[2][-1]
    return normal, float(normal @ centre)


@dataclass(frozen=True)
class Floor:
    """A floor plane ``normal . p = offset`` (mm), ``normal`` towards the foot; ``shadow``
    is the foot's outline projected on it, in the plane coordinates ``basis`` (2, 3)."""

    normal: np.ndarray
    offset: float
    basis: np.ndarray
    shadow: shapely.Polygon

    def outside_shadow(self, points: np.ndarray) -> np.ndarray:
        """(n,) bool: the (n, 3) points project outside the foot's shadow."""
        uv = dot(points, self.basis)
        return ~shapely.contains_xy(self.shadow, uv[:, 0], uv[:, 1])


def find_floor(sample: np.ndarray) -> Floor | None:
    """The floor plane under a foot, if the scan has one, else ``None``.

    Parameters
    ----------
    sample : (n, 3) float
        Evenly spread points of the scan (mm), e.g. one per 2 mm voxel.
    """
    n = len(sample)
    if n < 50:
        return None
    rng = np.random.default_rng(0)
    idx = rng.integers(0, n, size=(RANSAC_PLANES, 3))
    a, b, c = sample[idx[:, 0]], sample[idx[:, 1]], sample[idx[:, 2]]
    normals = np.cross(b - a, c - a)
    length = np.linalg.norm(normals, axis=1)
    ok = length > 1e-6
    normals = normals[ok] / length[ok, None]
    offsets = np.einsum("ij,ij->i", normals, a[ok])
    test = sample[:: max(1, n // 4000)]
    inliers = (np.abs(dot(test, normals) - offsets) < FLOOR_TOLERANCE_MM).sum(axis=0)
    for best in np.argsort(-inliers)[:5]:
        near = np.abs(dot(sample, normals[best]) - offsets[best]) < FLOOR_TOLERANCE_MM
        if near.sum() < FLOOR_MIN_FRACTION * n:
            break
        normal, offset = _fit_plane(sample[near])
        dist = dot(sample, normal) - offset
        near = np.abs(dist) < FLOOR_TOLERANCE_MM
        rest = dist[~near]
        if len(rest) < 50:
            continue
        # The foot is on the side the scan reaches farthest from the plane.
        if np.percentile(rest, 99) < -np.percentile(rest, 1):
            normal, offset, dist = -normal, -offset, -dist
        foot = dist > FLOOR_TOLERANCE_MM
        basis = np.linalg.svd(normal[None, :])[2][1:]
        shadow = _hull_polygon(dot(sample[foot], basis))
        plane = _hull_polygon(dot(sample[near], basis))
        if shadow.area > 0 and plane.difference(shadow).area \
                >= FLOOR_BEYOND_FRACTION * shadow.area:
            return Floor(normal, offset, basis, shadow)
    return None


def clean_scan(raw: RawScan, units: str | None = None, scale: float | None = None,
               kind: str | None = None) -> CleanScan:
    """Millimetres, floor removed, the largest piece kept (see the module docstring).

    Parameters
    ----------
    raw : RawScan
        As read by :func:`insolegen.scan.load.read_scan`.
    units : str, optional
        ``mm``, ``cm``, ``in`` or ``m``; detected from the size when not given.
    scale : float, optional
        Millimetres per file unit, for an unscaled scan (``units`` is then ``scaled``).
    kind : str, optional
        ``foot``, ``plantar`` or ``impression``; told from the shape when not given
        (:mod:`insolegen.scan.sole`). A plantar or impression scan comes back with
        its ``soles`` and nothing removed.

    Raises
    ------
    ScanError
        The given unit makes the scan no foot's size (the message names the
        size it came out and the unit that would fit).
    """
    confidence = None
    if scale is not None:
        units, source = "scaled", "scaled to the given foot length"
    elif units is None:
        units = detect_units(raw.vertices)[0]
        source = "detected"
        confidence = units_confidence(scan_extent(raw.vertices), units)
    else:
        units, source = parse_units(units), "given"
        problem = wrong_units(scan_extent(raw.vertices), units)
        if problem is not None:
            raise ScanError(f"scan: {problem}")
    scale = UNITS[units] if scale is None else float(scale)
    faces = raw.faces
    report: dict = {"file": raw.path.rsplit("/", 1)[-1], "format": raw.file_format,
                    "kind": raw.kind, "units": units, "units_source": source,
                    "units_confidence": confidence, "scale_mm_per_unit": scale,
                    "points_read": int(len(raw.vertices)),
                    "triangles_read": None if faces is None else int(len(faces))}
    log.info("scan units: %s (%s)", units, source)

    # Sampled and thinned in the file's units, so the full-size arrays are never copied.
    points = surface_points(raw.vertices, faces, scale)
    floor = find_floor(voxel_representatives(points, SAMPLE_VOXEL_MM))
    soles = None if kind == "foot" else find_soles(points, kind)
    report["scan_kind"] = "foot" if not soles else soles[0].kind
    report["scan_kind_source"] = "given" if kind else "detected"
    if soles:
        for key in ("floor_removed", "pieces_dropped", "points_in_dropped_pieces"):
            report[key] = None
        return CleanScan(raw.path, points, raw.kind, units, source, None, report, scale,
                         tuple(soles))
    if floor is not None:
        vertices = raw.vertices * scale
        dist = dot(vertices, floor.normal) - floor.offset
        kept_faces = None
        if faces is None:
            # No faces to tell the sole from the floor by: points on the plane within the
            # foot's own footprint (the shadow of what stands just above the floor) are
            # the sole resting on it; on the plane elsewhere they are floor.
            above = dist >= FLOOR_TOLERANCE_MM
            low = above & (dist < FLOOR_SHADOW_HEIGHT_MM)
            if low.sum() < 3:
                raise ScanError("scan: nothing stands on the floor plane: not a foot")
            shadow = footprint(dot(vertices[low], floor.basis)).buffer(-1.0)
            uv = dot(vertices, floor.basis)
            sole = ~above & (dist > -FLOOR_TOLERANCE_MM) \
                & shapely.contains_xy(shadow, uv[:, 0], uv[:, 1])
            keep = above | sole
        else:
            # A face on the plane is floor if it lies outside the foot's shadow, or faces
            # the way the floor outside does: the sole resting on a floor that faces up
            # faces down and stays (a floor wound the other way takes the contact with it).
            tri = vertices[faces]
            facing = dot(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), floor.normal)
            on_plane = (np.abs(dist[faces]) < FLOOR_TOLERANCE_MM).all(axis=1)
            behind = (dist[faces] <= -FLOOR_TOLERANCE_MM).any(axis=1)
            outside = floor.outside_shadow(tri.mean(axis=1))
            way = np.sign(np.median(facing[on_plane & outside])) if (on_plane & outside).any() \
                else 1.0
            kept_faces = faces[~((on_plane & (outside | (facing * way >= 0))) | behind)]
            keep = np.zeros(len(vertices), bool)
            keep[kept_faces.ravel()] = True
        if not keep.any():
            raise ScanError("scan: nothing left after removing the floor plane")
        report["floor_removed"] = {"normal": [round(float(c), 4) for c in floor.normal],
                                   "points_dropped": int((~keep).sum())}
        log.info("scan: floor plane found, %d points dropped", int((~keep).sum()))
        points = surface_points(*subset(vertices, kept_faces, keep), 1.0)
        del vertices
    else:
        report["floor_removed"] = None

    labels, counts = pieces(points, CLUSTER_VOXEL_MM)
    second = None
    if len(counts) > 1 and counts[1] >= SECOND_PIECE_LIMIT * counts[0]:
        big = [float(np.ptp(points[labels == k], axis=0).max()) for k in (0, 1)]
        three = len(counts) > 2 and counts[2] >= SECOND_PIECE_LIMIT * counts[0]
        if three or min(big) < TWO_FEET_MIN_EXTENT_MM:
            raise ScanError(
                f"scan: {'three or more' if three else 'two'} separate pieces of similar size "
                f"({', '.join(map(str, counts[:3]))} voxels of {CLUSTER_VOXEL_MM:g} mm, the "
                f"smaller {min(big):.0f} mm long); accepted: one foot, or two feet, per file")
        # Two feet in one file: the second is cleaned alike and made a scan of its own.
        second = CleanScan(raw.path, points[labels == 1], raw.kind, units, source, None,
                           {**report, "pieces_dropped": int(len(counts) - 2),
                            "points_in_dropped_pieces": int((labels > 1).sum()),
                            "feet_in_file": 2}, scale)
        report["feet_in_file"] = 2
        labels = np.where(labels == 1, -1, labels)
    keep = labels == 0
    report["pieces_dropped"] = int(len(counts) - 1 - (second is not None))
    report["points_in_dropped_pieces"] = int((labels > 0).sum())
    if len(counts) > 1:
        log.info("scan: %d small pieces dropped (%d points)", len(counts) - 1,
                 int((~keep).sum()))
    floor_t = None if floor is None else (tuple(float(c) for c in floor.normal),
                                          float(floor.offset))
    if second is not None:
        second = dataclasses.replace(second, floor=floor_t)
    return CleanScan(raw.path, points[keep], raw.kind, units, source, floor_t, report, scale,
                     second=second)


def surface_points(vertices: np.ndarray, faces: np.ndarray | None, scale: float) -> np.ndarray:
    """Points over the surface at most :data:`SURFACE_SPACING_MM` apart, thinned to one per
    :data:`THIN_VOXEL_MM` voxel: an even sample, whatever the scan's own density.

    ``vertices`` are in units of ``scale`` mm; the (k, 3) points returned are in mm.
    """
    samples = surface_samples(vertices, faces, SURFACE_SPACING_MM / scale)
    return voxel_representatives(samples, THIN_VOXEL_MM / scale) * scale


def subset(vertices: np.ndarray, faces: np.ndarray | None, keep: np.ndarray
           ) -> tuple[np.ndarray, np.ndarray | None]:
    """Vertices where ``keep``, and the faces whose corners are all kept, renumbered."""
    if faces is None:
        return vertices[keep], None
    faces = faces[keep[faces].all(axis=1)]
    number = np.cumsum(keep) - 1
    return vertices[keep], number[faces]

