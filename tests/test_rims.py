"""Heel cup depth all round the heel, rounded rims of a stated thickness, no medial dip.

Independent of the design code: the written STL is ray cast vertically
(tests/scanutil.py); the seat plane is fitted to those heights within 0.2 heel widths
of the heel centre (the definition in geometry/inspection.py).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import CONDITIONS, load, make_pair
from scanutil import highest_z


@pytest.mark.parametrize("condition", CONDITIONS)
def test_cup_depth_holds_all_round(tmp_path, condition):
    result = make_pair(tmp_path, conditions=condition, foot_length_mm="265", side="right")
    report = json.loads(result.files["report"].read_text())
    design, measured = report["design"], report["measured"]["right"]
    depth, rim_t = design["params"]["heel_cup_depth_mm"], design["params"]["rim_thickness_mm"]
    tri = load(result.files["right"]).triangles
    hx, hy = design["landmarks"]["heel_centre"]
    heel_w = design["foot"]["heel_width_mm"]
    r = 0.2 * heel_w
    gx, gy = np.meshgrid(np.arange(-r, r, 1.0), np.arange(-r, r, 1.0))
    disk = gx ** 2 + gy ** 2 <= r * r
    seat = np.column_stack([hx + gx[disk], hy + gy[disk]])
    for cx, cy, radius in design["seat_exclusions"]:  # a heel recess is not the seat
        seat = seat[(seat[:, 0] - cx) ** 2 + (seat[:, 1] - cy) ** 2 > radius ** 2]
    z = highest_z(tri, seat)
    coef = np.linalg.lstsq(np.column_stack([np.ones(len(seat)), seat[:, 0] - hx,
                                            seat[:, 1] - hy]), z, rcond=None)[0]

    def above(pts):
        return highest_z(tri, pts) - (coef[0] + coef[1] * (pts[:, 0] - hx)
                                      + coef[2] * (pts[:, 1] - hy))

    ys = np.arange(hy - 60, hy + 60, 0.1)
    across = np.column_stack([np.full_like(ys, hx), ys])
    rise = above(across)
    medial, lateral = np.nanmax(rise[ys > hy]), np.nanmax(rise[ys < hy])
    xs = np.arange(-1.0, 20.0, 0.1)
    back = above(np.column_stack([xs, np.full_like(xs, hy)]))
    posterior = np.nanmax(back)
    for name, ray in (("rim_medial_mm", medial), ("rim_lateral_mm", lateral),
                      ("rim_posterior_mm", posterior)):
        assert abs(measured[name] - ray) <= 0.5, (name, measured[name], ray)
        assert abs(ray - depth) <= 0.5, (name, ray, depth)
    # The rim is flat for rim_thickness_mm at the top (within a 1 mm plan edge), not a knife.
    flat = xs[np.nan_to_num(back, nan=-1e9) >= posterior - 0.3]
    assert flat.max() - max(flat.min(), 0.0) >= rim_t - 1.0
    assert measured["height_mm"] < 5.0 + depth + 10.0  # no wall towering over the cup


@pytest.mark.parametrize("condition", ["flat_feet", "overpronation", "neutral"])
def test_cup_blends_into_the_arch_without_a_dip(tmp_path, condition):
    result = make_pair(tmp_path, conditions=condition, foot_length_mm="265", side="right")
    design = json.loads(result.files["report"].read_text())["design"]
    tri = load(result.files["right"]).triangles
    from shapely.geometry import Polygon
    outline = Polygon(design["outline"]).buffer(-1.5)
    hx = design["landmarks"]["heel_centre"][0]
    ax = design["landmarks"]["arch_apex"][0]
    xs = np.linspace(hx, ax, 60)
    import shapely
    med = np.array([shapely.get_coordinates(outline.intersection(
        shapely.box(x - 0.01, -500, x + 0.01, 500)))[:, 1].max() for x in xs])
    z = highest_z(tri, np.column_stack([xs, med]))
    # Along the medial border from the heel to the arch apex the top never sinks more than
    # 1 mm below the lower of its two ends (it was 3.6 mm for flat feet before).
    assert z.min() >= min(z[0], z[-1]) - 1.0, (z.min(), z[0], z[-1])
