"""The top cover as its own body: the insole cut into a cover and a base.

The cut is a third height field over the same plan as top and bottom, the
interface ``z_i``: the cover is the solid between the top and ``z_i``, the
base the solid between ``z_i`` and the bottom (both by
:func:`insolegen.mesh.solid.extrude`), so the two share the interface's
vertices exactly and together are the one-piece solid, wall for wall.

Where the part is at least ``c + w`` thick (``c`` the cover thickness, ``w``
the base material's minimum wall) the interface is ``c`` below the top: the
cover is exactly its stated thickness. Where it is thinner (a toe feather, a
recess, a shell's thin edge) the base, the printed structure, keeps ``w`` and
the cover thins to what is left, down to :data:`FEATHER_MM` (the skived edge
of a cover; lab convention, no publication), the base then giving way to
keep it: both stay positive and the two rules meet at ``t = c + w``. A flared
wall (:func:`insolegen.mesh.solid.wall_flare`) is cut where it crosses the
interface, so the cover's bottom and the base's top carry the same annulus and
the wall stays one straight slope.
"""

from __future__ import annotations

import numpy as np

from insolegen.core.errors import InputError
from insolegen.mesh.solid import Solid, extrude, wall_flare


FEATHER_MM = 0.2  # the thinnest a cover runs out to at a thin edge


def interface(z_top: np.ndarray, z_bottom: np.ndarray, cover_mm: float, base_min_mm: float
              ) -> np.ndarray:
    """Heights (mm) of the cover/base interface over points whose top is ``z_top`` and
    bottom ``z_bottom`` (see the module's rule; a part thinner than ``FEATHER_MM``, which
    no minimum thickness allows, is halved)."""
    t = z_top - z_bottom
    base = np.maximum(t - cover_mm, np.minimum(base_min_mm, t - FEATHER_MM))
    return z_bottom + np.where(base > 0, base, t / 2)


def require_cover(cover_mm: float) -> None:
    """Refuse a split of a part without a top cover (``top_cover_thickness_mm``, mm)."""
    if cover_mm <= 0:
        raise InputError("split_cover = true: top_cover_thickness_mm = 0, there is no cover "
                         "to split off; accepted: a top_cover_thickness_mm above 0, or no "
                         "--split-cover")


def split_insole(design, side: str = "right", base_min_mm: float = 1.0
                 ) -> tuple[Solid, Solid]:
    """``(cover, base)`` of ``design``'s insole for ``side``: two closed solids sharing the
    interface, together the solid of :func:`insolegen.mesh.solid.build_insole`;
    ``base_min_mm`` the base material's minimum wall (mm)."""
    p = design.params
    cover_mm = float(p["top_cover_thickness_mm"])
    require_cover(cover_mm)
    plan = design.plan_mesh
    z_top = design.top(plan.points)
    z_bottom = design.bottom(plan.points, z_top)
    z_mid = interface(z_top, z_bottom, cover_mm, base_min_mm)
    flare = wall_flare(design)
    flare_mid = flare_bottom = None
    if flare > 0:
        ring = plan.ring
        flare_bottom = np.full(len(ring), flare)
        flare_mid = flare * (z_top[ring] - z_mid[ring]) / (z_top[ring] - z_bottom[ring])
    cover = extrude(plan, z_top, z_mid, flare_bottom=flare_mid)
    base = extrude(plan, z_mid, z_bottom, flare_top=flare_mid, flare_bottom=flare_bottom)
    if side != "right":
        cover, base = cover.mirrored(), base.mirrored()
    return cover, base
