"""Pressure maps: read, registered to the foot, and what they change on the written mesh.

The maps in tests/data/pressure are synthetic peak-pressure fields of ANSUR II
subject 10027's foot (see SOURCES.md and make_maps.py there): a 1st
metatarsal head peak 8 mm proximal and 4 mm medial of the template's
landmark, exported as a right foot's CSV grid, as a left foot's Tekscan
export turned 15 degrees, and as a right foot turned -30 degrees on an
anisotropic grid. The relief is found on the STL as written: the top
surface, read with trimesh, is compared with the same order's insole made
without the map.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from conftest import DATA, load, make_pair, run_cli

sys.path.insert(0, str(DATA / "pressure"))
import make_maps  # noqa: E402

MAPS = DATA / "pressure"
FOOT = {"foot_length_mm": "273", "ball_width_mm": "101", "heel_width_mm": "70",
        "resolution_mm": "1.5", "side": "right"}
FILES = ("ansur10027_right.csv", "ansur10027_left_tekscan.txt", "ansur10027_right_turned.csv")


def top_height(mesh, xy: np.ndarray) -> np.ndarray:
    """Highest point of the mesh over each (n, 2) plan point (mm), from its top vertices
    (a right insole's top is a height field: interpolated over its vertices)."""
    from scipy.interpolate import LinearNDInterpolator
    v = mesh.vertices
    up = mesh.faces[mesh.face_normals[:, 2] > 0.2]
    ids = np.unique(up)
    return LinearNDInterpolator(v[ids, :2], v[ids, 2])(xy)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    out = tmp_path_factory.mktemp("pressure")
    results = {"none": make_pair(out / "none", **FOOT)}
    for name in FILES:
        results[name] = make_pair(out / name, pressure=str(MAPS / name), **FOOT)
    return out, results


def relief_centre(out, name: str) -> tuple[np.ndarray, float]:
    """Where the top of ``name``'s insole lies lowest under the plain one's, and how deep."""
    plain, mapped = load(out / "none" / "t_right.stl"), load(out / name / "t_right.stl")
    xs, ys = np.meshgrid(np.arange(150.0, 240.0, 0.5), np.arange(-40.0, 45.0, 0.5))
    xy = np.column_stack([xs.ravel(), ys.ravel()])
    drop = top_height(plain, xy) - top_height(mapped, xy)
    drop = np.nan_to_num(drop)
    deep = drop > 0.5 * drop.max()
    return np.average(xy[deep], axis=0, weights=drop[deep]), float(drop.max())


@pytest.mark.parametrize("name", FILES)
def test_relief_sits_under_the_mapped_first_met_head(made, name):
    out, _ = made
    centre, depth = relief_centre(out, name)
    truth = np.array(make_maps.mth1_peak())
    template = np.array(make_maps.FOOT.landmarks["mth1"])
    assert depth == pytest.approx(1.5, abs=0.15)
    assert np.linalg.norm(centre - truth) < 3.0, (centre, truth)
    # the map moved it: nearer the peak than the template's landmark is
    assert np.linalg.norm(centre - truth) < np.linalg.norm(template - truth) - 4.0


def test_mirrored_or_turned_export_gives_the_same_insole(made):
    out, results = made
    plain = load(out / "none" / "t_right.stl")
    xy = plain.vertices[np.unique(plain.faces[plain.face_normals[:, 2] > 0.2])][:, :2]
    first = top_height(load(out / FILES[0] / "t_right.stl"), xy)
    for name in FILES[1:]:
        other = top_height(load(out / name / "t_right.stl"), xy)
        ok = np.isfinite(first) & np.isfinite(other)
        assert np.max(np.abs(first[ok] - other[ok])) < 0.45, name
        assert np.mean(np.abs(first[ok] - other[ok])) < 0.01, name
        zones = [(r.name, r.density) for r in results[name].design.infill]
        assert zones == [(r.name, r.density) for r in results[FILES[0]].design.infill]


def test_report_records_what_the_map_changed_and_why(made):
    out, results = made
    report = json.loads((out / FILES[1] / "t.json").read_text())
    design = report["design"]
    assert design["pressure"]["registration"]["mirrored"] is True
    assert design["pressure"]["registration"]["scale"] == pytest.approx(1.0, abs=0.05)
    notes = " | ".join(design["notes"])
    assert "pressure relief 1.5 mm deep at (" in notes and "in the forefoot" in notes
    assert "zone heel softened from 30 to 18 % infill: 1 pressure peak(s) under it" in notes
    heel = [z for z in design["infill"] if z["name"].startswith("heel")]
    assert heel and all(z["density"] == 0.18 for z in heel)
    assert len(design["reliefs"]) == 1
    unmapped = json.loads((out / "none" / "t.json").read_text())["design"]
    assert unmapped["pressure"] is None and unmapped["reliefs"] == []


GOOD = (MAPS / "ansur10027_right.csv").read_text()
TEK = (MAPS / "ansur10027_left_tekscan.txt").read_text()


def _tek_drop_row(text: str) -> str:
    lines = text.splitlines()
    k = lines.index("Frame 2")
    return "\n".join(lines[:k - 2] + lines[k - 1:])


def _small_blob() -> str:
    grid = np.zeros((30, 30))
    grid[10:16, 10:16] = 200.0
    return "# pitch_mm = 5.08\n" + "\n".join(",".join(f"{v:g}" for v in r) for r in grid)


HOSTILE = {
    "bad_header": ("pitch 5.08\n" + GOOD.split("\n", 1)[1], "expected '# pitch_mm = ...'"),
    "no_pitch": ("# units = kPa\n" + GOOD.split("\n", 1)[1], "expected '# pitch_mm = 5.08'"),
    "bad_pitch": (GOOD.replace("pitch_mm = 5.08", "pitch_mm = 500", 1), "pitch_mm = '500'"),
    "ragged_row": (GOOD.replace("\n", ",7\n", 5).replace(",7\n", "\n", 4),
                   "values, expected 25"),
    "nan": (GOOD.replace("25,", "nan,", 1), "not a finite number (NaN or inf)"),
    "negative": (GOOD.replace("25,", "-25,", 1), "a negative pressure"),
    "tekscan_rows": (_tek_drop_row(TEK), "rows, expected 64 (ROWS)"),
    "tekscan_cols": (TEK.replace("COLS 48", "COLS 47"), "values, expected 47 (COLS)"),
    "tekscan_spacing": (TEK.replace("ROW_SPACING 0.508 cm\n", ""), "missing ROW_SPACING"),
    "all_zero": ("# pitch_mm = 5\n" + "0,0,0\n0,0,0\n0,0,0\n", "no sensel is loaded"),
    "not_this_foot": (_small_blob(), "does not overlap the foot"),
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_malformed_map_exit_2_one_line_nothing_written(tmp_path, case):
    text, message = HOSTILE[case]
    path = tmp_path / f"{case}.csv"
    path.write_text(text)
    out = tmp_path / "out"
    done = run_cli("generate", "--foot-length", "273", "--condition", "neutral",
                   "--pressure", str(path), "--out", str(out))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("insolegen: error: pressure = "), lines
    assert message in lines[0]
    assert not out.exists() or not any(out.iterdir())


def test_batch_refuses_a_pressure_map_outside_the_scan_root(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    inside = root / "plate.csv"
    inside.write_text(GOOD)
    outside = tmp_path / "secret.csv"
    outside.write_text("# pitch_mm = 5\nroot:x:0:0\n")
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,conditions,foot_length_mm,ball_width_mm,heel_width_mm,"
                      "resolution_mm,side,pressure\n"
                      f"a,neutral,273,101,70,3.0,right,{inside}\n"
                      f"b,neutral,273,101,70,3.0,right,{outside}\n")
    done = run_cli("batch", str(orders), "--out", str(tmp_path / "out"), "--workers", "0",
                   "--scan-root", str(root), timeout=300)
    assert done.returncode == 3, done.stderr
    rows = [json.loads(line) for line in (tmp_path / "out" / "manifest.jsonl").read_text()
            .splitlines()]
    status = {r["order_id"]: r for r in rows}
    assert status["a"]["status"] == "done"
    assert status["b"]["status"] == "failed"
    assert "outside the scan root" in status["b"]["error"]
    assert "root:x" not in status["b"]["error"]


def test_batch_fingerprint_follows_the_maps_bytes_not_its_folder(tmp_path):
    from insolegen.batch.orders import fingerprint
    from insolegen.pipeline.order import order_from_mapping
    from insolegen.prescription.profiles import prescribe
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    for folder in ("a", "b"):
        (tmp_path / folder / "plate.csv").write_text(GOOD)

    def print_of(folder: str) -> str:
        order = order_from_mapping({"order_id": "x", "conditions": "neutral",
                                    "foot_length_mm": "273", "pressure":
                                    str(tmp_path / folder / "plate.csv")})
        return fingerprint(order, None, prescribe("neutral").parameters)
    assert print_of("a") == print_of("b")
    (tmp_path / "b" / "plate.csv").write_text(GOOD.replace("25,", "30,", 1))
    assert print_of("a") != print_of("b")
