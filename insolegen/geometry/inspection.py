"""Measure a written insole: closedness, size, and features at named landmarks.

Works on any insole mesh in the output frame (mm, heel at x = 0, bottom on
z = 0). A left insole is mirrored into the canonical right-foot frame
(+Y medial) before measuring, so every feature reads the same for both
sides. Landmarks come from the design saved beside the mesh when there is
one; otherwise they are estimated from the mesh by the template's proportions.

Definitions (mm, degrees):

- ``heel_seat_height_mm``: height at the heel centre of the plane fitted to
  the top surface within 0.2 heel widths of it (recesses left out; wider when they
  leave too few vertices, see :func:`seat_plane`);
- ``rearfoot_tilt_deg``: that plane's slope across the foot, + medial side higher;
- ``heel_cup_depth_mm``: top of the rim at the back of the heel above that plane;
- ``rim_medial_mm`` / ``rim_lateral_mm``: highest top point above that plane on the
  medial / lateral side within 2 mm (or 0.05 heel widths) of the heel centre's station,
  ``rim_posterior_mm`` the same as ``heel_cup_depth_mm``: the cup's depth all round;
- ``medial_flange_mm``: highest top point on the medial side between one heel width and
  the arch apex, above the heel seat's height at the heel centre;
- ``arch_rise_mm``: top surface at the arch apex above the top surface on the
  insole's midline at the same station; ``arch_peak_height_mm``: above the floor;
- ``min_thickness_mm``: lowest top-surface point above the bottom.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from stl.mesh import Mesh

from insolegen.core.errors import ScanError

ARCH_APEX_FRAC, ARCH_APEX_U, ALLOWANCE_MM = 0.42, 0.75, 10.0
SEAT_RADIUS = 0.20  # heel seat disk, fraction of heel width (measured flat)
SEAT_GROWTH = (1.0, 1.15, 1.3, 1.5)  # seat disk radii tried, in SEAT_RADIUS heel widths


def read_stl(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (n, 3) float64 and faces (m, 3) of an STL, identical corners merged."""
    try:
        tri = Mesh.from_file(str(path), calculate_normals=False).vectors
    except Exception as exc:  # numpy-stl raises bare AssertionError/ValueError on bad files
        raise ScanError(f"file = '{path}': not a readable STL ({exc})") from None
    return merge_corners(np.asarray(tri, dtype=np.float32))


def merge_corners(tri: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge identical corners of (m, 3, 3) float32 triangles into (vertices, faces).

    Corners are equal when their float32 coordinates are (``-0.0`` equals
    ``0.0``), as a slicer sees them.
    """
    flat = np.ascontiguousarray(tri.reshape(-1, 3), dtype=np.float32) + np.float32(0.0)
    bits = flat.view(np.uint32)
    order = np.lexsort((bits[:, 2], bits[:, 1], bits[:, 0]))
    ordered = bits[order]
    new = np.empty(len(order), dtype=bool)
    new[:1] = True
    new[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    inverse = np.empty(len(order), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return flat[order[new]].astype(np.float64), inverse.reshape(tri.shape[:-1])


def edge_counts(faces: np.ndarray, n: int | None = None) -> dict[str, int]:
    """Counts of open (used once), non-manifold (used more than twice) and flipped
    (same direction twice) edges of faces (m, 3) over ``n`` vertices."""
    n = int(faces.max()) + 1 if n is None else n
    f = faces.astype(np.int64)
    a = f.ravel()
    b = np.roll(f, -1, axis=1).ravel()
    # one sort: each undirected edge, then its direction, in one int64 (n < 2**31)
    key = np.sort((np.minimum(a, b) * n + np.maximum(a, b)) * 2 + (a > b))
    edge = key >> 1
    uses = np.diff(np.flatnonzero(np.r_[True, edge[1:] != edge[:-1], True]))
    return {"open_edges": int(np.sum(uses == 1)), "nonmanifold_edges": int(np.sum(uses > 2)),
            "flipped_edges": int(np.sum(key[1:] == key[:-1]))}


def edge_report(faces: np.ndarray, counts: dict[str, int] | None = None) -> dict[str, bool]:
    """Edge-based closedness: every edge used by exactly two faces, in opposite directions
    (from :func:`edge_counts` of ``faces``, computed unless given)."""
    counts = edge_counts(faces) if counts is None else counts
    watertight = counts["open_edges"] == 0 and counts["nonmanifold_edges"] == 0
    return {"watertight": watertight,
            "winding_consistent": watertight and counts["flipped_edges"] == 0}


def face_volumes_areas(vertices: np.ndarray, faces: np.ndarray
                       ) -> tuple[np.ndarray, np.ndarray]:
    """Each face's signed volume with the origin (mm^3) and doubled area (mm^2), (m,) each."""
    x, y, z = (vertices[:, i].copy() for i in range(3))
    corners = [(x[faces[:, i]], y[faces[:, i]], z[faces[:, i]]) for i in range(3)]
    (ax, ay, az), (bx, by, bz), (cx, cy, cz) = corners
    ux, uy, uz, wx, wy, wz = bx - ax, by - ay, bz - az, cx - ax, cy - ay, cz - az
    nx, ny, nz = uy * wz - uz * wy, uz * wx - ux * wz, ux * wy - uy * wx
    return (ax * nx + ay * ny + az * nz) / 6.0, np.sqrt(nx * nx + ny * ny + nz * nz)


def volume_mm3(vertices: np.ndarray, faces: np.ndarray) -> float:
    """Signed volume (mm^3) by the divergence theorem; positive when wound outward."""
    return float(face_volumes_areas(vertices, faces)[0].sum())


def _top(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Faces whose normal points up (the top surface) and their vertex indices.

    An upward face with a corner on a downward face is not top: it is a wall
    leaning in (a flared outer wall, whose corners are on the bottom's rim)."""
    x, y = vertices[:, 0].copy(), vertices[:, 1].copy()
    i, j, k = faces[:, 0], faces[:, 1], faces[:, 2]
    xi, yi = x[i], y[i]
    nz = (x[j] - xi) * (y[k] - yi) - (y[j] - yi) * (x[k] - xi)
    top_faces = faces[nz > 1e-9]
    down = np.zeros(len(vertices), dtype=bool)
    down[faces[nz < -1e-9].ravel()] = True
    top_faces = top_faces[~down[top_faces].any(axis=1)]
    used = np.zeros(len(vertices), dtype=bool)
    used[top_faces.ravel()] = True
    return top_faces, np.flatnonzero(used)


def heights_at(vertices: np.ndarray, top_faces: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Top-surface height at (k, 2) points by barycentric interpolation; NaN off the part."""
    x, y = vertices[:, 0], vertices[:, 1]
    fx = [x[top_faces[:, i]] for i in range(3)]
    fy = [y[top_faces[:, i]] for i in range(3)]
    x_lo, x_hi = np.minimum(np.minimum(*fx[:2]), fx[2]), np.maximum(np.maximum(*fx[:2]), fx[2])
    y_lo, y_hi = np.minimum(np.minimum(*fy[:2]), fy[2]), np.maximum(np.maximum(*fy[:2]), fy[2])
    out = np.full(len(xy), np.nan)
    for k, (px, py) in enumerate(xy):
        near = top_faces[(x_lo <= px + 1e-6) & (x_hi >= px - 1e-6)
                         & (y_lo <= py + 1e-6) & (y_hi >= py - 1e-6)]
        a, b, c = (vertices[near[:, i]] for i in range(3))
        det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
        l1 = ((px - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (py - a[:, 1])) / det
        l2 = ((b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (px - a[:, 0]) * (b[:, 1] - a[:, 1])) / det
        inside = (l1 >= -1e-9) & (l2 >= -1e-9) & (l1 + l2 <= 1 + 1e-9)
        if inside.any():
            z = a[inside, 2] + l1[inside] * (b[inside, 2] - a[inside, 2]) \
                + l2[inside] * (c[inside, 2] - a[inside, 2])
            out[k] = z.max()
    return out


def _extent_y(vertices: np.ndarray, x: float, slab: float) -> tuple[float, float]:
    near = vertices[np.abs(vertices[:, 0] - x) <= slab]
    return float(near[:, 1].min()), float(near[:, 1].max())


def estimate_landmarks(vertices: np.ndarray) -> tuple[dict[str, tuple[float, float]], float]:
    """Heel centre and arch apex from the mesh alone (canonical frame), and heel width.

    Assumes a full-length insole: foot length = insole length - 10 mm.
    """
    length = vertices[:, 0].max()
    foot = length - ALLOWANCE_MM
    rear = vertices[vertices[:, 0] <= 0.25 * foot]
    heel_w = float(rear[:, 1].max() - rear[:, 1].min())
    slab = max(1.5, 0.01 * foot)
    lo, hi = _extent_y(vertices, heel_w / 2, slab)
    heel = (heel_w / 2, (lo + hi) / 2)
    ax = ARCH_APEX_FRAC * foot
    lo, hi = _extent_y(vertices, ax, slab)
    apex = (ax, (lo + hi) / 2 + ARCH_APEX_U * (hi - lo) / 2)
    return {"heel_centre": heel, "arch_apex": apex}, heel_w


def seat_plane(top_v: np.ndarray, heel_centre: tuple[float, float], heel_width_mm: float,
               exclude: tuple = ()) -> np.ndarray:
    """The heel seat plane: ``(height at the heel centre, slope along x, slope across y)``.

    Fitted to the (n, 3) top-surface vertices within ``SEAT_RADIUS`` heel
    widths of the heel centre, leaving out the disks ``exclude`` (``(x, y,
    radius)`` in mm: recesses the design cut, when known) and, robustly,
    points more than 0.2 mm below the plane (recesses not known). When a
    recess leaves fewer than 12 vertices (a small heel at a coarse
    resolution), the disk grows by the steps of ``SEAT_GROWTH`` until it has them. The design
    uses the same function on its own surface to state what a curved seat
    measures.
    """
    hx, hy = heel_centre
    d2 = (top_v[:, 0] - hx) ** 2 + (top_v[:, 1] - hy) ** 2
    outside = np.ones(len(top_v), bool)
    for cx, cy, radius in exclude:
        outside &= (top_v[:, 0] - cx) ** 2 + (top_v[:, 1] - cy) ** 2 > radius * radius
    for grow in SEAT_GROWTH:  # a recess may leave too few points on a coarse small seat
        r = grow * SEAT_RADIUS * heel_width_mm
        near = d2 <= r * r
        if np.sum(near & outside) >= 12:
            break
    seat = top_v[near & outside] if np.sum(near & outside) >= 3 else top_v[near]
    keep = np.ones(len(seat), bool)
    for _ in range(8):  # robust plane: drop points below it (recesses)
        A = np.column_stack([np.ones(keep.sum()), seat[keep, 0] - hx, seat[keep, 1] - hy])
        coef = np.linalg.lstsq(A, seat[keep, 2], rcond=None)[0]
        resid = seat[:, 2] - (coef[0] + coef[1] * (seat[:, 0] - hx) + coef[2] * (seat[:, 1] - hy))
        new = resid > -0.2
        if np.array_equal(new, keep):
            break
        keep = new
    return coef


def measure(vertices: np.ndarray, faces: np.ndarray, side: str = "right",
            landmarks: dict | None = None, heel_width_mm: float | None = None,
            exclude: tuple = (), edges: dict[str, int] | None = None) -> dict:
    """Measured features of an insole mesh (see the module docstring); ``edges``: its
    :func:`edge_counts` when already known."""
    v = vertices * np.array([1.0, -1.0, 1.0]) if side == "left" else vertices
    f = faces[:, ::-1] if side == "left" else faces
    closed = edge_report(f, edges)
    top_faces, top_idx = _top(v, f)
    if landmarks is None or heel_width_mm is None:
        landmarks, heel_width_mm = estimate_landmarks(v)
    top_v = v[top_idx]

    hx, hy = landmarks["heel_centre"]
    coef = seat_plane(top_v, (hx, hy), heel_width_mm, exclude)
    x_min = v[:, 0].min()
    rim = top_v[np.argmin(top_v[:, 0])]
    rim_seat = coef[0] + coef[1] * (rim[0] - hx) + coef[2] * (rim[1] - hy)

    above = top_v[:, 2] - (coef[0] + coef[1] * (top_v[:, 0] - hx) + coef[2] * (top_v[:, 1] - hy))
    station = np.abs(top_v[:, 0] - hx) <= max(2.0, 0.05 * heel_width_mm)
    ax, ay = landmarks["arch_apex"]
    flange = (top_v[:, 0] >= heel_width_mm) & (top_v[:, 0] <= ax) & (top_v[:, 1] > hy)
    rims = {"rim_medial_mm": float(above[station & (top_v[:, 1] > hy)].max()),
            "rim_lateral_mm": float(above[station & (top_v[:, 1] < hy)].max()),
            "medial_flange_mm": float(top_v[flange, 2].max() - coef[0]) if flange.any() else 0.0}
    edge = np.sqrt(sum((v[top_faces[:, 1], i] - v[top_faces[:, 0], i]) ** 2 for i in range(3)))
    lo, hi = _extent_y(v, ax, max(1.0, 0.75 * float(np.median(edge))))
    apex_z, mid_z = heights_at(v, top_faces, np.array([[ax, ay], [ax, (lo + hi) / 2]]))
    z_min = float(v[:, 2].min())
    return {
        **closed,
        "volume_mm3": round(volume_mm3(v, f), 1),
        "triangles": int(len(f)),
        "length_mm": round(float(v[:, 0].max() - x_min), 3),
        "width_mm": round(float(v[:, 1].max() - v[:, 1].min()), 3),
        "heel_x_mm": round(float(x_min), 4),
        "bottom_z_mm": round(z_min, 4),
        "height_mm": round(float(v[:, 2].max() - z_min), 3),
        "heel_seat_height_mm": round(float(coef[0] - z_min), 3),
        "heel_cup_depth_mm": round(float(rim[2] - rim_seat), 3),
        "rim_posterior_mm": round(float(rim[2] - rim_seat), 3),
        **{k: round(v, 3) for k, v in rims.items()},
        "rearfoot_tilt_deg": round(float(np.degrees(np.arctan(coef[2]))), 3),
        "arch_rise_mm": round(float(apex_z - mid_z), 3),
        "arch_peak_height_mm": round(float(apex_z - z_min), 3),
        "min_thickness_mm": round(float(top_v[:, 2].min() - z_min), 3),
    }
