"""Issue 5: order id, side and size engraved into the bottom face.

The recess is there (downward faces at the engraving depth, under the arch
or under the front of a 3/4 insole), the part stays a closed solid, it
reads right when turned over, and every feature measures as without it.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import Polygon

from cli import main
from conftest import load, make_pair, stl_vectors
from insolegen.check.checkfile import check_file
from insolegen.mesh.engrave import text_shape
from insolegen.core.errors import InputError
from insolegen.pipeline.order import order_from_mapping

FIELDS = {"conditions": "flat_feet", "foot_length_mm": 265, "resolution_mm": 2.0}


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    out = tmp_path_factory.mktemp("plain")
    return make_pair(out, **FIELDS), out


@pytest.fixture(scope="module")
def engraved(tmp_path_factory):
    out = tmp_path_factory.mktemp("engraved")
    return make_pair(out, order_id="LAB-0042", engrave="yes", **FIELDS), out


def recess(path, depth=0.6):
    """Downward faces at the engraving depth: (area mm^2, union polygon in plan)."""
    mesh = load(path)
    down = mesh.face_normals[:, 2] < -0.999
    at_depth = np.all(np.abs(mesh.triangles[:, :, 2] - depth) < 1e-4, axis=1)
    faces = mesh.triangles[down & at_depth]
    shape = shapely.union_all([Polygon(t[:, :2]) for t in faces]) if len(faces) else Polygon()
    return float(mesh.area_faces[down & at_depth].sum()), shape


def test_recess_is_under_the_arch_on_the_medial_side(engraved):
    result, out = engraved
    L = result.design.foot_length_mm
    for side, medial in (("right", 1.0), ("left", -1.0)):
        area, shape = recess(out / f"LAB-0042_{side}.stl")
        assert area > 100.0, "letters 0.6 mm deep in the bottom"
        x0, y0, x1, y1 = shape.bounds
        assert 0.28 * L <= x0 and x1 <= 0.56 * L, "between heel cup and metatarsal heads"
        mid = np.mean(result.design.plan.borders(np.array([shape.centroid.x])), axis=0)[0]
        assert medial * (shape.centroid.y - medial * mid) > 0, "on the medial half"


def test_engraved_insoles_are_closed_and_pass_check(engraved):
    _, out = engraved
    for side in ("left", "right"):
        mesh = load(out / f"LAB-0042_{side}.stl")
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.is_volume
        report = check_file(out / f"LAB-0042_{side}.stl")
        assert report["printable"], report["verdict"]
        assert report["as_designed"]


def test_features_measure_as_without_engraving(plain, engraved):
    p_result, _ = plain
    e_result, _ = engraved
    for side in ("left", "right"):
        before, after = p_result.measured[side], e_result.measured[side]
        for key in ("heel_cup_depth_mm", "arch_rise_mm", "arch_peak_height_mm",
                    "heel_seat_height_mm", "rearfoot_tilt_deg", "min_thickness_mm",
                    "length_mm", "width_mm", "height_mm", "bottom_z_mm"):
            assert after[key] == pytest.approx(before[key], abs=1e-3), key
        assert after["volume_mm3"] < before["volume_mm3"], "the recess removes material"


def test_thinnest_material_over_the_recess_is_reported(engraved):
    _, out = engraved
    report = json.loads((out / "LAB-0042.json").read_text())
    assert report["making"]["engraving"]["right"]["depth_mm"] == 0.6
    check = check_file(out / "LAB-0042_right.stl")
    assert check["bodies"][0]["min_thickness_mm"] >= 1.5 - 0.05


def test_text_reads_right_when_turned_over(engraved):
    result, out = engraved
    report = json.loads((out / "LAB-0042.json").read_text())["making"]["engraving"]
    for side in ("right", "left"):
        info = report[side]
        assert info["text"] == ["LAB-0042", f"{side[0].upper()}  EU 42"]
        _, shape = recess(out / f"LAB-0042_{side}.stl")
        upright = text_shape(tuple(info["text"]), info["cap_height_mm"])
        cx, cy = (shape.bounds[0] + shape.bounds[2]) / 2, (shape.bounds[1] + shape.bounds[3]) / 2
        as_read = shapely.affinity.translate(shapely.affinity.scale(upright, 1, -1, origin=(0, 0)),
                                             cx, cy)
        wrong = shapely.affinity.translate(upright, cx, cy)
        # Seen from below the plan is mirrored: the part carries the mirror of the text.
        assert shape.symmetric_difference(as_read).area < 0.05 * shape.area
        assert shape.symmetric_difference(wrong).area > 0.3 * shape.area


def test_without_engraving_the_left_is_the_mirror(plain):
    _, out = plain
    right, left = stl_vectors(out / "t_right.stl"), stl_vectors(out / "t_left.stl")
    assert np.array_equal(right[:, ::-1] * np.array([1, -1, 1], np.float32), left)


def test_three_quarter_insole_is_engraved_under_the_forefoot(tmp_path):
    result = make_pair(tmp_path, side="right", engrave="true", engrave_depth_mm=0.8,
                       **{**FIELDS, "set.insole_length": "three_quarter"})
    L = result.design.foot_length_mm
    area, shape = recess(tmp_path / "t_right.stl", depth=0.8)
    assert area > 50.0
    assert shape.bounds[0] >= 0.45 * L and shape.bounds[2] <= result.design.insole_length_mm


def test_text_that_does_not_fit_is_refused_clearly(tmp_path, capsys):
    long_id = "ORDER-" + "9" * 40
    with pytest.raises(InputError, match="does not fit"):
        make_pair(tmp_path, order_id=long_id, engrave="true", **FIELDS)
    assert not list(tmp_path.iterdir()), "nothing half written"
    assert main(["generate", "--id", long_id, "--condition", "flat_feet", "--foot-length",
                 "265", "--resolution-mm", "2", "--engrave", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "engrave" in err


@pytest.mark.parametrize("fields, message", [
    ({"engrave": "maybe"}, "engrave = 'maybe'"),
    ({"engrave": "true", "engrave_depth_mm": "3"}, "engrave_depth_mm = '3'"),
])
def test_engraving_fields_are_checked_at_the_door(fields, message):
    with pytest.raises(InputError, match=message):
        order_from_mapping({"order_id": "t", **FIELDS, **fields})
