"""How far a surface cuts into a body resting on it: an insole's top into the scanned foot.

Definitions (mm, canonical right-foot frame; a left insole is mirrored into it):

- the foot's surface is ``F(x, y)``, its sole seen from below: the lowest point of
  the foot over each plan point, NaN where there is no foot;
- **registration**: the foot rests on the insole's top at the heel seat. Over
  the heel seat disk (:data:`SEAT_RADIUS` heel widths round the heel centre,
  recess disks left out, and robustly any point :data:`ROBUST_MM` below the
  fit) ``top - F`` is fitted by ``lift + slope * (y - y_heel)``: the foot is
  raised by ``lift`` and tilted across by a post's slope (a rigid roll to first
  order: heights change by the tilt squared, hundredths of a mm for 6 degrees).
  The foot is not pitched: a 0.4 heel-width disk cannot tell a pitch whose
  error 200 mm ahead would be millimetres, and no correction pitches the seat
  (a heel lift raises the whole heel);
- **penetration** at a point of the top = top height - registered foot height
  there, vertically (never less than the depth along the surface normal);
  positive where the top is inside the foot. Evaluated at every top vertex and
  at every top face's centroid (a chord of a curved cup lies above its
  vertices); where no foot is above the top, there is none.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from insolegen.geometry.inspection import SEAT_RADIUS

DEEP_MM = 1.0  # the report gives the area of the top cutting deeper than this
ROBUST_MM = 0.2  # seat points this far below the fitted plane are recesses, left out


def top_surface(vertices: np.ndarray, faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The upward-facing faces (m, 3) of a mesh and the points to measure them at: their
    vertices and centroids, (k, 3) mm."""
    a, b, c = (vertices[faces[:, i]] for i in range(3))
    nz = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    top = faces[nz > 1e-9]
    used = np.unique(top.ravel())
    centroids = vertices[top].mean(axis=1)
    return top, np.vstack([vertices[used], centroids])


def registration(points: np.ndarray, foot_z: np.ndarray, heel_centre: tuple[float, float],
                 heel_width_mm: float, exclude: tuple = ()) -> tuple[float, float]:
    """``(lift, slope across y)`` of the foot resting on the (n, 3) top points whose foot
    heights are ``foot_z`` (see the module docstring); ``exclude`` disks ``(x, y, r)`` mm."""
    hx, hy = heel_centre
    r = SEAT_RADIUS * heel_width_mm
    seat = np.isfinite(foot_z) & ((points[:, 0] - hx) ** 2 + (points[:, 1] - hy) ** 2 <= r * r)
    for cx, cy, radius in exclude:
        seat &= (points[:, 0] - cx) ** 2 + (points[:, 1] - cy) ** 2 > radius * radius
    if seat.sum() < 3:
        raise ValueError("registration: fewer than 3 top points over the heel seat")
    diff = points[seat, 2] - foot_z[seat]
    across = points[seat, 1] - hy
    keep = np.ones(len(diff), bool)
    for _ in range(8):
        A = np.column_stack([np.ones(keep.sum()), across[keep]])
        lift, slope = np.linalg.lstsq(A, diff[keep], rcond=None)[0]
        new = diff - (lift + slope * across) > -ROBUST_MM
        if np.array_equal(new, keep) or new.sum() < 3:
            break
        keep = new
    return float(lift), float(slope)


def penetration(vertices: np.ndarray, faces: np.ndarray,
                foot_height: Callable[[np.ndarray], np.ndarray],
                heel_centre: tuple[float, float], heel_width_mm: float,
                exclude: tuple = ()) -> dict:
    """How far the top of the mesh (canonical frame, mm) cuts into the foot.

    Parameters
    ----------
    foot_height : callable
        ``(n, 2) -> (n,)`` the foot's sole height (mm) above each plan point, NaN
        where there is no foot.
    heel_centre, heel_width_mm, exclude
        The heel seat the foot is registered on, and recess disks ``(x, y, r)``
        left out of it.

    Returns
    -------
    dict
        ``largest_mm`` (0 when the top touches nowhere deeper), ``at_mm`` its (x, y),
        ``area_deeper_than_1mm_cm2`` (plan area of top faces whose centroid cuts
        deeper than :data:`DEEP_MM`), and the registration: ``foot_lift_mm`` and
        ``foot_tilt_deg`` (across, + medial up).
    """
    top, points = top_surface(vertices, faces)
    foot_z = foot_height(points[:, :2])
    lift, slope = registration(points, foot_z, heel_centre, heel_width_mm, exclude)
    depth = points[:, 2] - (foot_z + lift + slope * (points[:, 1] - heel_centre[1]))
    depth = np.where(np.isfinite(depth), depth, -np.inf)
    k = int(np.argmax(depth))
    corners = vertices[top]
    e1, e2 = corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0]
    plan_area = 0.5 * np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0])
    deep = depth[len(points) - len(top):] > DEEP_MM
    return {"largest_mm": round(max(float(depth[k]), 0.0), 2),
            "at_mm": [round(float(points[k, 0]), 1), round(float(points[k, 1]), 1)],
            "area_deeper_than_1mm_cm2": round(float(plan_area[deep].sum()) / 100.0, 2),
            "foot_lift_mm": round(float(lift), 3),
            "foot_tilt_deg": round(float(np.degrees(np.arctan(slope))), 3)}


