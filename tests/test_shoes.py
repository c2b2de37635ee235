"""Into the shoe: every catalogue shoe takes ANSUR feet from the 5th to the 95th percentile,
measured on the written STL without insolegen's own measuring code; too small is refused,
too tall fails the fit check."""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
import trimesh

from conftest import load
from insolegen.cli.main import main
from insolegen.core.errors import InputError
from insolegen.design.shoefit import liner_polygon
from insolegen.foot.outline import insole_outline
from insolegen.pipeline.order import order_from_mapping
from insolegen.prescription.shoes import CATALOGUE, parse_shoe
from scanutil import lowest_z

RES = "3"


def _percentile_feet(rows: list[dict]) -> list[dict]:
    """Real subjects nearest the corners (5th / 95th percentile of length and breadth)."""
    L = np.array([float(r["footlength"]) for r in rows])
    B = np.array([float(r["footbreadthhorizontal"]) for r in rows])
    picks = []
    for lq, bq in ((5, 5), (5, 95), (95, 5), (95, 95)):
        lt, bt = np.percentile(L, lq), np.percentile(B, bq)
        i = int(np.argmin(((L - lt) / 10) ** 2 + ((B - bt) / 5) ** 2))
        picks.append(rows[i])
    return picks


def _footprint(mesh: trimesh.Trimesh) -> shapely.Polygon:
    """Union of the downward faces seen from below (shapely), independent of fit.py."""
    tri = mesh.triangles[mesh.face_normals[:, 2] < -1e-6][:, :, :2]
    return shapely.coverage_union_all(shapely.polygons(tri))  # the faces tile the plan


def _generate(tmp_path, name, row, condition="flat_feet", **extra):
    data = {"order_id": "s", "side": "right", "conditions": condition, "shoe": name,
            "foot_length_mm": row["footlength"], "ball_width_mm": row["footbreadthhorizontal"],
            "heel_width_mm": row["heelbreadth"], "resolution_mm": RES, **extra}
    from insolegen.pipeline.job import generate
    return generate(order_from_mapping(data), tmp_path)


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_each_shoe_takes_ansur_feet_p5_to_p95(tmp_path, ansur_rows, name):
    for k, row in enumerate(_percentile_feet(ansur_rows)):
        out = tmp_path / str(k)
        result = _generate(out, name, row)
        assert result.fit["fits"], result.fit["verdict"]
        report = json.loads((out / "s.json").read_text())
        assert report["fit"]["fits"]
        shoe = result.design.shoe
        mesh = load(out / "s_right.stl")
        assert mesh.is_watertight and mesh.is_winding_consistent
        assert abs(mesh.bounds[0][0]) < 1e-3 and abs(mesh.bounds[0][2]) < 1e-3
        # Outline against the liner: the device set clearance_mm ahead of the liner's heel.
        c = shoe.clearance_mm
        liner = liner_polygon(shoe)
        seen = _footprint(mesh)
        device = shapely.affinity.translate(seen, c, 0.0)
        assert liner.contains(device)
        ring = shapely.points(shapely.get_coordinates(device.exterior))
        inset = float(shapely.distance(liner.exterior, ring).min())
        assert inset == pytest.approx(c, abs=0.3)  # the stated clearance, all round
        assert report["fit"]["measured"]["outline_clearance_mm"] == pytest.approx(inset, abs=0.2)
        # Keeps the foot's contact area (its outline less 4 mm), trimmed by what it says.
        foot = result.design.foot.outline.buffer(-4.0)
        assert foot.difference(seen).area < 0.01 * foot.area
        trimmed = report["design"]["shoe"]["fit"]["trimmed_area_mm2"]
        before = insole_outline(result.design.foot.outline, float(row["footlength"]), "full",
                                report["design"]["params"]["toe_allowance_mm"])
        assert trimmed == pytest.approx(before.difference(seen).area,
                                        rel=0.05, abs=20)
        # Bottom against the pitch: rays up from below along the midline.
        xs = np.linspace(5.0, mesh.bounds[1][0] - 15.0, 25)
        down = mesh.triangles[mesh.face_normals[:, 2] < -1e-6]
        z = lowest_z(down, np.column_stack([xs, np.zeros_like(xs)]))
        board = shoe.board_height(xs + c)
        assert not np.isnan(z).any()
        assert np.max(np.abs((z - z[-1]) - (board - board[-1]))) < 0.1
        assert z[0] - z[-1] == pytest.approx(shoe.heel_pitch_mm, abs=0.1)


def test_too_small_shoe_is_refused_naming_the_shortfall(tmp_path, capsys):
    for spec, where in (("running:inside_length_mm=245", "toes"),
                        ("walking:inside_width_mm=82", "ball")):
        out = tmp_path / where
        code = main(["generate", "--foot-length", "265", "--ball-width", "99", "--heel-width",
                     "70", "--condition", "neutral", "--shoe", spec, "--out", str(out)])
        err = capsys.readouterr().err
        assert code == 2
        assert "too small for this foot" in err and f"at the {where}" in err
        assert "mm short of the foot's contact area" in err
        assert len(err.strip().splitlines()) == 1
        assert not out.exists() or not any(out.iterdir())


def test_rim_too_tall_for_the_heel_counter_fails_the_fit(tmp_path, capsys):
    code = main(["generate", "--foot-length", "265", "--condition", "overpronation",
                 "--shoe", "kids:heel_counter_height_mm=30", "--resolution-mm", RES,
                 "--side", "right", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 4 and "does not fit shoe kids" in err and "heel counter" in err
    report = json.loads((tmp_path / "insole.json").read_text())
    assert not report["fit"]["fits"]
    assert any("heel counter" in r for r in report["fit"]["reasons"])
    # The rim measured independently: highest point above the board in the rear 30 %.
    mesh = load(tmp_path / "insole_right.stl")
    rim = report["fit"]["measured"]["rim_height_mm"]
    assert rim > 25.0
    assert rim == pytest.approx(mesh.bounds[1][2] - mesh.bounds[0][2]
                                - report["fit"]["measured"]["heel_raised_mm"], abs=1.0)
    # The fit command on the written file, with the shoe from the report beside it.
    capsys.readouterr()
    assert main(["fit", str(tmp_path / "insole_right.stl")]) == 4
    assert "heel counter" in capsys.readouterr().err


def test_flat_device_rocks_in_a_pitched_shoe(tmp_path, capsys):
    assert main(["generate", "--foot-length", "265", "--condition", "neutral", "--side",
                 "right", "--resolution-mm", RES, "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["fit", str(tmp_path / "insole_right.stl"), "--shoe", "dress"]) == 4
    report = json.loads(capsys.readouterr().out)
    assert any("does not rest" in r and "front" in r for r in report["reasons"])
    assert report["measured"]["rest_gap_front_mm"] == pytest.approx(20.0, abs=0.5)
    assert main(["fit", str(tmp_path / "insole_right.stl"), "--shoe",
                 "dress:heel_pitch_mm=0,width_ratio=1.05"]) == 0, capsys.readouterr().err


def test_liner_outline_csv_and_toml_shoe(tmp_path, capsys):
    liner = liner_polygon(CATALOGUE["running"].sized(265, 99, 70))
    xy = np.asarray(liner.exterior.coords)[:-1] + [7.0, 3.0]  # any origin: normalised
    csv_path = tmp_path / "liner.csv"
    csv_path.write_text("x,y\n" + "\n".join(f"{x:.3f},{y:.3f}" for x, y in xy))
    shoe = parse_shoe(str(csv_path))
    assert shoe.inside_length_mm == pytest.approx(280.0, abs=0.01)
    toml = tmp_path / "boot.toml"
    toml.write_text('type = "work_boot"\ninside_length_mm = 285\ninside_width_mm = 101\n'
                    'heel_pitch_mm = 14\n')
    for spec in (str(csv_path), str(toml)):
        out = tmp_path / ("csv" if spec.endswith("csv") else "toml")
        code = main(["generate", "--foot-length", "265", "--ball-width", "99", "--heel-width",
                     "70", "--condition", "neutral", "--shoe", spec, "--resolution-mm", RES,
                     "--side", "right", "--out", str(out)])
        assert code == 0, capsys.readouterr().err
        report = json.loads((out / "insole.json").read_text())
        assert report["fit"]["fits"]
    assert report["design"]["shoe"]["heel_pitch_mm"] == 14.0


@pytest.mark.parametrize("spec, message", [
    ("sneaker", "unknown shoe type"),
    ("runing", "did you mean 'running'"),
    ("running:heel_pitch_mm=90", "heel_pitch_mm = '90': out of range"),
    ("running:heel_pitch=5", "unknown shoe field"),
    ("running:heel_pitch_mm=nan", "not a number"),
    ("running:shank_start_frac=0.4,shank_end_frac=0.45", "at least 0.1 beyond"),
    ("missing.csv", "no such file"),
])
def test_bad_shoes_are_refused_at_the_door(spec, message):
    with pytest.raises(InputError, match=message):
        order_from_mapping({"order_id": "x", "conditions": "neutral", "foot_length_mm": 265,
                            "shoe": spec})


@pytest.mark.parametrize("text, message", [
    ("x,y\n1,2\n3,4\n", "3 points|2 points"),
    ("x,y\n" + "\n".join(f"{i},{i % 7}" for i in range(20)) + "\n", "mm long"),
    ("x,y\n0,0\nabc,1\n", "row 3"),
    ("0,0\n1e400,1\n", "row 2: expected two finite numbers"),
    ("x,y\nsecret-token,1\n", "row 2: expected two finite numbers x,y in mm$"),
])
def test_hostile_liner_csv_is_refused(tmp_path, text, message):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=message):
        parse_shoe(str(path))


def test_batch_row_carries_shoe_and_additions_apart_from_shoe_size():
    order = order_from_mapping({"order_id": "x", "conditions": "neutral", "shoe_size": "EU 42",
                                "shoe": "walking:heel_pitch_mm=6",
                                "additions": "heel_lift:height_mm=4;cuboid_pad"})
    assert order.measurements.shoe_size == "EU 42"
    assert order.shoe.name == "walking" and order.shoe.heel_pitch_mm == 6.0
    assert [n for n, _ in order.additions] == ["heel_lift", "cuboid_pad"]
    assert order.to_json()["shoe"]["heel_pitch_mm"] == 6.0
    with pytest.raises(InputError, match="engrave = true: not with shoe"):
        order_from_mapping({"order_id": "x", "conditions": "neutral", "foot_length_mm": 265,
                            "shoe": "dress", "engrave": "true"})


def test_shell_base_in_a_shoe_rests_on_the_board(tmp_path):
    result = _generate(tmp_path, "running", {"footlength": "265", "footbreadthhorizontal": "99",
                                             "heelbreadth": "70"}, base="functional_shell")
    assert result.fit["fits"], result.fit["verdict"]
    mesh = load(tmp_path / "s_right.stl")
    assert mesh.is_watertight and abs(mesh.bounds[0][2]) < 1e-3
    m = result.fit["measured"]
    assert m["rest_gap_heel_mm"] < 0.05 and m["rest_gap_front_mm"] < 0.05
    assert m["bottom_vs_pitch_mm"] > 5.0  # the shell's hollow arch stands off the board


def test_scanned_foot_in_a_shoe_keeps_the_sole_it_stands_on(tmp_path):
    from conftest import ROOT
    from insolegen.design.shoefit import contact_area
    from insolegen.pipeline.job import generate
    order = order_from_mapping({"order_id": "scan", "side": "right", "conditions": "neutral",
                                "scan": str(ROOT / "scans" / "dupontgu_right_m.stl"),
                                "resolution_mm": RES, "shoe": "walking"})
    result = generate(order, tmp_path)
    mesh = load(tmp_path / "scan_right.stl")
    assert mesh.is_watertight and abs(mesh.bounds[0][2]) < 1e-3
    seen = _footprint(mesh)
    sole = contact_area(result.design.foot)
    assert sole.difference(seen).area < 0.01 * sole.area
    liner = liner_polygon(result.design.shoe)
    assert liner.contains(shapely.affinity.translate(seen, result.design.shoe.clearance_mm, 0))
    # the total-contact top rises under the toes: the fit check reports it against the toe box
    m = result.fit["measured"]
    assert m["rest_gap_heel_mm"] < 0.05 and m["rest_gap_front_mm"] < 0.05
    assert result.fit["fits"] == (m["forefoot_thickness_mm"] <= 7.05)


def test_fit_command_bad_input_and_listings(tmp_path, capsys):
    stl = tmp_path / "part.stl"
    from insolegen.mesh.solid import extrude
    from insolegen.design.plan import triangulate_plan
    from insolegen.output.stl import stl_bytes
    from shapely.geometry import Point
    blob = shapely.affinity.scale(Point(100, 0).buffer(1.0), 95.0, 28.0)  # x 5-195, y +-28
    plan = triangulate_plan(blob, 5.0)
    stl.write_bytes(stl_bytes(extrude(plan, np.full(len(plan.points), 4.0)), "flat"))
    assert main(["fit", str(stl), "--shoe", "running"]) == 2
    err = capsys.readouterr().err
    assert "sized to the foot" in err and len(err.strip().splitlines()) == 1
    assert main(["fit", str(stl)]) == 2
    assert "shoe: missing" in capsys.readouterr().err
    assert main(["fit", str(tmp_path / "nope.stl"), "--shoe", "running"]) == 2
    # A plain block in a big flat shoe fits; in a pitched one it rocks.
    assert main(["fit", str(stl), "--shoe", "walking:inside_length_mm=262,"
                 "inside_width_mm=110,heel_width_mm=100,heel_pitch_mm=0"]) == 0
    capsys.readouterr()
    assert main(["shoes"]) == 0
    out = capsys.readouterr().out
    assert all(name in out for name in CATALOGUE) and "Malisoux" in out
    assert main(["additions"]) == 0
    out = capsys.readouterr().out
    assert "morton_extension" in out and "height_mm = 5 (1-10)" in out


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_every_shoe_source_is_a_publication_or_a_stated_convention(name):
    from test_citations import _ok
    assert CATALOGUE[name].sources
    assert [s for s in CATALOGUE[name].sources if not _ok(s)] == []


def test_batch_csv_with_shoe_and_additions_columns(tmp_path):
    from insolegen.batch.run import run_batch
    orders = tmp_path / "o.csv"
    orders.write_text(
        "order_id,side,conditions,foot_length_mm,shoe,additions,resolution_mm\n"
        "B1,right,neutral,265,running,\"heel_lift:height_mm=4;cuboid_pad\",3\n"
        "B2,left,neutral,265,running:inside_length_mm=240,,3\n"
        "B3,left,flat_feet,250,\"kids:heel_counter_height_mm=25\",,3\n")
    result = run_batch(orders, tmp_path / "out", workers=0)
    status = {r.order_id: (r.status, r.error) for r in result.orders}
    assert status["B1"][0] == "done" and status["B3"][0] == "done"
    assert status["B2"][0] == "failed" and "too small for this foot" in status["B2"][1]
    b1 = json.loads((tmp_path / "out" / "B1" / "B1.json").read_text())
    assert b1["fit"]["fits"] and [a["name"] for a in b1["order"]["additions"]] == \
        ["heel_lift", "cuboid_pad"]
    b3 = json.loads((tmp_path / "out" / "B3" / "B3.json").read_text())
    assert not b3["fit"]["fits"] and b3["fit"]["side"] == "left"
    assert "heel counter" in b3["fit"]["reasons"][0]
    assert not (tmp_path / "out" / "B2").exists() or not any((tmp_path / "out" / "B2").iterdir())
    # With a scan root, a shoe file outside it is not read.
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "liner.csv").write_text("x,y\n0,0\n")
    (tmp_path / "root").mkdir()
    rows = tmp_path / "root" / "o.csv"
    rows.write_text("order_id,conditions,foot_length_mm,shoe\n"
                    "R1,neutral,265,../elsewhere/liner.csv\n")
    refused = run_batch(rows, tmp_path / "out2", workers=0, scan_root=tmp_path / "root")
    assert "outside the scan root" in refused.orders[0].error
