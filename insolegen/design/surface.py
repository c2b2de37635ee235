"""The insole's top surface as a sum of small features, each a height field.

Every feature takes the plan points and returns a height (mm) to add; the
top surface is their sum, feathered at the toe and never below the minimum
thickness. Heights are in the canonical right-foot frame (+Y medial); the
bottom of the insole is z = 0, so the top height is the thickness.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from shapely.geometry import Polygon

from insolegen.design.contact import ROLL_MM, contact_height, fit_to_foot
from insolegen.design.ends import (CUT_TAPER_MM, POST_RISE_MM, SULCUS_AHEAD_MM, SULCUS_FADE_MM,
                                   ahead_of_heads, behind_end, scale)
from insolegen.geometry.inspection import SEAT_RADIUS
from insolegen.geometry.nearest import nearest_within
from insolegen.foot.outline import resample_ring, width_profile

HEEL_CUP_BAND = 0.26     # heel cup wall width, fraction of heel width
EDGE_BAND_MM = 6.0       # edge raise and flange band
SKIVE_START = 0.45       # medial skive starts this far out (fraction of half heel width)


def smoothstep(t: np.ndarray) -> np.ndarray:
    """C1 ramp from 0 (t <= 0) to 1 (t >= 1)."""
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def ramp_down(x: np.ndarray, start: float, end: float) -> np.ndarray:
    """1 before ``start``, 0 after ``end``, smooth between."""
    return 1.0 - smoothstep((x - start) / (end - start))


def dish(x: np.ndarray, y: np.ndarray, centre: tuple[float, float], radius: float
         ) -> np.ndarray:
    """Compact smooth bump: 1 at ``centre``, 0 from ``radius`` on."""
    r2 = ((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / radius ** 2
    return np.where(r2 < 1.0, (1.0 - r2) ** 2, 0.0)


@dataclass(frozen=True)
class Plan:
    """Plan-view geometry the features need, computed once per outline (mm)."""

    xs: np.ndarray          # stations along X
    y_lat: np.ndarray       # lateral border (min y) at each station
    y_med: np.ndarray       # medial border (max y) at each station
    edge_samples: np.ndarray  # (k, 2) the border every 0.5 mm, for distance to edge
    length_mm: float

    @classmethod
    def from_outline(cls, outline: Polygon) -> Plan:
        length = outline.bounds[2]
        xs = np.linspace(0.0, length, 1201)
        y_lat, y_med = width_profile(outline, xs)
        return cls(xs, y_lat, y_med, resample_ring(outline, 0.5), length)

    def borders(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Lateral and medial border y at each x (mm)."""
        return np.interp(x, self.xs, self.y_lat), np.interp(x, self.xs, self.y_med)

    def across(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Position across the insole: -1 lateral border, 0 midline, +1 medial border."""
        lat, med = self.borders(x)
        return (2.0 * y - lat - med) / np.maximum(med - lat, 1e-6)

    def edge_distance(self, xy: np.ndarray, limit_mm: float) -> np.ndarray:
        """Distance (mm) from each (n, 2) point to the outline's border; inf past ``limit_mm``."""
        if not len(xy):  # e.g. only forefoot points asked for
            return np.full(0, np.inf)
        return nearest_within(self.edge_samples, xy, limit_mm)


def rim_profile(edge: np.ndarray, band: float, rim_mm: float) -> np.ndarray:
    """A wall's shape across its band (0-1) at distances ``edge`` (mm) from the border: flat
    for ``rim_mm`` (at most 40 % of the band) at the top, so the rim is that thick and not
    a knife edge, then a smooth S down to 0 at ``band``, round at both ends."""
    flat = min(rim_mm, 0.4 * band)
    return np.where(edge < band, 1.0 - smoothstep((edge - flat) / (band - flat)), 0.0)


def _post(angle_deg: float, y: np.ndarray, lat: np.ndarray | float,
          med: np.ndarray | float) -> np.ndarray:
    """Wedge raising the medial (+ angle) or lateral (- angle) side; adds material only."""
    slope = np.tan(np.radians(abs(angle_deg)))
    across = y - lat if angle_deg > 0 else med - y
    return slope * np.maximum(across, 0.0)


def met_pad_axes(d) -> tuple[float, float, float]:
    """The met pad's semi-axes (mm): ahead of its peak (to the 2nd head), behind it, across."""
    L = d.foot_length_mm
    return max(d.met_pad_offset_mm, 1.0), 0.09 * L, 0.05 * L


def sulcus_fade(d, xy: np.ndarray) -> np.ndarray:
    """1 up to :data:`SULCUS_FADE_MM` behind the sulcus line, 0 from it on: where forefoot
    posts end on a device that runs on under the toes."""
    s = ahead_of_heads(d, xy)
    k = scale(d)
    return ramp_down(s, (SULCUS_AHEAD_MM - SULCUS_FADE_MM) * k, SULCUS_AHEAD_MM * k)


def forefoot_post(d, xy: np.ndarray, angle_deg: float) -> np.ndarray:
    """The condition's forefoot post (mm): a wedge about the long axis under the
    metatarsal heads, from the low side's head (the 5th for + varus, the 1st for - valgus)
    rising ``tan(angle)`` per mm across to the other head and level beyond, so it stands
    ``|y1 - y5| tan(angle)`` at the far head. Along the foot it rises behind the head line
    (:data:`POST_RISE_MM`) and ends where the device ends: with the end taper of a
    three-quarter or sulcus device, by the sulcus (:func:`sulcus_fade`) on a full one."""
    y1, y5 = d.landmarks["mth1"][1], d.landmarks["mth5"][1]
    width = max(y1 - y5, 0.0)
    across = xy[:, 1] - y5 if angle_deg > 0 else y1 - xy[:, 1]
    start, full = (-r * scale(d) for r in POST_RISE_MM)
    rise = smoothstep((ahead_of_heads(d, xy) - start) / (full - start))
    return np.tan(np.radians(abs(angle_deg))) * np.clip(across, 0.0, width) * rise \
        * sulcus_fade(d, xy)


def end_taper(d, xy: np.ndarray) -> np.ndarray:
    """0-1: the end taper of design ``d`` at (n, 2) points; a full-length device feathers
    its toe over min(30 mm, 0.12 of its length) along x, a cut one over
    :data:`CUT_TAPER_MM` behind its cut line."""
    if d.end_line is None:
        end = d.insole_length_mm
        return ramp_down(xy[:, 0], end - min(30.0, 0.12 * end), end)
    return smoothstep(behind_end(d, xy) / CUT_TAPER_MM)


def top_height(d, plan: Plan, xy: np.ndarray, with_recesses: bool = True,
               fitted: bool = True) -> np.ndarray:
    """Top surface height z_top (mm) at (n, 2) plan points for design ``d``.

    ``d`` is an :class:`insolegen.design.model.InsoleDesign`; ``with_recesses``
    False leaves out the heel recess and the metatarsal reliefs (used to
    state the heel seat the recess is cut into); ``fitted`` False leaves the top of a
    scanned foot unclipped by the foot (used to register the foot on it).
    """
    p = d.params
    x, y = xy[:, 0], xy[:, 1]
    L = d.foot_length_mm
    marks = d.landmarks
    heel_w = d.heel_width_mm
    hx, hy = marks["heel_centre"]
    lat, med = plan.borders(x)
    edge = np.full(len(x), np.inf)
    near_rear = x < 0.62 * L  # every edge band (cup, raises, flange) lies behind this
    edge[near_rear] = plan.edge_distance(xy[near_rear], max(HEEL_CUP_BAND * heel_w, EDGE_BAND_MM))

    z = np.full(len(x), p["base_thickness_mm"] + p["top_cover_thickness_mm"])
    z += p["heel_lift_mm"] * ramp_down(x, 0.25 * L, 0.70 * L)
    z += p["leg_length_lift_mm"] * (1.0 - 0.5 * smoothstep((x - 0.5 * L) / (0.25 * L)))

    rear_end = d.rearfoot_end_mm
    if p["rearfoot_post_deg"]:
        z += _post(p["rearfoot_post_deg"], y, d.heel_lat_y, d.heel_med_y) * \
            ramp_down(x, rear_end - 0.12 * L, rear_end)
    if p["forefoot_post_deg"]:
        z += forefoot_post(d, xy, p["forefoot_post_deg"])

    ax, ay = marks["arch_apex"]
    front = min(marks["mth1"][0], marks["mth5"][0]) - 5.0
    rise = np.sin(0.5 * np.pi * np.clip((x - 0.22 * L) / (ax - 0.22 * L), 0, 1)) ** 2
    fall = np.cos(0.5 * np.pi * np.clip((x - ax) / (front - ax), 0, 1)) ** 2
    along = np.where(x <= ax, rise, fall)
    half_heel = heel_w / 2.0
    # Side weights start a third of the way out, so the back of the heel cup stays even.
    medial = smoothstep(((y - hy) / half_heel - 0.33) / 0.67)
    lateral = smoothstep(((hy - y) / half_heel - 0.33) / 0.67)

    band = HEEL_CUP_BAND * heel_w
    cup = rim_profile(edge, band, p["rim_thickness_mm"])
    # Medially the cup fades as the arch rises (1 - rise): the border goes from the cup's
    # rim to the arch's without a dip between them.
    heel_zone = ramp_down(x, 0.22 * L, 0.36 * L) * (1.0 - medial) \
        + np.where(x <= ax, 1.0 - rise, 0.0) * medial
    cup_wall = p["heel_cup_depth_mm"] * cup * heel_zone
    # Where the cup wall stands, the rim is the cup's depth above the seat all round the
    # heel: edge raises, flange and skive give way to it (they act in front of and inside it).
    give_way = 1.0 - cup * heel_zone

    arch_across = smoothstep(plan.across(x, y) / 0.7)
    if d.foot.plantar is None:
        z += cup_wall
    else:  # a scanned foot: total contact, the cup formed on the heel (insolegen.design.contact)
        z += contact_height(d, xy, cup_wall, along * arch_across, heel_zone)
    z += d.arch_support_height_mm * along * arch_across

    rim = np.where(edge < EDGE_BAND_MM, (1.0 - edge / EDGE_BAND_MM) ** 2, 0.0) * give_way
    rear_mid = ramp_down(x, 0.45 * L, 0.60 * L)
    z += rim * rear_mid * (p["medial_edge_raise_mm"] * medial + p["lateral_edge_raise_mm"] * lateral)
    z += p["medial_flange_mm"] * rim * medial * smoothstep((x - 0.20 * L) / (0.08 * L)) \
        * ramp_down(x, 0.52 * L, 0.62 * L)

    if p["medial_heel_skive_mm"]:
        start = hy + SKIVE_START * half_heel
        z += p["medial_heel_skive_mm"] * smoothstep((y - start) / (half_heel * (1 - SKIVE_START))) \
            * ramp_down(x, rear_end - 0.12 * L, rear_end) * give_way

    if p["met_pad"]:
        px, py = d.met_pad_centre
        front, back, side = met_pad_axes(d)
        dx = x - px
        ax_len = np.where(dx >= 0, front, back)  # ends at mth2
        ay_len = side * (1.0 - 0.4 * np.clip(-dx / back, 0, 1))
        r2 = (dx / ax_len) ** 2 + ((y - py) / ay_len) ** 2
        z += p["met_pad_height_mm"] * np.where(r2 < 1.0, (1.0 - r2) ** 2, 0.0)

    if with_recesses:
        if p["heel_spur_relief"]:
            z -= p["heel_recess_depth_mm"] * dish(x, y, d.heel_recess_centre,
                                                  p["heel_recess_diameter_mm"] / 2)
        for i in range(1, 6):
            if p[f"mth{i}_relief_mm"]:
                z -= p[f"mth{i}_relief_mm"] * dish(x, y, marks[f"mth{i}"], 0.035 * L)
        if p["met5_base_relief_mm"]:
            z -= p["met5_base_relief_mm"] * dish(x, y, marks["met5_base"], 0.03 * L)
        for rx, ry, radius, depth in getattr(d, "reliefs", ()):  # pressure reliefs (design.zones)
            z -= depth * dish(x, y, (rx, ry), radius)

    if fitted and d.foot.plantar is not None:  # within the allowance of the scanned foot
        border = np.full(len(x), np.inf)
        roll = ~near_rear & ((np.abs(plan.across(x, y)) > 1.0 - 2.0 * (ROLL_MM + 1.0)
                              / np.maximum(med - lat, 1.0)) | (behind_end(d, xy) < ROLL_MM + 1.0))
        if roll.any():  # only points near the border can be within the roll
            border[roll] = plan.edge_distance(xy[roll], ROLL_MM)
        z = fit_to_foot(d, xy, z, np.minimum(edge, border), ramp_down(x, hx, hx + 0.1 * L))
    t_min = p["min_thickness_mm"]
    z = t_min + (z - t_min) * end_taper(d, xy)
    return np.maximum(z, t_min)
