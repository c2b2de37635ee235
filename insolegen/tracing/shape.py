"""A plantar outline in any frame (mm) to a :class:`~insolegen.foot.model.Foot`.

1. **Checked**: at least :data:`MIN_POINTS` finite points, a simple ring (one
   that crosses itself is refused, naming where), a foot's size.
2. **Long axis**: the principal axis of the outline's area.
3. **Heel or toe**: the toe end is the wider (the ball); ends that look alike
   are refused.
4. **Side**: with X heel to toe, the medial side is the one the longest toe
   (hallux) lies on and the one whose border curves in under the midfoot
   (the medial arch); medial on +Y is a right foot. A left outline is
   mirrored into the canonical right-foot frame. A side given by the order
   wins; the detected one is reported beside it.
5. **Origin**: x = 0 at the back of the heel, y = 0 on the heel's midline.

Measurements use the definitions of the scan measurements
(:mod:`insolegen.scan.measure`), taken on the outline: length along X, ball
width the widest part ahead of half length, heel width the widest part behind
:data:`HEEL_BREADTH_FRAC` of the length. Landmarks and the plantar surface
come from the template scaled to these (an outline says nothing of heights).
"""

from __future__ import annotations

import dataclasses

import numpy as np
import shapely
from shapely import affinity
from shapely.geometry import LineString, Polygon
from shapely.geometry.polygon import orient

from insolegen.core.errors import InputError
from insolegen.foot.measurements import Measurements, foot_from_measurements
from insolegen.foot.model import Foot, template_landmarks
from insolegen.foot.outline import BALL_ZONE_FRAC, principal_angle, width_profile

MIN_POINTS = 8
HEEL_BREADTH_FRAC = 0.18     # as scan.measure: heel breadth behind the malleoli
END_ZONE_FRAC = 0.35         # of the length: each end's zone for the heel/toe test
MIN_END_CONTRAST = 0.12      # log(toe end width / heel end width) of a foot, at least
MIN_SIDE_SCORE = 0.3         # |toe cue + arch cue| to tell left from right
OUTLINE_CLOSE_MM = 6.0       # toe gaps closed (as scan.plantar.smooth_outline) ...
OUTLINE_OPEN_MM = 1.5        # ... and spikes rounded off
LENGTH_RANGE_MM = (100.0, 360.0)


class OutlineError(InputError):
    """An outline file or tracing cannot be read or is not a foot's outline."""


def checked_polygon(xy: np.ndarray, what: str) -> Polygon:
    """The simple polygon of a closed ring of (n, 2) points (mm), or :class:`OutlineError`."""
    xy = np.asarray(xy, dtype=float)
    if xy.ndim != 2 or xy.shape[1] != 2 or len(xy) < MIN_POINTS:
        raise OutlineError(f"{what}: {len(xy)} points; an outline has at least {MIN_POINTS}")
    if not np.isfinite(xy).all():
        raise OutlineError(f"{what}: {int((~np.isfinite(xy)).any(axis=1).sum())} points are "
                           "not finite numbers")
    if np.allclose(xy[0], xy[-1]):
        xy = xy[:-1]
    keep = np.ones(len(xy), bool)
    keep[1:] = np.any(np.diff(xy, axis=0) != 0, axis=1)
    xy = xy[keep]
    ring = LineString(np.vstack([xy, xy[:1]]))
    if not ring.is_simple:
        crossing = _crossing(xy)
        raise OutlineError(f"{what}: the outline crosses itself near ({crossing[0]:.1f}, "
                           f"{crossing[1]:.1f}) mm; expected one closed line round the foot")
    polygon = orient(Polygon(xy), 1.0)
    if polygon.area <= 0:
        raise OutlineError(f"{what}: the outline encloses no area")
    return polygon


def _crossing(xy: np.ndarray) -> tuple[float, float]:
    """A point where the closed ring ``xy`` crosses itself (first found)."""
    seg = [LineString([xy[i], xy[(i + 1) % len(xy)]]) for i in range(len(xy))]
    tree = shapely.STRtree(seg)
    a, b = tree.query(seg, predicate="intersects")
    n = len(xy)
    far = (np.abs(a - b) > 1) & (np.abs(a - b) != n - 1)
    i, j = int(a[far][0]), int(b[far][0])
    p = seg[i].intersection(seg[j])
    c = p.centroid if not p.is_empty else seg[i].centroid
    return float(c.x), float(c.y)


def _toe_cue(plan: Polygon, length: float) -> float:
    """How far (of the ball's half width) to +Y of the ball's centre the foremost toe lies."""
    x0 = plan.bounds[0]
    xs = np.linspace(x0 + BALL_ZONE_FRAC * length, x0 + 0.85 * length, 80)
    lo, hi = width_profile(plan, xs)
    ball = int(np.argmax(hi - lo))
    centre, half = (lo[ball] + hi[ball]) / 2, (hi[ball] - lo[ball]) / 2
    ring = np.asarray(plan.exterior.coords)
    front = ring[ring[:, 0] >= plan.bounds[2] - 0.03 * length]
    return float((front[:, 1].mean() - centre) / half)


def _arch_cue(plan: Polygon, length: float) -> float:
    """How much more the +Y border curves in under the midfoot than the -Y border
    (mm, depth below the chord from heel to ball on each side)."""
    x0 = plan.bounds[0]
    xs = x0 + length * np.array([0.2, 0.3, 0.4, 0.5, 0.7])
    lo, hi = width_profile(plan, xs)
    chord_hi = np.interp(xs[1:4], xs[[0, 4]], hi[[0, 4]])
    chord_lo = np.interp(xs[1:4], xs[[0, 4]], lo[[0, 4]])
    return float((chord_hi - hi[1:4]).max() - (lo[1:4] - chord_lo).max())


def canonical_outline(polygon: Polygon, what: str, side: str | None = None
                      ) -> tuple[Polygon, str, dict]:
    """The outline in the canonical right-foot frame, its side and what told it.

    Returns
    -------
    outline : Polygon
        Heel back at x = 0, heel midline on y = 0, +Y medial, counter-clockwise.
    side : str
        ``left`` or ``right``: ``side`` if given, else detected.
    report : dict
        The cues (``heel_toe_contrast``, ``side_cues``) and ``side_source``.
    """
    centroid = polygon.centroid
    plan = affinity.rotate(polygon, -principal_angle(polygon), origin=centroid, use_radians=True)
    x0, _, x1, _ = plan.bounds
    length = x1 - x0
    low, high = LENGTH_RANGE_MM
    if not low <= length <= high:
        raise OutlineError(f"{what}: {length:.1f} mm long; a foot's outline is {low:g}-{high:g}"
                           " mm (check the unit: x,y in mm, or a unit column or header)")
    zone = np.linspace(0, END_ZONE_FRAC * length, 40)
    lo_r, hi_r = width_profile(plan, x0 + zone)
    lo_f, hi_f = width_profile(plan, x1 - zone[::-1])
    contrast = float(np.log((hi_f - lo_f).max() / (hi_r - lo_r).max()))
    report: dict = {"heel_toe_contrast": round(contrast, 3)}
    if abs(contrast) < MIN_END_CONTRAST:
        raise OutlineError(f"{what}: heel and toe ends look alike (width contrast "
                           f"{contrast:.2f}, a foot {MIN_END_CONTRAST:g} or more): not a foot")
    if contrast < 0:
        plan = affinity.rotate(plan, 180, origin=plan.centroid)
    toe, arch = _toe_cue(plan, length), _arch_cue(plan, length)
    score = toe / 0.25 + arch / 4.0
    detected = "right" if score >= MIN_SIDE_SCORE else "left" if score <= -MIN_SIDE_SCORE \
        else None
    report["side_cues"] = {"toe_line": round(toe, 3), "arch_mm": round(arch, 2),
                           "score": round(score, 3), "detected": detected}
    if side is None:
        if detected is None:
            raise OutlineError(f"{what}: cannot tell left from right from the outline (toe line "
                               f"{toe:+.2f}, arch {arch:+.1f} mm); give --side left or right")
        side, report["side_source"] = detected, "detected from the outline's shape"
    else:
        report["side_source"] = "given" + ("" if detected in (None, side)
                                           else f" (the outline looks like a {detected} foot)")
    if side == "left":
        plan = affinity.scale(plan, 1.0, -1.0, origin=plan.centroid)
    x0 = plan.bounds[0]
    lo, hi = width_profile(plan, np.linspace(x0, x0 + 0.25 * length, 40))
    plan = affinity.translate(plan, -x0, -float((lo.min() + hi.max()) / 2))
    return orient(plan, 1.0), side, report


def smoothed(plan: Polygon) -> Polygon:
    """The outline as an insole outline: toe gaps closed, spikes rounded, starting at its
    rearmost point, back at x = 0."""
    closed = plan.buffer(OUTLINE_CLOSE_MM, quad_segs=16).buffer(-OUTLINE_CLOSE_MM, quad_segs=16)
    opened = closed.buffer(-OUTLINE_OPEN_MM, quad_segs=16).buffer(OUTLINE_OPEN_MM, quad_segs=16)
    if opened.geom_type != "Polygon":
        opened = max(opened.geoms, key=lambda g: g.area)
    ring = np.asarray(orient(shapely.simplify(opened, 0.05), 1.0).exterior.coords)[:-1]
    ring = ring - [ring[:, 0].min(), 0.0]
    return Polygon(np.roll(ring, -int(np.argmin(ring[:, 0])), axis=0))


def outline_measurements(outline: Polygon) -> dict[str, float]:
    """Foot length, ball width and heel width (mm) of a canonical outline."""
    x0, _, x1, _ = outline.bounds
    length = x1 - x0
    xs_ball = np.linspace(x0 + BALL_ZONE_FRAC * length, x1, 400)
    xs_heel = np.linspace(x0, x0 + HEEL_BREADTH_FRAC * length, 200)
    return {"foot_length_mm": round(float(length), 2),
            "ball_width_mm": round(float(np.ptp(np.concatenate(width_profile(outline,
                                                                             xs_ball)))), 2),
            "heel_width_mm": round(float(np.ptp(np.concatenate(width_profile(outline,
                                                                             xs_heel)))), 2)}


def foot_from_polygon(polygon: Polygon, what: str, side: str | None, report: dict) -> Foot:
    """The :class:`Foot` of an outline in any frame (mm); ``report`` goes to ``Foot.scan``
    with the detection cues and the measurements added."""
    plan, side, cues = canonical_outline(polygon, what, side)
    outline = smoothed(plan)
    m = outline_measurements(outline)
    try:
        template = foot_from_measurements(Measurements(**m, side=side))
    except InputError as exc:
        raise OutlineError(f"{what}: {exc}") from None
    source = f"outline ({report.get('file', what)})"
    sources = dict(template.sources)
    sources.update({k: source for k in m})
    sources.update({"outline": f"{source}: traced border",
                    "plantar": "template over the outline (an outline has no heights)"})
    summary = {**report, "kind": "outline", "side": side, **cues, **m,
               "cannot_measure": ["plantar_arch_height_mm", "dorsal_height_50_mm",
                                  "arch_height_index"]}
    return dataclasses.replace(
        template, outline=outline, sources=sources, scan=summary,
        landmarks=template_landmarks(outline, m["foot_length_mm"], m["heel_width_mm"]))
