"""Issue 6 acceptance: a total-contact insole from a scan, measured on the written files.

Watertight, on z = 0; its top in the contact regions (heel seat, lateral midfoot,
forefoot) within 1 mm of the scan's own plantar surface raised by the printed stack;
its outline within 3 mm of the smoothed footprint; corrections added where the
profile asks for them; a scan of the other foot refused unless the order lets the
scan decide; shapes that are not feet refused with exit status 2 and nothing written.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
import trimesh
from shapely.geometry import MultiPolygon, Polygon

from conftest import load, make_pair, run_cli
from insolegen.core.errors import ScanError
from insolegen.pipeline.order import order_from_mapping
from insolegen.pipeline.job import generate
from insolegen.scan.plantar import OUTLINE_CLOSE_MM, OUTLINE_OPEN_MM
from scanutil import SAMPLES, SCANS, highest_z, lowest_z, sample_mesh, write

STACK = {"neutral": 3.0 + 1.5}  # base_thickness_mm + top_cover_thickness_mm, neutral.toml


@pytest.fixture(scope="module", params=sorted(SAMPLES))
def made(request, tmp_path_factory):
    name = request.param
    out = tmp_path_factory.mktemp(name.split(".")[0])
    result = make_pair(out, scan=str(SCANS / name), conditions="neutral")
    return name, result, out


def scan_in_output_frame(name: str, result) -> np.ndarray:
    """The scan's triangles (m, 3, 3) moved into the output frame by the transform the
    report gives, in mm: the foot standing where its insole (``t_<side>.stl``) is."""
    matrix = np.array(result.design.foot.scan["to_output_frame"])
    mesh = trimesh.load(str(SCANS / name), force="mesh", process=False)
    return mesh.triangles @ matrix[:3, :3].T + matrix[:3, 3]


def in_output_frame(foot, xy: np.ndarray) -> np.ndarray:
    """Canonical-frame plan points of ``foot`` in the output frame (a left foot mirrored)."""
    return xy * np.array([1.0, -1.0 if foot.side == "left" else 1.0])


def test_pair_is_watertight_on_the_floor_and_mirrored(made):
    name, result, out = made
    meshes = {side: load(out / f"t_{side}.stl") for side in ("left", "right")}
    for mesh in meshes.values():
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.is_volume
        assert abs(mesh.bounds[0][2]) <= 1e-3 and abs(mesh.bounds[0][0]) <= 1e-3
    right, left = meshes["right"].triangles, meshes["left"].triangles
    assert np.allclose(np.sort(right[:, :, 1].ravel()), np.sort(-left[:, :, 1].ravel()))
    assert result.design.foot.side == SAMPLES[name][0]
    assert all(c["ok"] for checks in (
        json.loads((out / "t.json").read_text())["checks"].values()) for c in checks.values())


def contact_points(foot) -> dict[str, np.ndarray]:
    """Plan points of the contact regions, away from every correction of neutral.toml."""
    length = foot.foot_length_mm
    hx, hy = foot.landmarks["heel_centre"]
    angles = np.linspace(0, 2 * np.pi, 12, endpoint=False)
    ring = np.column_stack([hx + 8 * np.cos(angles), hy + 8 * np.sin(angles)])
    heel = np.vstack([[hx, hy], ring])
    from insolegen.foot.outline import width_profile
    def band(x0, x1, u0, u1):
        xs = np.linspace(x0 * length, x1 * length, 8)
        lo, hi = width_profile(foot.outline, xs)
        us = np.linspace(u0, u1, 5)
        return np.array([(x, (l + h) / 2 + u * (h - l) / 2)
                         for x, l, h in zip(xs, lo, hi) for u in us])
    return {"heel seat": heel, "lateral midfoot": band(0.40, 0.55, -0.6, -0.2),
            "forefoot": band(0.62, 0.76, -0.5, 0.5)}


def test_top_follows_the_scanned_sole_in_the_contact_regions(made):
    name, result, out = made
    foot = result.design.foot
    sole = scan_in_output_frame(name, result)
    top = load(out / f"t_{foot.side}.stl").triangles  # the scanned foot's own insole
    for region, plan in contact_points(foot).items():
        xy = in_output_frame(foot, plan)
        plantar = lowest_z(sole, xy)
        written = highest_z(top, xy)
        assert np.isfinite(plantar).all() and np.isfinite(written).all(), region
        gap = written - (plantar + STACK["neutral"])
        assert np.abs(gap).max() <= 1.0, f"{region}: top - (sole + stack) = {gap.round(2)}"


def footprint_of(triangles: np.ndarray, height_mm: float) -> Polygon:
    """The foot's shadow below ``height_mm``, closed and opened as the outline is
    smoothed: computed from the scan's triangles with shapely alone."""
    low = triangles[triangles[:, :, 2].max(axis=1) <= height_mm][:, :, :2]
    e1, e2 = low[:, 1] - low[:, 0], low[:, 2] - low[:, 0]
    low = low[np.abs(e1[:, 0] * e2[:, 1] - e1[:, 1] * e2[:, 0]) > 1e-9]
    shadow = shapely.union_all(shapely.polygons(low)).buffer(0.01)
    if isinstance(shadow, MultiPolygon):
        shadow = max(shadow.geoms, key=lambda g: g.area)
    shadow = Polygon(shadow.exterior)
    smooth = shadow.buffer(OUTLINE_CLOSE_MM).buffer(-OUTLINE_CLOSE_MM)
    return smooth.buffer(-OUTLINE_OPEN_MM).buffer(OUTLINE_OPEN_MM)


def test_outline_follows_the_smoothed_footprint(made):
    name, result, out = made
    foot = result.design.foot
    length = foot.foot_length_mm
    sole = scan_in_output_frame(name, result)
    print_ = footprint_of(sole, 0.15 * length)
    mesh = load(out / f"t_{foot.side}.stl")
    bottom = mesh.triangles[mesh.face_normals[:, 2] < -0.99][:, :, :2]
    outline = shapely.union_all(shapely.polygons(bottom)).buffer(1e-6)
    cut = shapely.box(-10, -200, 0.78 * length, 200)  # ahead of this the toes are stretched
    a, b = outline.exterior.intersection(cut), print_.exterior.intersection(cut)
    assert a.hausdorff_distance(b) <= 3.0


def test_corrections_are_added_on_top_of_the_sole(tmp_path):
    name = "dupontgu_right_m.stl"
    plain = make_pair(tmp_path / "neutral", scan=str(SCANS / name), conditions="neutral",
                      side="right")
    posted = make_pair(tmp_path / "flat", scan=str(SCANS / name), conditions="flat_feet",
                       side="right")
    tilt = (posted.measured["right"]["rearfoot_tilt_deg"]
            - plain.measured["right"]["rearfoot_tilt_deg"])
    assert tilt == pytest.approx(4.0, abs=0.6), "flat_feet's 4 degree medial post"
    # Issue 11: on a scan the cup rises as far as the scanned heel does plus the
    # allowance (heel_compression_mm), no longer to the profile's 18 mm over the heel.
    assert 12.0 <= posted.measured["right"]["heel_cup_depth_mm"] <= 18.0 + 1.0
    assert plain.measured["right"]["heel_cup_depth_mm"] == pytest.approx(13.0, abs=1.0)
    notes = " ".join(posted.design.notes)
    assert "total contact" in notes and "heel_compression_mm = 2" in notes


def test_other_foot_is_refused_unless_the_scan_decides(tmp_path):
    left_scan = str(SCANS / "dupontgu_left_m.stl")
    order = order_from_mapping({"order_id": "t", "scan": left_scan, "conditions": "neutral",
                                "side": "right"})
    with pytest.raises(ScanError, match="side = 'right': the scan is of a left foot"):
        generate(order, tmp_path / "refused")
    assert not (tmp_path / "refused").exists() or not any((tmp_path / "refused").iterdir())
    order = order_from_mapping({"order_id": "t", "scan": left_scan, "conditions": "neutral",
                                "side": "right", "side_from_scan": "true"})
    result = generate(order, tmp_path / "taken")
    assert sorted(p.name for p in (tmp_path / "taken").iterdir()) == ["t.json", "t_left.stl"]
    assert result.design.foot.side == "left"


def test_cli_refuses_the_other_foot_in_one_line(tmp_path):
    out = tmp_path / "out"
    done = run_cli("generate", "--scan", str(SCANS / "dupontgu_left_m.stl"), "--side", "right",
                   "--condition", "neutral", "--out", str(out))
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert "--side-from-scan" in done.stderr and not out.exists()


def test_given_scan_units_reach_the_report(tmp_path):
    result = make_pair(tmp_path, scan=str(SCANS / "makehuman_left_mm_yup.obj"), scan_units="mm",
                       conditions="high_arches")
    report = json.loads((tmp_path / "t.json").read_text())
    assert report["design"]["foot"]["scan"]["units_source"] == "given"
    assert report["order"]["options"]["scan"]["units"] == "mm"
    assert result.measured["left"]["watertight"]


def test_cli_demo_from_the_bundled_scan(tmp_path):
    done = run_cli("demo", "--scan", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "demo_scan.json").read_text())
    assert report["design"]["foot"]["side"] == "right"
    assert load(tmp_path / "demo_scan_right.stl").is_watertight


def dense(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    """The same shape with triangles of at most 10 mm, as a scanner would make them."""
    return trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces, 10.0))


def not_a_foot(kind: str) -> trimesh.Trimesh:
    if kind == "cube":
        return dense(trimesh.creation.box((250.0, 250.0, 250.0)))
    if kind == "sphere":
        return trimesh.creation.icosphere(subdivisions=4, radius=130.0)
    if kind == "plate":
        return dense(trimesh.creation.box((270.0, 100.0, 4.0)))
    # a foot-shaped plate: the real footprint, 5 mm thick
    foot = sample_mesh("dupontgu_right_m.stl")
    shadow = shapely.union_all(shapely.polygons(foot.triangles[:, :, :2] * 1000.0)).buffer(0.5)
    return trimesh.creation.extrude_polygon(Polygon(shadow.exterior), 5.0)


@pytest.mark.parametrize("kind,message", [("cube", "heel and toe ends look alike"),
                                          ("sphere", "no sole found"),
                                          ("plate", "heel and toe ends look alike"),
                                          ("footprint_plate", "not a foot")])
def test_shapes_that_are_not_feet_are_refused(kind, message, tmp_path):
    path = write(not_a_foot(kind), tmp_path / f"{kind}.stl")
    order = order_from_mapping({"order_id": "t", "scan": str(path), "conditions": "neutral"})
    with pytest.raises(ScanError, match=message):
        generate(order, tmp_path / "out")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
