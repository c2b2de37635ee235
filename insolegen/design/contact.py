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
  ``heel_cup_depth_mm``, so the cup hugs the heel and its rim stands that
  high above the seat; the parametric cup wall stays as a floor, so the rim
  reaches the depth even where the scan's heel is low;
- under the medial arch (the arch support's footprint): the sole's own
  height at the arch apex, so the arch is filled to the apex and no higher;
- everywhere else: :data:`RIM_MM`, a low lip at the lateral midfoot and the
  forefoot.

So ``top = stack + max(min(P, P_seat + trim), P_seat + cup_wall) + corrections``.
The arch support of the profile is then only what the fill leaves to do
(:func:`arch_support`).
"""

from __future__ import annotations

import numpy as np

from insolegen.geometry.inspection import SEAT_RADIUS

RIM_MM = 6.0  # how high the insole follows the foot's sides outside heel cup and arch


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
    follow = np.minimum(plantar_at(d.foot, xy), seat + trim)
    return np.maximum(follow, seat + cup_wall)


def arch_support(target_mm: float, fill_mm: float, tolerance_mm: float) -> float:
    """Arch support (mm) to add over a total-contact fill.

    The profile's ``arch_support_height_mm`` is the rise it wants at the apex
    above the midline; the fill already gives ``fill_mm`` of it, and the rest
    may press into the arch by at most ``arch_tolerance_mm``.
    """
    return float(min(max(target_mm - fill_mm, 0.0), tolerance_mm))
