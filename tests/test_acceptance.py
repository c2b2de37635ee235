"""Issue 2 acceptance, measured on the written STL files.

For every profile and foot lengths 220-310 mm, both sides: the files load
back (with trimesh, not insolegen's reader) as watertight, consistently
wound solids of positive volume, on z = 0, heel at x = 0, as long as
designed, the left the exact mirror of the right; heel cup depth, arch
height and rearfoot tilt measure as designed within 0.5 mm / 0.5 mm / 0.5 deg.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import CONDITIONS, load, make_pair, stl_vectors
from insolegen.geometry.inspection import measure
from insolegen.core.tolerances import TOL

LENGTHS = (220, 245, 265, 290, 310)


@pytest.fixture(scope="module", params=[(c, L) for c in CONDITIONS for L in LENGTHS],
                ids=lambda p: f"{p[0]}-{p[1]}")
def pair(request, tmp_path_factory):
    condition, length = request.param
    out = tmp_path_factory.mktemp(f"{condition}{length}")
    result = make_pair(out, conditions=condition, foot_length_mm=length)
    return result, out


def test_files_are_watertight_solids_on_the_floor(pair):
    result, out = pair
    for side in ("left", "right"):
        mesh = load(out / f"t_{side}.stl")
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.is_volume
        assert mesh.volume > 0
        lo, hi = mesh.bounds
        assert abs(lo[2]) <= TOL.floor_mm
        assert abs(lo[0]) <= 1e-3, "heel at x = 0"
        assert abs((hi[0] - lo[0]) - result.design.insole_length_mm) <= TOL.length_mm


def test_bottom_is_flat_on_z0(pair):
    _, out = pair
    mesh = load(out / "t_right.stl")
    down = mesh.face_normals[:, 2] < -0.999
    assert np.allclose(mesh.triangles[down][:, :, 2], 0.0)
    assert mesh.area_faces[down].sum() == pytest.approx(
        mesh.area_faces[mesh.face_normals[:, 2] > 0].dot(mesh.face_normals[mesh.face_normals[:, 2] > 0, 2]),
        rel=1e-6), "the bottom covers exactly the plan area of the top"


def test_left_is_exact_mirror_of_right(pair):
    _, out = pair
    right, left = stl_vectors(out / "t_right.stl"), stl_vectors(out / "t_left.stl")
    mirrored = right[:, ::-1] * np.array([1, -1, 1], dtype=np.float32)
    assert np.array_equal(mirrored, left)


@pytest.mark.parametrize("side", ["left", "right"])
def test_features_measure_as_designed(pair, side):
    result, out = pair
    mesh = load(out / f"t_{side}.stl")
    d = result.design
    m = measure(np.asarray(mesh.vertices), np.asarray(mesh.faces), side,
                d.landmarks, d.heel_width_mm, d.seat_exclusions)
    e = d.expected
    p = d.params
    assert m["heel_cup_depth_mm"] == pytest.approx(p["heel_cup_depth_mm"], abs=TOL.heel_cup_depth_mm)
    assert m["rearfoot_tilt_deg"] == pytest.approx(p["rearfoot_post_deg"], abs=TOL.rearfoot_tilt_deg)
    assert m["arch_rise_mm"] == pytest.approx(d.arch_support_height_mm, abs=TOL.arch_height_mm)
    assert m["arch_peak_height_mm"] == pytest.approx(e["arch_peak_height_mm"], abs=TOL.arch_height_mm)
    assert m["heel_seat_height_mm"] == pytest.approx(e["heel_seat_height_mm"], abs=TOL.heel_seat_height_mm)
    assert m["min_thickness_mm"] >= p["min_thickness_mm"] - TOL.thickness_mm


def test_report_records_design_inputs_and_measurements(pair):
    result, out = pair
    report = json.loads((out / "t.json").read_text())
    assert report["insolegen_version"]
    assert report["order"]["conditions"] == list(result.design.prescription.conditions)
    assert report["design"]["params"] == result.design.params
    for side in ("left", "right"):
        assert report["measured"][side]["watertight"] is True
        assert all(c["ok"] for c in report["checks"][side].values())


def test_default_resolution_is_about_one_mm_and_under_400k_triangles(pair):
    _, out = pair
    mesh = load(out / "t_right.stl")
    assert len(mesh.faces) < 400_000
    top = mesh.face_normals[:, 2] > 0.9
    edges = mesh.triangles[top][:, [1, 2, 0]] - mesh.triangles[top]
    plan = np.linalg.norm(edges[:, :, :2], axis=2)
    assert np.median(plan) <= 1.05
    assert plan.max() <= 2.0
