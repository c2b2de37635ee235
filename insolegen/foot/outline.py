"""The parametric foot outline and the plan-shape helpers built on it.

Everything here is in the canonical right-foot frame: X from the heel
(x = 0) to the toe, +Y medial. A left foot is the mirror image and is only
made at the very end, when the mesh is written.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

# Template control points, counter-clockwise from the back of the heel. Each
# row is (x as a fraction of foot length, y as (heel part, ball part)): the
# y of a point is ``a * heel_width + b * ball_width``. Heel: a circle of the
# heel width's diameter; lateral border nearly straight to the 5th
# metatarsal head; medial border with a shallow concavity under the arch;
# the hallux is the longest toe.
_TEMPLATE = np.array([
    # x_frac, heel coeff, ball coeff
    [0.000, 0.000, 0.000],
    [None, -0.250, 0.000],    # heel circle, 30 deg (x from the circle)
    [None, -0.433, 0.000],    # heel circle, 60 deg
    [None, -0.500, 0.000],    # heel circle, 90 deg: the heel width
    [0.240, -0.500, 0.000],
    [0.420, -0.250, -0.200],
    [0.650, 0.000, -0.550],   # 5th metatarsal head, widest lateral point
    [0.760, 0.000, -0.515],
    [0.840, 0.000, -0.440],   # 5th toe
    [0.905, 0.000, -0.300],
    [0.955, 0.000, -0.120],
    [0.988, 0.000, 0.080],    # 2nd toe
    [1.000, 0.000, 0.230],    # hallux tip
    [0.970, 0.000, 0.370],
    [0.870, 0.000, 0.440],
    [0.740, 0.000, 0.450],    # 1st metatarsal head, widest medial point
    [0.560, 0.150, 0.250],
    [0.400, 0.470, 0.000],    # arch: shallow medial concavity
    [0.240, 0.500, 0.000],
    [None, 0.500, 0.000],
    [None, 0.433, 0.000],
    [None, 0.250, 0.000],
], dtype=object)
_CIRCLE_X = {1: 0.134, 2: 0.5, 3: 1.0, 19: 1.0, 20: 0.5, 21: 0.134}  # of the heel radius

HEEL_ZONE_FRAC = 0.25   # heel width is the widest part behind this fraction
BALL_ZONE_FRAC = 0.50   # ball width is the widest part ahead of this fraction


def foot_outline(length_mm: float, ball_width_mm: float, heel_width_mm: float,
                 samples: int = 720) -> Polygon:
    """Smooth plan outline of a right foot.

    Parameters
    ----------
    length_mm, ball_width_mm, heel_width_mm : float
        Heel-to-longest-toe length and the widths (mm), met exactly: the
        outline's extent along X is the length, its widest part ahead of
        half length the ball width, behind a quarter length the heel width.
    samples : int
        Vertices of the returned polygon.
    """
    radius = heel_width_mm / 2.0
    pts = []
    for i, (xf, a, b) in enumerate(_TEMPLATE):
        x = _CIRCLE_X[i] * radius if xf is None else xf * length_mm
        pts.append((x, a * heel_width_mm + b * ball_width_mm))
    xy = _catmull_rom_closed(np.array(pts, dtype=float), samples)
    xy = _fit_extents(xy, length_mm, ball_width_mm, heel_width_mm)
    polygon = shapely.make_valid(Polygon(xy)).buffer(0)
    if polygon.geom_type != "Polygon" or not Polygon(xy).is_valid:
        from insolegen.core.errors import InputError
        raise InputError(f"ball_width_mm = {ball_width_mm:g}, heel_width_mm = {heel_width_mm:g}: "
                         f"no foot outline for a {length_mm:g} mm foot with these widths")
    return polygon


def _catmull_rom_closed(ctrl: np.ndarray, samples: int) -> np.ndarray:
    """Closed centripetal Catmull-Rom spline through (k, 2) control points.

    C1-smooth, passes through every control point, and (centripetal) never
    forms cusps or self-intersections within a segment. Samples are spread
    over the segments by chord length.
    """
    p = np.vstack([ctrl[-1:], ctrl, ctrl[:2]])
    k = len(ctrl)
    chord = np.linalg.norm(np.diff(p, axis=0), axis=1)
    dt = np.sqrt(np.maximum(chord, 1e-9))
    lengths = chord[1:k + 1]
    counts = np.maximum(np.round(samples * lengths / lengths.sum()).astype(int), 1)
    seg = np.repeat(np.arange(k), counts)  # every sample's segment, all segments at once
    start = np.cumsum(counts) - counts
    t0, t1, t2 = (dt[seg + j][:, None] for j in range(3))
    u = ((np.arange(len(seg)) - start[seg]) * (dt[seg + 1] / counts[seg]))[:, None]
    p0, p1, p2, p3 = (p[seg + j] for j in range(4))
    # Barry-Goldman pyramid on the knot sequence (-t0, 0, t1, t1 + t2).
    a1 = ((0 - u) * p0 + (u + t0) * p1) / t0
    a2 = ((t1 - u) * p1 + u * p2) / t1
    a3 = ((t1 + t2 - u) * p2 + (u - t1) * p3) / t2
    b1 = ((t1 - u) * a1 + (u + t0) * a2) / (t1 + t0)
    b2 = ((t1 + t2 - u) * a2 + u * a3) / (t1 + t2)
    return ((t1 - u) * b1 + u * b2) / t1


def _fit_extents(xy: np.ndarray, length: float, ball: float, heel: float) -> np.ndarray:
    """Scale so that length, ball width and heel width come out exact."""
    xy = xy.copy()
    xy[:, 0] -= xy[:, 0].min()
    xy[:, 0] *= length / xy[:, 0].max()
    x, y = xy[:, 0], xy[:, 1]
    rear, front = x <= HEEL_ZONE_FRAC * length, x >= BALL_ZONE_FRAC * length
    k_heel = heel / (y[rear].max() - y[rear].min())
    k_ball = ball / (y[front].max() - y[front].min())
    t = np.clip((x / length - HEEL_ZONE_FRAC) / (BALL_ZONE_FRAC - HEEL_ZONE_FRAC), 0, 1)
    xy[:, 1] = y * (k_heel + (k_ball - k_heel) * t)
    return xy


def insole_outline(foot: Polygon, foot_length_mm: float, insole_length: str,
                   toe_allowance_mm: float,
                   end: tuple[float, float, float] | None = None) -> Polygon:
    """Plan outline of the insole from the foot outline (right foot frame).

    ``full`` stretches the toes so the insole is ``foot length + allowance``
    long. ``sulcus`` and ``three_quarter`` end along the straight line
    ``end = (nx, ny, e)``: the device keeps the points with ``nx x + ny y <= e``
    (``(nx, ny)`` a unit normal pointing distally, e.g. along the metatarsal-head
    line; see :mod:`insolegen.design.ends`), with its corners rounded (8 mm).
    """
    if insole_length == "full":
        xy = np.asarray(foot.exterior.coords)[:-1].copy()
        start = 0.80 * foot_length_mm
        ahead = xy[:, 0] > start
        span = xy[:, 0].max() - start
        xy[ahead, 0] = start + (xy[ahead, 0] - start) * (span + toe_allowance_mm) / span
        return Polygon(xy)
    if end is None:
        raise ValueError(f"insole_length {insole_length!r} needs its end line")
    nx, ny, e = end
    radius = 8.0
    cut = foot.intersection(half_plane(nx, ny, e))
    rounded = cut.buffer(-radius, quad_segs=16).buffer(radius, quad_segs=16)
    rear = foot.intersection(half_plane(nx, ny, e - 3 * radius))
    front = rounded.difference(half_plane(nx, ny, e - 4 * radius))
    merged = shapely.union(rear, front)
    merged = max(getattr(merged, "geoms", [merged]), key=lambda g: g.area)
    return shapely.simplify(merged, 0.01)


def narrowed(outline: Polygon, width_scale: float, heel_y: float) -> Polygon:
    """``outline`` narrowed by ``width_scale`` across, about the heel's midline ``heel_y``."""
    if width_scale == 1.0:
        return outline
    return shapely.affinity.scale(outline, 1.0, width_scale, origin=(0.0, heel_y))


def half_plane(nx: float, ny: float, e: float, size: float = 1e4) -> Polygon:
    """The points with ``nx x + ny y <= e`` (``(nx, ny)`` a unit vector) within ``size`` mm
    of the origin, as a polygon."""
    foot_of = np.array([nx, ny]) * e
    along = np.array([-ny, nx]) * size
    back = -np.array([nx, ny]) * size
    return Polygon([foot_of - along, foot_of + along, foot_of + along + back,
                    foot_of - along + back])


def _ring_coords(polygon: Polygon) -> np.ndarray:
    """Closed exterior ring, counter-clockwise, as (n + 1, 2) float."""
    return np.asarray(shapely.geometry.polygon.orient(polygon, 1.0).exterior.coords)


def resample_closed(coords: np.ndarray, spacing_mm: float, minimum: int = 16) -> np.ndarray:
    """Points evenly spaced along a closed polyline (first point repeated last).

    Returns
    -------
    (n, 2) float
        Open ring with spacing at most ``spacing_mm``.
    """
    seg = np.linalg.norm(np.diff(coords, axis=0), axis=1)
    s = np.concatenate([[0.0], np.cumsum(seg)])
    n = max(int(np.ceil(s[-1] / spacing_mm)), minimum)
    t = np.linspace(0.0, s[-1], n, endpoint=False)
    return np.column_stack([np.interp(t, s, coords[:, 0]), np.interp(t, s, coords[:, 1])])


def resample_ring(polygon: Polygon, spacing_mm: float) -> np.ndarray:
    """Exterior ring resampled at (at most) ``spacing_mm``, counter-clockwise.

    Returns
    -------
    (n, 2) float
        Open ring (first point not repeated), starting at the rearmost point.
    """
    coords = _ring_coords(polygon)[:-1]
    coords = np.roll(coords, -int(np.argmin(coords[:, 0])), axis=0)  # the heel stays a vertex
    return resample_closed(np.vstack([coords, coords[:1]]), spacing_mm)


def width_profile(polygon: Polygon, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lateral (min y) and medial (max y) extent of the outline at each x.

    Exact on the polygon: every border segment is cut by every station it spans.

    Parameters
    ----------
    xs : (k,) float
        Stations along X (mm), ascending.

    Returns
    -------
    y_min, y_max : (k,) float
    """
    c = _ring_coords(polygon)
    x0, y0, x1, y1 = c[:-1, 0], c[:-1, 1], c[1:, 0], c[1:, 1]
    lo, hi = np.minimum(x0, x1), np.maximum(x0, x1)
    first = np.searchsorted(xs, lo, "left")
    count = np.searchsorted(xs, hi, "right") - first
    seg = np.repeat(np.arange(len(x0)), count)
    station = first[seg] + np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)
    dx = x1[seg] - x0[seg]
    t = np.clip((xs[station] - x0[seg]) / np.where(dx == 0, 1.0, dx), 0.0, 1.0)
    y = y0[seg] + t * (y1[seg] - y0[seg])
    vertical = dx == 0  # a vertical segment spans its whole y range at its station
    station = np.concatenate([station, station[vertical], station[vertical]])
    y = np.concatenate([y, y0[seg][vertical], y1[seg][vertical]])
    y_min = np.full(len(xs), np.inf)
    y_max = np.full(len(xs), -np.inf)
    np.minimum.at(y_min, station, y)
    np.maximum.at(y_max, station, y)
    filled = np.isfinite(y_min)
    y_min = np.interp(xs, xs[filled], y_min[filled])
    y_max = np.interp(xs, xs[filled], y_max[filled])
    return y_min, y_max


def principal_angle(polygon: Polygon) -> float:
    """Direction (radians) of the major principal axis of a polygon's area (Green's theorem)."""
    xy = np.asarray(polygon.exterior.coords)
    xy = xy - xy[:-1].mean(axis=0)
    x0, y0, x1, y1 = xy[:-1, 0], xy[:-1, 1], xy[1:, 0], xy[1:, 1]
    cross = x0 * y1 - x1 * y0
    area = cross.sum() / 2
    cx = ((x0 + x1) * cross).sum() / (6 * area)
    cy = ((y0 + y1) * cross).sum() / (6 * area)
    ixx = ((y0 ** 2 + y0 * y1 + y1 ** 2) * cross).sum() / 12 - area * cy ** 2
    iyy = ((x0 ** 2 + x0 * x1 + x1 ** 2) * cross).sum() / 12 - area * cx ** 2
    ixy = ((x0 * y1 + 2 * x0 * y0 + 2 * x1 * y1 + x1 * y0) * cross).sum() / 24 - area * cx * cy
    return 0.5 * float(np.arctan2(2 * ixy, iyy - ixx))
