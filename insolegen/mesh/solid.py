"""From a design to one closed solid: top and bottom over the design's plan, side walls.

Both surfaces are height fields over the same plan triangulation: top
vertices at z_top, bottom ones at z_bottom (0 where the part rests on the
floor, higher under a shell's hollow arch), and the walls share the border
vertices of both: the solid is closed by construction whatever the
heights, as long as z_top > z_bottom >= 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from insolegen.core.errors import InsolegenError
from insolegen.design.plan import PlanMesh


@dataclass(frozen=True)
class Solid:
    """A closed triangle mesh: ``vertices`` (n, 3) float mm, ``faces`` (m, 3) int,
    wound counter-clockwise seen from outside."""

    vertices: np.ndarray
    faces: np.ndarray

    def mirrored(self) -> Solid:
        """Mirror image in Y (right insole -> left), faces re-wound."""
        v = self.vertices * np.array([1.0, -1.0, 1.0])
        return Solid(v, self.faces[:, ::-1].copy())

    @property
    def triangles(self) -> np.ndarray:
        """(m, 3, 3) float: the corners of every face."""
        return self.vertices[self.faces]


def offset_ring(plan: PlanMesh, distance: np.ndarray) -> np.ndarray:
    """(k, 2) the plan's border moved outward by ``distance`` (k,) mm per ring vertex,
    mitred: every border edge moves parallel to itself by exactly its distance."""
    ring = plan.points[plan.ring]
    t = np.roll(ring, -1, axis=0) - ring
    t /= np.linalg.norm(t, axis=1)[:, None]
    normal = np.column_stack([t[:, 1], -t[:, 0]])  # outward of a counter-clockwise ring
    before = np.roll(normal, 1, axis=0)
    mitre = normal + before
    mitre /= np.linalg.norm(mitre, axis=1)[:, None]
    return ring + mitre * (np.asarray(distance, float) / np.sum(mitre * normal, axis=1))[:, None]


def extrude(plan: PlanMesh, z_top: np.ndarray, z_bottom: np.ndarray | None = None,
            flare_top: np.ndarray | None = None, flare_bottom: np.ndarray | None = None
            ) -> Solid:
    """Close the plan into a solid between ``z_bottom`` (n,) (mm, default 0: a flat
    bottom) and ``z_top`` (n,) (mm).

    ``flare_bottom`` / ``flare_top`` (k,) mm > 0 per border vertex: that surface gets a
    flat annulus out to the border moved outward by that much (:func:`offset_ring`), and
    the wall runs from one surface's outer ring to the other's."""
    z_bottom = np.zeros(len(plan.points)) if z_bottom is None else np.asarray(z_bottom, float)
    if np.any(~np.isfinite(z_top)) or np.any(~np.isfinite(z_bottom)) \
            or np.any(z_top <= z_bottom):
        raise InsolegenError("top surface at or below the bottom: cannot close the solid")
    if np.any(z_bottom < 0):
        raise InsolegenError("bottom surface below the floor (z < 0): cannot close the solid")
    n = len(plan.points)
    vertices = np.empty((2 * n, 3))
    vertices[:n, :2] = plan.points
    vertices[:n, 2] = z_top
    vertices[n:, :2] = plan.points
    vertices[n:, 2] = z_bottom
    a = plan.ring
    top_out, bottom_out = a, a + n
    faces = [plan.faces, plan.faces[:, ::-1] + n]
    for flare, inner, up in ((flare_top, a, True), (flare_bottom, a + n, False)):
        if flare is None:
            continue
        outer = len(vertices) + np.arange(len(a))
        vertices = np.vstack([vertices, np.column_stack([offset_ring(plan, flare),
                                                         vertices[inner, 2]])])
        i, j, o, p = inner, np.roll(inner, -1), outer, np.roll(outer, -1)
        if up:
            faces += [np.column_stack([i, o, p]), np.column_stack([i, p, j])]
            top_out = outer
        else:  # faces down
            faces += [np.column_stack([i, p, o]), np.column_stack([i, j, p])]
            bottom_out = outer
    t, u = top_out, np.roll(top_out, -1)
    d, e = bottom_out, np.roll(bottom_out, -1)
    faces += [np.column_stack([d, e, u]), np.column_stack([d, u, t])]
    return Solid(vertices, np.concatenate(faces))


def wall_flare(design) -> float:
    """How far (mm) the outer wall flares out at the bottom: the design's ``wall_flare_mm``
    (0: vertical walls, designs made before it had none)."""
    return float(design.params.get("wall_flare_mm", 0.0))


def build_insole(design, side: str = "right") -> Solid:
    """The insole solid for ``design`` (an :class:`~insolegen.design.model.InsoleDesign`).

    Solid throughout: ``design.infill`` (lower-density regions) is not built yet;
    a lattice builder would start from this solid's surfaces.
    """
    plan = design.plan_mesh
    z_top = design.top(plan.points)
    flare = wall_flare(design)
    solid = extrude(plan, z_top, design.bottom(plan.points, z_top),
                    flare_bottom=np.full(len(plan.ring), flare) if flare > 0 else None)
    return solid if side == "right" else solid.mirrored()
