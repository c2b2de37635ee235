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
from insolegen.design.plan import PlanMesh, triangulate_plan


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


def extrude(plan: PlanMesh, z_top: np.ndarray, z_bottom: np.ndarray | None = None) -> Solid:
    """Close the plan into a solid between ``z_bottom`` (n,) (mm, default 0: a flat
    bottom) and ``z_top`` (n,) (mm)."""
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
    b = np.roll(a, -1)
    walls = np.concatenate([np.column_stack([a + n, b + n, b]), np.column_stack([a + n, b, a])])
    faces = np.concatenate([plan.faces, plan.faces[:, ::-1] + n, walls])
    return Solid(vertices, faces)


def build_insole(design, side: str = "right") -> Solid:
    """The insole solid for ``design`` (an :class:`~insolegen.design.model.InsoleDesign`).

    Solid throughout: ``design.infill`` (lower-density regions) is not built yet;
    a lattice builder would start from this solid's surfaces.
    """
    plan = triangulate_plan(design.outline, design.resolution_mm)
    z_top = design.top(plan.points)
    solid = extrude(plan, z_top, design.bottom(plan.points, z_top))
    return solid if side == "right" else solid.mirrored()
