"""Soft plugs: the separate, softer bodies that fill a design's soft-plug recesses.

Each plug is a disk of the recess's diameter, its bottom on the recess's
flat floor (the design's top there) and its top ``depth_mm`` above it, so
that set in its recess it is flush with the surface around. It is closed by
the same extrusion as the insole. The recess's wall slopes outward over
1.5 mm beyond the plug's edge (see :mod:`insolegen.design.additions`), room
for a foam or TPU plug to be pressed in.
"""

from __future__ import annotations

from shapely.geometry import Point

from insolegen.design.plan import triangulate_plan
from insolegen.mesh.solid import Solid, extrude


def plug_solids(design) -> list[tuple[str, Solid]]:
    """``(label, solid)`` of every soft plug of ``design`` (right-foot frame, mm); none
    for a design without additions."""
    from insolegen.design.additions import plug_centre
    out = []
    for name, q in getattr(design, "additions", ()):
        if name != "soft_plug":
            continue
        disk = Point(plug_centre(design, q)).buffer(q["diameter_mm"] / 2, quad_segs=32)
        plan = triangulate_plan(disk, min(design.resolution_mm, 1.0))
        floor = design.top(plan.points)
        out.append((f"soft plug at {q['at']}", extrude(plan, floor + q["depth_mm"], floor)))
    return out
