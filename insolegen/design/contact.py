"""Total contact: the insole's top follows the foot's own sole, from a scan.

With a scanned foot the top surface is the plantar surface ``P(x, y)`` (its
height above the ground, :class:`~insolegen.foot.model.PlantarSurface`) lifted by
the printed stack (base + top cover), and the condition's corrections are
added on top as for a template foot. Near the insole's border the sole turns
up into the foot's sides, so the insole follows it only up to a trim height
above the foot's own heel seat ``P_seat`` (the plane through the sole under
the heel, as ``inspection.py`` fits the seat, blended into the sole's height
at the heel centre as the heel cup fades out, so that the cup's depth measures
as the profile says):

- in the heel (fading out as the parametric heel cup does): the profile's
  ``heel_cup_depth_mm``, so the cup hugs the heel; the parametric cup wall
  stays as a floor where the scanned heel is low;
- under the medial arch (the arch support's footprint): the sole's own
  height at the arch apex, so the arch is filled to the apex and no higher;
- everywhere else: :data:`RIM_MM`, following the foot's sides a little.

The trims are smooth minima (:data:`TRIM_SOFT_MM`): rounded shoulders, no
flat-topped step. So ``top = stack + max(smin(P, P_seat + trim), P_seat + cup_wall)
+ corrections``, the arch support being only what the fill leaves to do
(:func:`arch_support`).

**Fit to the foot** (:func:`fit_to_foot`, the last step before the toe
feather): the foot rests on the top at the heel seat (lifted and tilted across
as :func:`insolegen.geometry.penetration.registration` fits it), and the whole
top (cup floor, flange, posts, skive, edge raises, met pad, arch support) is
held below that sole plus ``heel_compression_mm`` by a smooth minimum
(:data:`SOFT_MM`). The sole it is held to is the lowest within one plan edge
of each vertex (:func:`sole_below`), so the flat faces between the vertices
keep to it too, on the sole's map opened over :data:`OPEN_MM` (:func:`opened_sole`):
never higher than the scan, its narrow spikes cut by up to :data:`OPEN_CUT_MM`. Ahead of the heel cup the border rolls down (:data:`ROLL_MM`,
:data:`ROLL_DROP`): a rounded edge, not a wall as tall as the foot's side.
:func:`check_fit` refuses what cannot be made so.

Allowance: ``heel_compression_mm`` (default 2 mm) is a lab convention, no
publication sets a limit for a device; it is a fraction of what standing
does to the heel: the unloaded heel pad is well over a centimetre thick and
loses several millimetres under body weight (Prichasuk S. The heel pad in
plantar heel pain. J Bone Joint Surg Br 1994;76(1):140-142, loaded and
unloaded thickness on radiographs; Cavanagh PR. Plantar soft tissue thickness
during ground contact in walking. J Biomech 1999;32(6):623-628).
"""

from __future__ import annotations

import numpy as np

from insolegen.core.errors import InputError
from insolegen.foot.model import PlantarSurface
from insolegen.geometry.inspection import SEAT_RADIUS
from insolegen.geometry.penetration import registration

RIM_MM = 6.0  # how high the insole follows the foot's sides outside heel cup and arch
TRIM_SOFT_MM = 2.0  # the trim rounds over this much: a shoulder, not a flat-topped step
ROLL_MM = 5.0        # ahead of the heel cup the border rolls down over this width...
ROLL_DROP = 0.5      # ...to this fraction of its rise above the printed stack


def plantar_at(foot, xy: np.ndarray) -> np.ndarray:
    """Plantar height (mm) at (n, 2) points, held constant beyond the grid's edge."""
    p = foot.plantar
    rows, cols = p.grid.shape
    x = np.clip(xy[:, 0], p.x0, p.x0 + (cols - 1) * p.step_mm)
    y = np.clip(xy[:, 1], p.y0, p.y0 + (rows - 1) * p.step_mm)
    return p.heights(np.column_stack([x, y]))


def seat_and_fill(foot) -> tuple[float, float]:
    """The sole's height under the heel centre (mm) and the arch apex's rise above it (mm)."""
    seat, apex = plantar_at(foot, np.array([foot.landmarks["heel_centre"],
                                            foot.landmarks["arch_apex"]]))
    return float(seat), float(max(apex - seat, 0.0))


def seat_plane(foot) -> np.ndarray:
    """``(height at the heel centre, slope along x, slope across y)`` of the plane fitted
    to the sole within the heel seat disk (``SEAT_RADIUS`` heel widths), mm."""
    hx, hy = foot.landmarks["heel_centre"]
    r = SEAT_RADIUS * foot.heel_width_mm
    g = np.arange(-r, r + 0.5, 1.0)
    dx, dy = (a.ravel() for a in np.meshgrid(g, g))
    disk = dx * dx + dy * dy <= r * r
    dx, dy = dx[disk], dy[disk]
    z = plantar_at(foot, np.column_stack([hx + dx, hy + dy]))
    return np.linalg.lstsq(np.column_stack([np.ones(len(dx)), dx, dy]), z, rcond=None)[0]


def contact_height(d, xy: np.ndarray, cup_wall: np.ndarray, arch_shape: np.ndarray,
                   heel_zone: np.ndarray) -> np.ndarray:
    """The total-contact term (mm) at (n, 2) plan points for design ``d`` (see the module).

    Parameters
    ----------
    cup_wall : (n,) float
        The parametric heel cup wall (depth times its edge band), mm.
    arch_shape : (n,) float
        The arch support's shape, 1 at the apex, 0 off the medial midfoot.
    heel_zone : (n,) float
        1 in the heel, fading to 0 where the heel cup ends.
    """
    centre, fill = seat_and_fill(d.foot)
    c0, cx, cy = seat_plane(d.foot)
    hx, hy = d.foot.landmarks["heel_centre"]
    plane = c0 + cx * (xy[:, 0] - hx) + cy * (xy[:, 1] - hy)
    seat = centre + heel_zone * (plane - centre)
    trim = np.maximum(np.maximum(d.params["heel_cup_depth_mm"] * heel_zone, fill * arch_shape),
                      RIM_MM)
    follow = smooth_min(plantar_at(d.foot, xy), seat + trim, TRIM_SOFT_MM)
    return np.maximum(follow, seat + cup_wall)


def arch_support(target_mm: float, fill_mm: float, tolerance_mm: float) -> float:
    """Arch support (mm) to add over a total-contact fill.

    The profile's ``arch_support_height_mm`` is the rise it wants at the apex
    above the midline; the fill already gives ``fill_mm`` of it, and the rest
    may press into the arch by at most ``arch_tolerance_mm``.
    """
    return float(min(max(target_mm - fill_mm, 0.0), tolerance_mm))


SOFT_MM = 1.0  # the clip to the foot rounds over this much below the allowance
# Kept clear of the allowance (mm): the file is registered on its own vertices, the design
# on a finer grid, and float32 rounds.
FIT_MARGIN_MM = 0.1


def smooth_min(a: np.ndarray, b: np.ndarray, k: float) -> np.ndarray:
    """Polynomial smooth minimum (mm): never above ``min(a, b)``, equal to it where ``a`` and
    ``b`` differ by ``k`` or more, C1 across; ``k`` 0 is the plain minimum."""
    if k <= 0:
        return np.minimum(a, b)
    h = np.clip(1.0 - np.abs(a - b) / k, 0.0, None)
    return np.minimum(a, b) - h * h * k / 4.0


def foot_registration(d) -> tuple[float, float]:
    """How the scanned foot rests on design ``d``'s top at the heel seat: ``(lift, slope
    across y)`` (:func:`insolegen.geometry.penetration.registration`, on a 0.5 mm grid),
    fitted to the top held to the foot as a first fit registers it (the file is measured
    so: where the fit lowers the seat, a rough scan, the foot rests lower)."""
    hx, hy = d.foot.landmarks["heel_centre"]
    r = SEAT_RADIUS * d.foot.heel_width_mm
    g = np.arange(-r, r + 0.25, 0.5)
    gx, gy = (a.ravel() for a in np.meshgrid(g, g))
    xy = np.column_stack([hx + gx, hy + gy])[gx * gx + gy * gy <= r * r]
    sole = plantar_at(d.foot, xy)
    # In a shoe the foot rests on the top as on a flat floor: foot and insole bend with the
    # shoe's insole board (insolegen.design.shoefit), so the board's height is not a lift.
    top = getattr(d, "thickness", d.top)(xy, fitted=False)
    rest = registration(np.column_stack([xy, top]), sole, (hx, hy), d.foot.heel_width_mm,
                        d.seat_exclusions)
    held = smooth_min(top, _limit(d, xy, rest), _soft(d))
    return registration(np.column_stack([xy, held]), sole, (hx, hy), d.foot.heel_width_mm,
                        d.seat_exclusions)


def foot_limit(d, xy: np.ndarray) -> np.ndarray:
    """The highest the top may be at (n, 2) plan points (mm): the scanned sole as it rests on
    the top (:attr:`InsoleDesign.foot_registration`) plus ``heel_compression_mm``, less
    :data:`FIT_MARGIN_MM`."""
    return _limit(d, xy, d.foot_registration)


def _limit(d, xy: np.ndarray, rest: tuple[float, float]) -> np.ndarray:
    lift, slope = rest
    return (sole_below(d.foot, xy, d.resolution_mm, opened=True) + lift
            + slope * (xy[:, 1] - d.foot.landmarks["heel_centre"][1])
            + d.params["heel_compression_mm"] - FIT_MARGIN_MM)


def _soft(d) -> float:
    """How far below the limit the clip starts rounding (mm): the seat, at the limit less
    the allowance, is never touched."""
    return min(SOFT_MM, max(d.params["heel_compression_mm"] - FIT_MARGIN_MM, 0.0))


def sole_below(foot, xy: np.ndarray, radius_mm: float, opened: bool = False) -> np.ndarray:
    """The lowest the sole comes (mm) within ``radius_mm`` of each (n, 2) point (the point and
    8 round it): a top held below it at its vertices stays below it over its faces too,
    however the sole curves between them. ``opened``: the sole's map opened first
    (:func:`opened_sole`), never higher than the sole."""
    angles = np.linspace(0.0, 2.0 * np.pi, 8, endpoint=False)
    ring = np.vstack([[0.0, 0.0], radius_mm * np.column_stack([np.cos(angles), np.sin(angles)])])
    around = (xy[:, None, :] + ring[None, :, :]).reshape(-1, 2)
    if opened:
        foot = _Sole(opened_sole(foot.plantar))
    return plantar_at(foot, around).reshape(len(xy), len(ring)).min(axis=1)


# The sole the top is held to is opened over this window (mm), lowering it by at most
# OPEN_CUT_MM (mm): the scan height map's bumps narrower than the window (its 2 mm cells
# at the foot's sides) are cut down, and the heel cup, which the scanned heel bounds, keeps
# its depth to within the cut (lab convention, no publication).
OPEN_MM = 6.0
OPEN_CUT_MM = 0.5
_OPENED: dict[int, tuple[PlantarSurface, PlantarSurface]] = {}


class _Sole:
    """A foot standing in for another with ``plantar`` as its sole (:func:`plantar_at`)."""

    def __init__(self, plantar: PlantarSurface) -> None:
        self.plantar = plantar


def opened_sole(plantar: PlantarSurface) -> PlantarSurface:
    """``plantar`` opened (the lowest over a square of :data:`OPEN_MM`, then the highest of
    that over the same square), by at most :data:`OPEN_CUT_MM`: the same or lower
    everywhere, narrow upward spikes cut down, broad shapes (heel, sides, arch) kept.
    Made once per sole."""
    made = _OPENED.get(id(plantar))
    if made is not None and made[0] is plantar:
        return made[1]
    grid = plantar.grid
    half = max(int(round(OPEN_MM / plantar.step_mm)) // 2, 1)

    def over_square(a: np.ndarray, pick) -> np.ndarray:
        padded = np.pad(a, half, mode="edge")
        window = np.lib.stride_tricks.sliding_window_view(padded, (2 * half + 1,) * 2)
        return pick(window, axis=(2, 3))

    low = np.minimum(over_square(over_square(grid, np.min), np.max), grid)
    low = np.maximum(low, grid - OPEN_CUT_MM)
    out = PlantarSurface(plantar.x0, plantar.y0, plantar.step_mm, tuple(map(tuple, low)))
    if len(_OPENED) > 8:
        _OPENED.clear()
    _OPENED[id(plantar)] = (plantar, out)
    return out


def fit_to_foot(d, xy: np.ndarray, z: np.ndarray, edge_mm: np.ndarray,
                heel_zone: np.ndarray) -> np.ndarray:
    """Top heights ``z`` (mm) at (n, 2) points held within the allowance of the scanned foot,
    rounded off over :data:`SOFT_MM` (less when the allowance is smaller); ahead of the
    heel cup (``heel_zone`` 1 behind the heel centre, 0 a tenth of the length ahead of it)
    the border rolls down over :data:`ROLL_MM`
    (``edge_mm`` the distance to it) to :data:`ROLL_DROP` of its rise, a rounded edge
    rather than a wall as tall as the foot's side."""
    p = d.params
    stack = p["base_thickness_mm"] + p["top_cover_thickness_mm"]
    t = np.clip(1.0 - edge_mm / ROLL_MM, 0.0, 1.0)
    roll = 1.0 - ROLL_DROP * t * t * (1.0 - heel_zone)
    z = np.where(z > stack, stack + (z - stack) * roll, z)
    return smooth_min(z, foot_limit(d, xy), _soft(d))


CUP_SHORT_MM = 1.0  # a heel cup this much shallower than asked is noted (refused if asked)


def check_fit(d, plan_points: np.ndarray) -> tuple[str, ...]:
    """Refuse a scanned-foot design that cannot be made within the allowance
    (``InputError``, one line): its minimum thickness alone would press deeper, or the
    order's own ``heel_cup_depth_mm`` is more than the scanned heel and the allowance
    give. Returns the notes on what the allowance changed."""
    limit = foot_limit(d, plan_points)
    t_min = d.params["min_thickness_mm"]
    k = int(np.argmin(limit))
    if limit[k] < t_min - 1e-6:
        a = d.params["heel_compression_mm"]
        raise InputError(
            f"heel_compression_mm = {a:g}: the scanned foot, resting on the heel seat, is "
            f"{limit[k] - a:.1f} mm above the floor at x = {plan_points[k, 0]:.0f} mm, so "
            f"min_thickness_mm = {t_min:g} would press {t_min - limit[k] + a:.1f} mm into it; "
            f"accepted: heel_compression_mm of at least {min(t_min - limit[k] + a, 4.0):.1f} "
            f"or a smaller min_thickness_mm")
    a = d.params["heel_compression_mm"]
    lift, slope = d.foot_registration
    notes = [f"fit to the scanned foot: it rests on the heel seat (lifted {lift:.1f} mm, tilted "
             f"{np.degrees(np.arctan(slope)):+.1f} deg across) and the top presses into it by at "
             f"most heel_compression_mm = {a:g} anywhere: cup, flange, posts, skive, raises, "
             "pads and arch support are held to the foot plus that"]
    asked, made = d.params["heel_cup_depth_mm"], d.expected["heel_cup_depth_mm"]
    if made < asked - CUP_SHORT_MM:
        if "heel_cup_depth_mm" in d.prescription.overrides:
            raise InputError(
                f"heel_cup_depth_mm = {asked:g}: the scanned heel and heel_compression_mm = "
                f"{a:g} allow a cup of {made:.1f} mm at the back; accepted: at most "
                f"{made:.1f}, or a larger heel_compression_mm (at most 4)")
        notes.append(f"heel cup {made:.1f} mm deep at the back (the profile's {asked:g} mm): "
                     f"as high as the scanned heel rises within the outline, plus {a:g} mm")
    return tuple(notes)


def scan_caps(p: dict) -> list[str]:
    """Parameters a scanned foot caps, changed in ``p`` (the applied parameters); the notes
    saying so. A met pad rises at most ``heel_compression_mm`` over the scanned sole, so it
    keeps its teardrop and its peak (the clip to the foot would flatten a taller one)."""
    notes = []
    a = p["heel_compression_mm"]
    if p["met_pad"] and p["met_pad_height_mm"] > a:
        notes.append(f"met_pad_height_mm reduced from {p['met_pad_height_mm']:g} to {a:g} mm: "
                     f"on a scan the top follows the sole and may press into it by at most "
                     f"heel_compression_mm = {a:g}")
        p["met_pad_height_mm"] = a
    return notes
