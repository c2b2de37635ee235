"""Feet as labs receive them: plantar scans, foam-box impressions, both feet in one file.

Every scan here is made from the real scans of scans/ (dupontgu, MIT) by
tests/data/make_sole_scans.py: a plantar scan (the faces seen from below in a flat
surround) and a foam box with both feet's soles pressed in (surround and walls), and the
same turned, mirrored, in another or an unknown unit, with noise and holes. Each is held to
the full scan's own measurements; the insoles are read back with trimesh and cut with a
plane for their plan outline.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
import shapely
import trimesh

from conftest import DATA, ROOT, run_cli
from insolegen.core.errors import ScanError
from insolegen.pipeline.job import generate
from insolegen.pipeline.order import order_from_mapping
from insolegen.scan.read import ScanResult, measure_scan, process_scan, scan_summary

sys.path.insert(0, str(DATA))
import make_sole_scans as ms  # noqa: E402

UNKNOWN_MM = 43.7  # mm per unit of a unit no table holds


@pytest.fixture(scope="module")
def full_scans() -> dict[str, ScanResult]:
    return {s: process_scan(ROOT / "scans" / f"dupontgu_{s}_m.stl") for s in ("left", "right")}


@pytest.fixture(scope="module")
def full(full_scans) -> dict[str, dict]:
    return {s: scan_summary(r) for s, r in full_scans.items()}


@pytest.fixture(scope="module")
def made(tmp_path_factory) -> dict:
    folder = tmp_path_factory.mktemp("kinds")
    plantar, box = ms.plantar_scan("right"), ms.foam_box(("left", "right"))
    files = {
        "plantar": ms.posed(plantar),
        "plantar_posed": ms.posed(plantar, turn=2.2, mm_per_unit=10.0, noise_mm=0.3, holes=6,
                                  seed=1),
        "plantar_unscaled_mirrored": ms.posed(plantar, turn=-0.7, mirror=True,
                                              mm_per_unit=UNKNOWN_MM, noise_mm=0.2, seed=2),
        "box": ms.posed(box),
        "box_posed_mirrored": ms.posed(box, turn=1.3, mirror=True, mm_per_unit=25.4,
                                       noise_mm=0.3, holes=8, seed=3),
        "box_unscaled": ms.posed(box, turn=-2.0, mm_per_unit=UNKNOWN_MM, noise_mm=0.2, seed=4),
    }
    paths = {}
    for name, mesh in files.items():
        paths[name] = folder / f"{name}.stl"
        mesh.export(str(paths[name]))
    return paths


def _close(got: dict, want: dict) -> None:
    assert abs(got["foot_length_mm"] - want["foot_length_mm"]) <= 3.0, (got, want)
    assert abs(got["ball_width_mm"] - want["ball_width_mm"]) <= 3.0, (got, want)
    assert abs(got["heel_width_mm"] - want["heel_width_mm"]) <= 4.0, (got, want)


def _plan(path, z: float = 0.4) -> shapely.Polygon:
    mesh = trimesh.load(str(path), force="mesh")
    lines = trimesh.intersections.mesh_plane(mesh, [0, 0, 1], [0, 0, z])
    segments = shapely.MultiLineString(np.round(lines[:, :, :2], 4).tolist())
    return max(shapely.polygonize(shapely.node(segments).geoms).geoms, key=lambda p: p.area)


def _gap(a: shapely.Polygon, b: shapely.Polygon) -> float:
    pa, pb = (shapely.points(np.asarray(p.exterior.coords)) for p in (a, b))
    return float(max(shapely.distance(pa, b.exterior).max(),
                     shapely.distance(pb, a.exterior).max()))


@pytest.mark.parametrize("name,units,length", [("plantar", None, None),
                                               ("plantar_posed", None, None),
                                               ("plantar_unscaled_mirrored", None, "right")])
def test_plantar_scans(made, full, name, units, length):
    """Told to be plantar; side, length and widths as the full scan's (a mirrored scan is
    the left foot, as big); what a sole cannot give is listed, not guessed."""
    given = None if length is None else full[length]["foot_length_mm"]
    got = measure_scan(made[name], units, given)
    assert got["kind"] == "plantar" and got["kind_source"] == "detected"
    assert got["side"] == ("left" if "mirrored" in name else "right")
    _close(got, full["right"])
    assert got["cannot_measure"] == ["dorsal_height_50_mm", "arch_height_index", "arch_type"]
    assert got["dorsal_height_50_mm"] is None and got["arch_height_index"] is None
    assert "dorsum_50" not in got["landmarks"]
    assert 0 < got["plantar_arch_height_mm"] < 30
    if given is not None:
        check = got["foot_length_check"]
        assert got["units_detected"] == "scaled" and abs(check["residual_mm"]) <= 0.5
        assert abs(check["scale_mm_per_unit"] / UNKNOWN_MM - 1) <= 0.01


@pytest.mark.parametrize("name", ["box", "box_posed_mirrored", "box_unscaled"])
def test_foam_box_of_both_feet(made, full, name):
    """Told to be an impression of two feet; each measured as its full scan (a mirrored box
    swaps them: its right foot is the real left foot mirrored); an unscaled box scaled by
    the foot length given (the two feet's mean)."""
    given = None
    if name == "box_unscaled":
        given = (full["left"]["foot_length_mm"] + full["right"]["foot_length_mm"]) / 2
    got = measure_scan(made[name], foot_length_mm=given)
    feet = got["feet"]
    assert [f["side"] for f in feet] == ["left", "right"]
    for foot in feet:
        assert foot["kind"] == "impression" and foot["sole"]["feet_in_file"] == 2
        source = foot["side"] if name == "box" else {"left": "right", "right": "left"}[foot["side"]]
        _close(foot, full[source])
        assert foot["arch_height_index"] is None
        if given is not None:
            assert foot["units_detected"] == "scaled"
            assert abs(foot["foot_length_check"]["scale_mm_per_unit"] / UNKNOWN_MM - 1) <= 0.01
    if given is not None:
        return
    one = measure_scan(made[name], foot="left")
    assert one["side"] == "left" and one["foot_length_mm"] == feet[0]["foot_length_mm"]


def test_full_scans_of_both_feet_in_one_file(tmp_path, full):
    """The real left and right scans in one file (as the scanner placed them), turned and in
    inches: split, each measured as its own full scan, sides from their shapes."""
    both = trimesh.util.concatenate([trimesh.load(str(ROOT / "scans" / f"dupontgu_{s}_m.stl"))
                                     for s in ("left", "right")])
    both.apply_scale(1000.0)
    path = tmp_path / "both.stl"
    ms.posed(both, turn=0.8, mm_per_unit=25.4).export(str(path))
    feet = measure_scan(path)["feet"]
    assert [f["side"] for f in feet] == ["left", "right"]
    for foot in feet:
        assert foot["kind"] == "foot" and foot["units_detected"] == "in"
        _close(foot, full[foot["side"]])


def _footprint(result: ScanResult, side: str) -> shapely.Polygon:
    """A full scan's footprint outline in the output frame (a left foot mirrored back)."""
    return shapely.affinity.scale(result.measurements.outline, 1.0,
                                  -1.0 if side == "left" else 1.0, origin=(0, 0))


def test_insoles_from_a_plantar_scan_and_a_foam_box(tmp_path, made, full_scans):
    """Insoles (no toe allowance, so the outline is the foot's) from the posed plantar scan
    and from each foot of the box (each side its own foot): plans within 3 mm of the full
    scans' footprints."""
    plans = {}
    for name, scan, side in (("plantar", made["plantar_posed"], "right"),
                             ("box", made["box"], "both")):
        order = order_from_mapping({"order_id": name, "scan": str(scan), "side": side,
                                    "conditions": "neutral", "resolution_mm": "2",
                                    "set.toe_allowance_mm": "0"})
        result = generate(order, tmp_path / name)
        for s, path in result.files.items():
            if s in ("left", "right"):
                plans[name, s] = _plan(path)
                mesh = trimesh.load(str(path), force="mesh")
                assert mesh.is_watertight and abs(mesh.bounds[0, 2]) < 1e-3
    assert _gap(plans["plantar", "right"], _footprint(full_scans["right"], "right")) <= 3.0
    for side in ("left", "right"):
        assert _gap(plans["box", side], _footprint(full_scans[side], side)) <= 3.0
    report = json.loads((tmp_path / "box" / "box.json").read_text())
    assert report["design"]["foot"]["side"] == "right"
    assert report["design_left"]["foot"]["side"] == "left"


def test_kind_given_and_feet_picked(tmp_path, made):
    """--scan-kind overrides what the shape says; --foot picks a foot that is there."""
    with pytest.raises(ScanError, match="dorsal_height_50_mm = .* not a foot"):
        measure_scan(made["plantar"], kind="foot")  # as a full scan, a sole has no dorsum
    with pytest.raises(ScanError, match="scan_kind = 'impression' but no flat surround"):
        measure_scan(ROOT / "scans" / "makehuman_left_mm_yup.obj", kind="impression")
    with pytest.raises(ScanError, match="foot = 'left': the file holds a right foot only"):
        measure_scan(made["plantar"], foot="left")
    out = tmp_path / "one"
    done = run_cli("generate", "--scan", str(made["box"]), "--foot", "left", "--condition",
                   "neutral", "--resolution-mm", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    report = json.loads((out / "insole.json").read_text())
    assert report["design"]["foot"]["side"] == "left" and "design_left" not in report
    for args, needle in ((["--scan-kind", "sandal"], "scan_kind = 'sandal': expected foot, "
                                                     "plantar or impression"),
                         (["--foot", "middle"], "foot = 'middle': expected left, right or both"),
                         (["--side", "left", "--foot", "right"], "--side-from-scan")):
        target = tmp_path / "bad"
        done = run_cli("generate", "--scan", str(made["plantar"]), *args, "--condition",
                       "neutral",
                       "--out", str(target))
        assert done.returncode == 2 and needle in done.stderr, done.stderr
        assert len(done.stderr.strip().splitlines()) == 1 and not target.exists()


def test_batch_order_names_one_file_for_both_sides(tmp_path, made):
    """One batch row, one foam box: the left insole from the left foot, the right from the
    right."""
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,scan,conditions,side,resolution_mm\n"
                      f"B1,{made['box']},neutral,both,2\n")
    done = run_cli("batch", str(orders), "--out", str(tmp_path / "out"), "--workers", "0")
    assert done.returncode == 0, done.stderr
    report = json.loads((tmp_path / "out" / "B1" / "B1.json").read_text())
    assert report["design_left"]["foot"]["side"] == "left"
    assert report["design"]["foot"]["side"] == "right"
