"""Where devices end (issue 11, landmarks not fractions), measured on the written STL.

- A three-quarter device ends along the metatarsal-head line (through the 1st and 5th
  heads): its distal edge is parallel to that line within 3 deg and 5 mm (reference foot,
  scaled with foot length) behind it within 1.5 mm; a sulcus device 18 mm ahead of it.
  On measured feet of two ball widths and on the bundled scans, both sides (the left
  mirrored). The heads come from the report the job writes beside the STL (the scan's
  own landmarks for a scan), the edge from the STL's footprint (shapely alone).
- A met pad on a three-quarter device keeps its full height (within 0.2 mm of the same
  pad on a full-length device) and its peak where it was (within 1 mm).
- A forefoot post stands |y1 - y5| tan(angle) at the far head (within 0.5 mm), and adds
  nothing (0.05 mm) at 90 % of a full device's length; a three-quarter or sulcus device
  does not reach 90 % of the foot's length.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiPolygon, Polygon

from conftest import load, make_pair
from scanutil import SCANS, highest_z

REFERENCE_MM = 265.0
BEHIND_MM, SULCUS_MM = 5.0, 18.0   # the stated rule, reference foot (insolegen.design.ends)
ANGLE_TOL_DEG, DIST_TOL_MM = 3.0, 1.5
FOOT = {"foot_length_mm": 265, "ball_width_mm": 99, "heel_width_mm": 70}


def footprint(path) -> Polygon:
    """The STL's plan shadow: the union of its triangles projected on z = 0."""
    tri = load(path).triangles[:, :, :2]
    e1, e2 = tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]
    tri = tri[np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) > 1e-9]
    shadow = shapely.union_all(shapely.polygons(tri)).buffer(1e-4)
    if isinstance(shadow, MultiPolygon):
        shadow = max(shadow.geoms, key=lambda g: g.area)
    return Polygon(shadow.exterior)


def distal_edge(shadow: Polygon, from_x: float) -> tuple[np.ndarray, np.ndarray]:
    """The longest straight edge of the footprint's border ahead of ``from_x`` (its two
    ends, mm): the cut of a short device (the foot's own border is curved there)."""
    ring = np.asarray(shadow.exterior.simplify(0.25).coords)
    best, ends = 0.0, None
    for a, b in zip(ring[:-1], ring[1:]):
        if min(a[0], b[0]) > from_x and np.hypot(*(b - a)) > best:
            best, ends = float(np.hypot(*(b - a))), (a, b)
    assert ends is not None and best > 20.0, f"no straight distal edge (longest {best:.1f} mm)"
    return ends


def heads_from_report(out, side: str) -> tuple[np.ndarray, np.ndarray, float]:
    """The 1st and 5th metatarsal heads in the output frame of the ``side`` file, and the
    foot length, from the report beside it (a scan's own landmarks when from a scan)."""
    report = json.loads((out / "t.json").read_text())
    foot = report["design"]["foot"]
    scan = foot.get("scan")
    if scan:  # measured on the scan, output frame of the scanned side, (x, y, z)
        marks = {k: np.array(v[:2]) for k, v in scan["landmarks"].items()}
        if side != foot["side"]:
            marks = {k: v * [1, -1] for k, v in marks.items()}
    else:  # canonical right-foot frame
        marks = {k: np.array(v) * ([1, -1] if side == "left" else [1, 1])
                 for k, v in foot["landmarks"].items()}
    return marks["mth1"], marks["mth5"], foot["foot_length_mm"]


def check_end(out, side: str, offset_mm: float) -> None:
    """The ``side`` file's distal edge: parallel to the head line, ``offset_mm`` ahead
    of it (negative: behind), scaled with foot length."""
    m1, m5, length = heads_from_report(out, side)
    a, b = distal_edge(footprint(out / f"t_{side}.stl"), min(m1[0], m5[0]) - 60.0)
    line, edge = m1 - m5, b - a
    angle = np.degrees(np.arctan2(abs(line[0] * edge[1] - line[1] * edge[0]), abs(line @ edge)))
    assert angle <= ANGLE_TOL_DEG, f"edge {angle:.2f} deg off the head line"
    normal = np.array([line[1], -line[0]]) / np.hypot(*line)
    normal *= np.sign(normal[0])  # pointing distally
    ahead = float(normal @ ((a + b) / 2 - m1))
    assert ahead == pytest.approx(offset_mm * length / REFERENCE_MM, abs=DIST_TOL_MM)


@pytest.mark.parametrize("ball", [99, 88])
def test_three_quarter_ends_along_the_head_line_on_measured_feet(tmp_path, ball):
    make_pair(tmp_path, **{**FOOT, "ball_width_mm": ball}, conditions="neutral", side="both",
              resolution_mm=2, **{"set.insole_length": "three_quarter"})
    for side in ("right", "left"):
        check_end(tmp_path, side, -BEHIND_MM)


def test_sulcus_ends_ahead_of_the_head_line(tmp_path):
    make_pair(tmp_path, **FOOT, conditions="neutral", side="both", resolution_mm=2,
              **{"set.insole_length": "sulcus"})
    for side in ("right", "left"):
        check_end(tmp_path, side, SULCUS_MM)


@pytest.mark.parametrize("name", ["dupontgu_right_m.stl", "makehuman_left_mm_yup.obj"])
def test_three_quarter_ends_along_the_scanned_head_line(tmp_path, name):
    make_pair(tmp_path, scan=str(SCANS / name), conditions="neutral", side="both",
              resolution_mm=2, **{"set.insole_length": "three_quarter"})
    for side in ("right", "left"):
        check_end(tmp_path, side, -BEHIND_MM)


def test_dress_base_ends_along_the_head_line(tmp_path):
    """Narrowed (width_scale 0.9): the cut follows the narrowed heads."""
    make_pair(tmp_path, **FOOT, conditions="neutral", base="dress", side="right",
              resolution_mm=2)
    report = json.loads((tmp_path / "t.json").read_text())["design"]
    m1, m5 = np.array(report["landmarks"]["mth1"]), np.array(report["landmarks"]["mth5"])
    a, b = distal_edge(footprint(tmp_path / "t_right.stl"), m5[0] - 60.0)
    line, edge = m1 - m5, b - a
    angle = np.degrees(np.arctan2(abs(line[0] * edge[1] - line[1] * edge[0]), abs(line @ edge)))
    assert angle <= ANGLE_TOL_DEG


def _grid(x0, x1, y0, y1, step=0.5):
    gx, gy = np.meshgrid(np.arange(x0, x1, step), np.arange(y0, y1, step))
    return np.column_stack([gx.ravel(), gy.ravel()])


def _top(out, xy):
    return highest_z(load(out / "t_right.stl").triangles, xy)


def test_met_pad_keeps_its_full_height_on_a_three_quarter_device(tmp_path):
    pad = {"set.met_pad": "true", "set.met_pad_height_mm": "5"}
    runs = {}
    for name, fields in [("plain", {}), ("full", pad),
                         ("short", {**pad, "set.insole_length": "three_quarter"})]:
        make_pair(tmp_path / name, **FOOT, conditions="neutral", side="right",
                  resolution_mm=1, **fields)
        runs[name] = tmp_path / name
    m2 = json.loads((runs["full"] / "t.json").read_text())["design"]["landmarks"]["mth2"]
    xy = _grid(m2[0] - 16, m2[0], m2[1] - 16, m2[1] + 6)  # the peak: 7 mm behind mth2
    base = _top(runs["plain"], xy)
    rise = {k: _top(runs[k], xy) - base for k in ("full", "short")}
    peaks = {k: int(np.nanargmax(v)) for k, v in rise.items()}
    assert np.nanmax(rise["full"]) == pytest.approx(5.0, abs=0.2)
    assert np.nanmax(rise["short"]) == pytest.approx(np.nanmax(rise["full"]), abs=0.2)
    assert np.hypot(*(xy[peaks["short"]] - xy[peaks["full"]])) <= 1.0
    # and the device ends past the pad's front (at the 2nd head): material there
    assert np.isfinite(_top(runs["short"], np.array([m2]))).all()


@pytest.mark.parametrize("length", ["full", "sulcus", "three_quarter"])
def test_forefoot_post_stands_under_the_heads_and_ends_with_the_device(tmp_path, length):
    angle = 4.0
    runs = {}
    for deg in (0.0, angle):
        out = tmp_path / f"p{deg:g}"
        make_pair(out, **FOOT, conditions="neutral", side="right", resolution_mm=1,
                  **{"set.insole_length": length, "set.forefoot_post_deg": f"{deg:g}"})
        runs[deg] = out
    report = json.loads((runs[angle] / "t.json").read_text())["design"]
    m1, m5 = np.array(report["landmarks"]["mth1"]), np.array(report["landmarks"]["mth5"])
    heads = np.array([m1, m5])
    if length == "three_quarter":  # the heads are past its end: at its anterior edge,
        heads = heads - [25.0, 0.0]   # 25 mm behind each head (> 20 mm behind the line)
    lift = _top(runs[angle], heads) - _top(runs[0.0], heads)
    assert lift[0] - lift[1] == pytest.approx((m1[1] - m5[1]) * np.tan(np.radians(angle)),
                                              abs=0.5)
    L = report["insole_length_mm"]
    xs = 0.9 * (L if length == "full" else FOOT["foot_length_mm"])
    across = np.array([[xs, y] for y in np.linspace(m5[1], m1[1], 9)])
    post, plain = _top(runs[angle], across), _top(runs[0.0], across)
    if length == "full":
        assert np.nanmax(post - plain) <= 0.05
    else:
        assert np.isnan(post).all() and np.isnan(plain).all()  # the device does not reach


@pytest.mark.parametrize("spec", ["medial_forefoot_post:to_ray=2,height_mm=4",
                                  "lateral_forefoot_post:from_ray=4,height_mm=4"])
def test_addition_posts_end_by_the_sulcus_on_a_full_device(tmp_path, spec):
    """The additions' ray posts stand their height under the heads and, as the
    condition's post, add nothing (0.05 mm) at 90 % of a full device's length."""
    make_pair(tmp_path / "p", **FOOT, conditions="neutral", side="right", resolution_mm=1,
              additions=spec)
    make_pair(tmp_path / "o", **FOOT, conditions="neutral", side="right", resolution_mm=1)
    report = json.loads((tmp_path / "p" / "t.json").read_text())["design"]
    head = report["landmarks"]["mth1" if spec.startswith("medial") else "mth5"]
    L = report["insole_length_mm"]
    pts = np.array([head] + [[0.9 * L, y] for y in np.linspace(-30, 30, 7)])
    lift = highest_z(load(tmp_path / "p" / "t_right.stl").triangles, pts) - \
        highest_z(load(tmp_path / "o" / "t_right.stl").triangles, pts)
    assert lift[0] == pytest.approx(4.0, abs=0.2)
    assert np.nanmax(np.abs(lift[1:])) <= 0.05
