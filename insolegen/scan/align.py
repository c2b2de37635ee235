"""Alignment: a clean scan put into the foot frame, and which foot it is.

1. **Sole down.** A foot at rest stands on its sole. The scan is set down,
   as a solid on a table, on each face of its convex hull it can rest on
   stably (its centroid above that face), starting from 26 directions tied
   to its principal axes (so the result does not depend on how the file was
   turned). Of these poses the sole is the one whose contact band (points
   within :data:`CONTACT_BAND_FRAC` of the length above the ground) covers
   most of its shadow: heel, ball and toes against a cap, a side or a
   dorsum. The resting face is the ground: z = 0 is the plantar contact.
2. **Ankle.** Points higher than :data:`ANKLE_CUT_FRAC` of the length are
   dropped (the leg would tilt the axes and widen the footprint), and the
   scan set down again.
3. **Long axis**: the principal axis of the footprint's area, so a densely
   scanned toe counts by its area, not by its number of points.
4. **Heel or toe**: the toe end is the wider (ball) and the lower (no
   ankle); both cues vote, and a shape whose ends look alike is refused.
5. **Side**: with X heel to toe and Z up, the medial side is the one with
   the longer toes (the toe line is oblique: hallux long, 5th toe short) and
   the higher sole under the midfoot (medial arch). Medial on +Y is a right
   foot; a left foot is mirrored into the canonical right-foot frame.
6. **Origin**: x = 0 at the back of the (smoothed) footprint, y = 0 on the
   heel's midline, z = 0 on the ground.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy.spatial import ConvexHull, QhullError
from shapely import affinity
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

from insolegen.core.errors import ScanError
from insolegen.foot.outline import principal_angle, width_profile
from insolegen.scan.plantar import footprint, lowest_grid, smooth_outline
from insolegen.scan.clean import CleanScan, voxel_representatives
from insolegen.core.points import dot, principal_axes

log = logging.getLogger("insolegen")

SAMPLE_VOXEL_MM = 2.0        # representative points for hull and axes
CONTACT_BAND_FRAC = 0.03     # of the length: the sole's contact band above the ground
MIN_SOLE_CONTACT = 0.5       # contact band area / shadow area of a foot standing on its sole
ANKLE_CUT_FRAC = 0.40        # of the length: above this is leg (lateral malleolus ~0.25)
FOOTPRINT_HEIGHT_FRAC = 0.15  # of the length: the footprint is the shadow of what is below
MIN_END_CONTRAST = 0.2       # log(width ratio) + log(height ratio) of toe end over heel end
MIN_SIDE_SCORE = 0.5         # |toe cue + arch cue| to tell left from right


@dataclass(frozen=True)
class FootScan:
    """A scanned foot in the canonical right-foot frame (mm; X heel to toe, +Y medial,
    Z up, ground z = 0); a left foot is stored mirrored, with ``side = "left"``.

    ``points`` (n, 3) are the cleaned scan's surface points below the ankle cut;
    ``footprint`` its outline in plan and ``outline`` that smoothed for an
    insole (:func:`~insolegen.scan.plantar.smooth_outline`), whose back is x = 0;
    ``to_canonical`` the (4, 4) transform from the file's coordinates (in file
    units) to this frame.
    """

    path: str
    points: np.ndarray
    footprint: Polygon
    outline: Polygon
    side: str
    units: str
    to_canonical: np.ndarray
    report: dict = field(default_factory=dict)


def _hull(points: np.ndarray) -> ConvexHull:
    try:
        return ConvexHull(points)
    except (QhullError, ValueError) as exc:
        log.info("scan: no 3D hull: %s", " ".join(str(exc).split())[:200])
        extents = np.ptp(dot(points - points.mean(axis=0), principal_axes(points).T), axis=0)
        size = " x ".join(f"{round(float(e), 1):g}" for e in extents[::-1])
        raise ScanError(f"scan: flat or degenerate shape, {size} mm (its points on a plane, a "
                        "line or a point); expected a solid foot") from None


def _settle(hull: ConvexHull, centre: np.ndarray, up: np.ndarray) -> int:
    """The hull face the solid comes to rest on, set down with ``up`` up (index)."""
    normals, offsets = hull.equations[:, :3], hull.equations[:, 3]
    depth = -(dot(normals, centre) + offsets)      # centroid's distance to each face plane
    face = -1
    for _ in range(200):
        down = -dot(normals, up)
        reach = np.where(down > 1e-12, depth / np.where(down > 1e-12, down, 1.0), np.inf)
        hit = int(np.argmin(reach))                 # the face the ray down from the centroid exits
        if hit == face:
            break
        face, up = hit, -normals[hit]
    return face


def _directions() -> np.ndarray:
    """26 unit directions: cube faces, edges and corners (symmetric under axis sign flips)."""
    d = np.array([(i, j, k) for i in (-1, 0, 1) for j in (-1, 0, 1) for k in (-1, 0, 1)
                  if (i, j, k) != (0, 0, 0)], dtype=float)
    return d / np.linalg.norm(d, axis=1, keepdims=True)


def _plane_basis(up: np.ndarray) -> np.ndarray:
    """(2, 3) orthonormal basis of the plane normal to ``up``."""
    return np.linalg.svd(up[None, :])[2][1:]


def _area(points2d: np.ndarray) -> float:
    if len(points2d) < 3:
        return 0.0
    try:
        return float(ConvexHull(points2d).volume)
    except (QhullError, ValueError):
        return 0.0


def _contact_score(points: np.ndarray, up: np.ndarray) -> tuple[float, float]:
    """(contact band area / shadow area, length along the shadow's principal axis)."""
    h = dot(points, up)
    h = h - h.min()
    uv = dot(points, _plane_basis(up))
    length = float(np.ptp(dot(uv, principal_axes(uv)[:, -1])))
    shadow = _area(uv)
    contact = _area(uv[h <= CONTACT_BAND_FRAC * length])
    return (contact / shadow if shadow > 0 else 0.0), length


def find_sole(points: np.ndarray) -> tuple[np.ndarray, float, dict]:
    """The up direction of a foot standing on its sole (see the module docstring).

    Parameters
    ----------
    points : (n, 3) float
        An even sample of the scan (mm).

    Returns
    -------
    up : (3,) float
        Unit vector, sole to dorsum.
    score : float
        The chosen pose's contact ratio.
    poses : dict
        Every resting pose tried: contact ratio by up direction (for the report).
    """
    centre = points.mean(axis=0)
    axes = principal_axes(points)
    hull = _hull(points)
    faces = sorted({_settle(hull, centre, axes @ d) for d in _directions()})
    poses = {}
    best = (-1.0, None)
    for face in faces:
        up = -hull.equations[face, :3]
        score, _ = _contact_score(points, up)
        poses[face] = (up, score)
        if score > best[0] + 1e-9:
            best = (score, up)
    score, up = best
    report = {"resting_poses": len(poses), "sole_contact": round(score, 3),
              "next_best_contact": round(max([s for f, (u, s) in poses.items()
                                              if s < score] or [0.0]), 3)}
    if score < MIN_SOLE_CONTACT:
        raise ScanError(
            f"scan: no sole found, not a foot (the flattest side it can stand on touches "
            f"the ground over {score:.0%} of its outline; a foot's sole: "
            f"{MIN_SOLE_CONTACT:.0%} or more)")
    return up, score, report


def _frame(up: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(3, 3) rotation whose rows are X, Y, Z with Z = ``up``, X along the plan's major axis."""
    basis = _plane_basis(up)
    x = principal_axes(dot(points, basis))[:, -1] @ basis
    return np.vstack([x, np.cross(up, x), up])


def _max_width(polygon: Polygon, x0: float, x1: float) -> float:
    xs = np.linspace(x0, x1, 60)
    lo, hi = width_profile(polygon, xs)
    return float((hi - lo).max())


def _end_contrast(polygon: Polygon, points: np.ndarray) -> float:
    """log(width ratio) + log(height ratio), toe end (+X) over heel end (-X)."""
    x0, _, x1, _ = polygon.bounds
    span = x1 - x0
    widths = _max_width(polygon, x1 - 0.35 * span, x1) / _max_width(polygon, x0, x0 + 0.35 * span)
    x = points[:, 0]
    front = points[x >= x1 - 0.35 * span, 2]
    rear = points[x <= x0 + 0.35 * span, 2]
    if len(front) < 10 or len(rear) < 10:
        return float(np.log(widths))
    heights = np.percentile(rear, 90) / max(np.percentile(front, 90), 1e-6)
    return float(np.log(widths) + np.log(max(heights, 1e-6)))


def _side_cues(polygon: Polygon, points: np.ndarray) -> tuple[float, float]:
    """(toe cue, arch cue) for +Y being medial; X runs heel to toe, ground z = 0.

    Toe cue: how much farther forward the toes reach on the +Y side of the
    ball than on the -Y side, as a fraction of length. Arch cue: how much
    higher (mm) the sole is under the +Y half of the midfoot than under the -Y half.
    """
    x0, _, x1, _ = polygon.bounds
    span = x1 - x0
    xs = np.linspace(x1 - 0.45 * span, x1 - 0.1 * span, 80)
    lo, hi = width_profile(polygon, xs)
    ball = int(np.argmax(hi - lo))
    centre, half = (lo[ball] + hi[ball]) / 2, (hi[ball] - lo[ball]) / 2
    ring = np.asarray(polygon.exterior.coords)
    off = (ring[:, 1] - centre) / half
    ahead = ring[:, 0] > xs[ball]
    tips = [ring[ahead & (s * off >= 0.3) & (s * off <= 0.9), 0] for s in (1, -1)]
    toe = (max(tips[0], default=xs[ball]) - max(tips[1], default=xs[ball])) / span

    step = 4.0
    grid = lowest_grid(points, step, (x0 + 0.35 * span, centre - half, x0 + 0.6 * span,
                                       centre + half))
    ys = centre - half + step * np.arange(grid.shape[0])
    xg = x0 + 0.35 * span + step * np.arange(grid.shape[1])
    lo_m, hi_m = width_profile(polygon, xg)
    u = (ys[:, None] - (lo_m + hi_m)[None, :] / 2) / ((hi_m - lo_m)[None, :] / 2)
    inner = (np.abs(u) >= 0.2) & (np.abs(u) <= 0.7) & np.isfinite(grid)
    plus, minus = grid[inner & (u > 0)], grid[inner & (u < 0)]
    arch = float(plus.mean() - minus.mean()) if len(plus) and len(minus) else 0.0
    return float(toe), arch


def align_scan(clean: CleanScan) -> FootScan:
    """Put a clean scan into the canonical frame and tell its side (see the module docstring).

    Raises
    ------
    ScanError
        The shape has no sole to stand on, ends that look alike, or sides
        that cannot be told apart: it is not a foot.
    """
    points = clean.points
    rep = voxel_representatives(points, SAMPLE_VOXEL_MM)
    up, _, report = find_sole(rep)
    rot = _frame(up, rep)
    ground = float(dot(points, up).min())  # the lowest point of all touches z = 0

    # Above the ankle: drop, and set the foot down again on what is left.
    length = float(np.ptp(dot(rep, rot[0])))
    keep = dot(points, up) - ground <= ANKLE_CUT_FRAC * length
    report["points_above_ankle"] = int((~keep).sum())
    if not keep.all():
        points = points[keep]
        rep = voxel_representatives(points, SAMPLE_VOXEL_MM)
        hull = _hull(rep)
        up = -hull.equations[_settle(hull, rep.mean(axis=0), up), :3]
        rot = _frame(up, rep)
        ground = float(dot(points, up).min())
    return orient_in_plan(clean, points, up, rot, ground, report)


def align_sole(clean: CleanScan, sole) -> FootScan:
    """A plantar or impression scan's sole (:class:`insolegen.scan.sole.Sole`) in the
    canonical frame: its up is known, so steps 3-6 only."""
    rep = voxel_representatives(sole.points, SAMPLE_VOXEL_MM)
    report = {**sole.report, "resting_poses": None, "sole_contact": None,
              "next_best_contact": None, "points_above_ankle": 0}
    return orient_in_plan(clean, sole.points, sole.up, _frame(sole.up, rep),
                          float(dot(sole.points, sole.up).min()), report)


def orient_in_plan(clean: CleanScan, points: np.ndarray, up: np.ndarray, rot: np.ndarray,
                   ground: float, report: dict) -> FootScan:
    """Steps 3-6 of the module docstring, for (n, 3) points (mm, the file's frame) whose sole
    faces ``-up`` and touches ``up . p = ground``; ``rot`` (3, 3) rows X, Y, Z = ``up``.

    Raises
    ------
    ScanError
        Ends that look alike, or sides that cannot be told apart: not a foot.
    """
    origin = up * ground
    local = dot(points - origin, rot)
    length = float(np.ptp(local[:, 0]))
    height = FOOTPRINT_HEIGHT_FRAC * length

    angle = principal_angle(footprint(local[local[:, 2] <= height, :2]))
    c, s = np.cos(angle), np.sin(angle)
    yaw = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    local = dot(local, yaw)
    plan = footprint(local[local[:, 2] <= height, :2])

    contrast = _end_contrast(plan, local)
    report["heel_toe_contrast"] = round(contrast, 3)
    if abs(contrast) < MIN_END_CONTRAST:
        raise ScanError(f"scan: heel and toe ends look alike (contrast {contrast:.2f}, a foot "
                        f"{MIN_END_CONTRAST:g} or more): not a foot")
    turn = np.diag([1.0, 1.0, 1.0]) if contrast > 0 else np.diag([-1.0, -1.0, 1.0])
    local = local * np.diag(turn)
    plan = affinity.scale(plan, turn[0, 0], turn[1, 1], origin=(0, 0))

    toe, arch = _side_cues(plan, local)
    score = toe / 0.04 + arch / 5.0
    report["side_cues"] = {"toe_line": round(toe, 4), "arch_mm": round(arch, 2),
                           "score": round(score, 3)}
    if abs(score) < MIN_SIDE_SCORE:
        raise ScanError(f"scan: cannot tell left from right (toe line {toe:+.3f} of length, "
                        f"arch {arch:+.1f} mm): not a recognisable foot")
    side = "right" if score > 0 else "left"
    mirror = np.diag([1.0, 1.0 if side == "right" else -1.0, 1.0])
    local = local * np.diag(mirror)
    plan = affinity.scale(plan, 1.0, mirror[1, 1], origin=(0, 0))

    outline = smooth_outline(plan)
    x_min = outline.bounds[0]
    rear_lo, rear_hi = width_profile(plan, np.linspace(x_min, x_min + 0.25 * length, 40))
    shift = np.array([-x_min, -float((rear_lo.min() + rear_hi.max()) / 2), 0.0])
    local = local + shift
    plan = orient(affinity.translate(plan, shift[0], shift[1]), 1.0)
    outline = affinity.translate(outline, shift[0], shift[1])

    linear = mirror @ turn @ yaw @ rot
    to_canonical = np.eye(4)
    to_canonical[:3, :3] = linear * clean.scale
    to_canonical[:3, 3] = shift - linear @ origin
    report.update({"side": side, "ground_normal": [round(float(c), 4) for c in up]})
    log.info("scan aligned: %s foot, sole contact %s, heel/toe contrast %.2f, side score %.2f",
             side, report["sole_contact"], contrast, score)
    return FootScan(clean.path, local, plan, outline, side, clean.units, to_canonical,
                    {**clean.report, **report})
