"""The top cover as its own body: the insole cut into a cover and a base.

The cut is a third height field over the same plan as top and bottom, the
interface ``z_i``: the cover is the solid between the top and ``z_i``, the
base the solid between ``z_i`` and the bottom (both by
:func:`insolegen.mesh.solid.extrude`), so the two share the interface's
vertices exactly and together are the one-piece solid, wall for wall.

Where the part is at least ``c + m`` thick (``c`` the cover thickness, ``m``
the part's ``min_thickness_mm``) the interface is ``c`` below the top: the
cover is exactly its stated thickness. Where it is thinner (a toe feather, a
recess, a shell's thin edge) the thickness ``t`` is shared in proportion,
the cover ``t c / (c + m)`` and the base ``t m / (c + m)``: both stay
positive, the base keeps its share of the minimum, and the two rules meet at
``t = c + m``. A flared wall (:func:`insolegen.mesh.solid.wall_flare`) is
cut where it crosses the interface, so the cover's bottom and the base's top
carry the same annulus and the wall stays one straight slope.
"""

from __future__ import annotations

import numpy as np

from insolegen.core.errors import InputError
from insolegen.mesh.solid import Solid, extrude, wall_flare


def interface(z_top: np.ndarray, z_bottom: np.ndarray, cover_mm: float, base_min_mm: float
              ) -> np.ndarray:
    """Heights (mm) of the cover/base interface over points whose top is ``z_top`` and
    bottom ``z_bottom`` (see the module's rule)."""
    t = z_top - z_bottom
    return z_bottom + np.maximum(t - cover_mm, t * base_min_mm / (cover_mm + base_min_mm))


def split_insole(design, side: str = "right") -> tuple[Solid, Solid]:
    """``(cover, base)`` of ``design``'s insole for ``side``: two closed solids sharing the
    interface, together the solid of :func:`insolegen.mesh.solid.build_insole`."""
    p = design.params
    cover_mm = float(p["top_cover_thickness_mm"])
    if cover_mm <= 0:
        raise InputError("split_cover = true: top_cover_thickness_mm = 0, there is no cover "
                         "to split off; accepted: a top_cover_thickness_mm above 0, or no "
                         "--split-cover")
    plan = design.plan_mesh
    z_top = design.top(plan.points)
    z_bottom = design.bottom(plan.points, z_top)
    z_mid = interface(z_top, z_bottom, cover_mm, float(p["min_thickness_mm"]))
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
