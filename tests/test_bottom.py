"""The bottom surface is a free height field: the solid closes between any two fields."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh
from shapely.geometry import Polygon

from insolegen.core.errors import InsolegenError
from insolegen.design.plan import triangulate_plan
from insolegen.mesh.solid import extrude
from scanutil import lowest_z

OUTLINE = Polygon([(0, -30), (120, -35), (140, 0), (120, 35), (0, 30), (-10, 0)])


def _fields(plan):
    x, y = plan.points[:, 0], plan.points[:, 1]
    top = 6.0 + 3.0 * np.sin(x / 25.0) + 0.05 * y
    bottom = np.clip(4.0 * np.exp(-((x - 70) ** 2 + y ** 2) / 600.0) - 0.5, 0.0, None)
    return top, bottom


def test_free_bottom_closes_and_measures_its_own_volume():
    plan = triangulate_plan(OUTLINE, 2.0)
    top, bottom = _fields(plan)
    solid = extrude(plan, top, bottom)
    mesh = trimesh.Trimesh(solid.vertices, solid.faces, process=True)
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    flat = trimesh.Trimesh(*(lambda s: (s.vertices, s.faces))(extrude(plan, top)), process=True)
    # The hollow is the bottom field's volume: integrate it on the plan triangles.
    tri = plan.points[plan.faces]
    area = 0.5 * np.abs(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]))
    hollow = float(np.sum(area * bottom[plan.faces].mean(axis=1)))
    assert hollow > 1000
    assert abs((flat.volume - mesh.volume) - hollow) < 1e-6 * flat.volume
    # A ray up from below the hollow's centre meets the bottom at the field's height.
    assert abs(lowest_z(mesh.triangles, np.array([[70.0, 0.0]]))[0] - 3.5) < 0.15
    assert abs(mesh.bounds[0][2]) < 1e-9  # still resting on z = 0 elsewhere


@pytest.mark.parametrize("shift, message", [(-0.1, "below the floor"),
                                            (None, "at or below the bottom")])
def test_extrude_refuses_crossing_or_sunken_bottoms(shift, message):
    plan = triangulate_plan(OUTLINE, 3.0)
    top, bottom = _fields(plan)
    bottom = bottom + shift if shift is not None else top.copy()
    with pytest.raises(InsolegenError, match=message):
        extrude(plan, top, bottom)
