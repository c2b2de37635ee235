"""functional_shell: a 3 mm shell hollow under the arch, flat rearfoot post on the floor.

Measured on the written STL with independent vertical ray casts (tests/scanutil.py):
shell thickness over the arch = base thickness +-0.3 mm; bottom >= 3 mm above the floor
under the arch apex; post bottom on z = 0 (+-0.05 mm) over the heel; volume <= 50 % of
the casual insole of the same order.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from conftest import CONDITIONS, load, make_pair
from scanutil import highest_z, lowest_z

FOOT = {"foot_length_mm": "265", "side": "right", "resolution_mm": "2"}


@pytest.mark.parametrize("condition", CONDITIONS)
def test_shell_measures_as_a_shell(tmp_path, condition):
    shell = make_pair(tmp_path / "s", conditions=condition, base="functional_shell", **FOOT)
    casual = make_pair(tmp_path / "c", conditions=condition, **FOOT)
    mesh = load(shell.files["right"])
    assert mesh.is_watertight and abs(mesh.bounds[0][2]) < 1e-6
    assert mesh.volume <= 0.5 * load(casual.files["right"]).volume
    report = json.loads(shell.files["report"].read_text())["design"]
    thickness = report["params"]["base_thickness_mm"] + report["params"]["top_cover_thickness_mm"]
    assert thickness == 3.0
    outline = Polygon(report["outline"])
    L, end = 265.0, report["insole_length_mm"]
    post_end = report["params"]["post_length_mm"] * L / 265.0
    tri = mesh.triangles

    # Over the arch: between the post's blend and the front rest, away from the rims. The
    # front rests along the cut, parallel to the metatarsal-head line: 25 mm behind it.
    inner = outline.buffer(-10.0).intersection(
        shapely.box(1.25 * post_end + 5.0, -200, end - 25.0, 200))
    gx, gy = np.meshgrid(np.arange(0, end, 4.0), np.arange(-100, 100, 4.0))
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    (x1, y1), (x5, y5) = report["landmarks"]["mth1"], report["landmarks"]["mth5"]
    normal = np.array([y1 - y5, x5 - x1]) / np.hypot(x1 - x5, y1 - y5)
    ahead = np.asarray(outline.exterior.coords) @ normal
    arch = pts[shapely.contains_xy(inner, pts[:, 0], pts[:, 1]) & (pts @ normal <= ahead.max() - 25)]
    assert len(arch) > 50
    gap = highest_z(tri, arch) - lowest_z(tri, arch)
    assert np.all(np.abs(gap - thickness) <= 0.3), (gap.min(), gap.max())

    apex = np.array([report["landmarks"]["arch_apex"]])
    assert lowest_z(tri, apex)[0] >= 3.0

    heel = outline.buffer(-3.0).intersection(shapely.box(3.0, -200, post_end - 1.0, 200))
    under = pts[shapely.contains_xy(heel, pts[:, 0], pts[:, 1])]
    assert len(under) > 30
    assert np.all(np.abs(lowest_z(tri, under)) <= 0.05)


def test_shell_engraves_under_the_post(tmp_path):
    result = make_pair(tmp_path, conditions="flat_feet", base="functional_shell",
                       engrave="true", order_id="SH1", **FOOT)
    mesh = load(result.files["right"])
    assert mesh.is_watertight and mesh.is_winding_consistent
    info = json.loads(result.files["report"].read_text())["making"]["engraving"]["right"]
    assert info["centre_mm"][0] < 60.0  # under the rearfoot post, the part on the floor
