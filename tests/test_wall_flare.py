"""Issue 11: the outer wall flared outward at the bottom (wall_flare_mm), measured on the STL.

Sections of the written mesh are cut here (triangle edges crossing the plane, joined by
shapely), not by insolegen. Tolerances: the footprint at z = 0.01 mm lies the flare
outside the unflared part's all round within 0.1 mm; the top border is the unflared one
within 1e-3 mm; the mirror exact to the bit.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import shapely
from shapely.geometry import MultiLineString

from conftest import load, make_pair, run_cli, stl_vectors
from insolegen.design.shoefit import liner_polygon

FIELDS = {"conditions": "flat_feet", "foot_length_mm": 255, "resolution_mm": 2.0}
FLARE = 2.5


def section(mesh, z: float) -> shapely.Polygon:
    """The mesh's cross-section at height ``z`` as one polygon (largest piece)."""
    tri = mesh.triangles
    d = tri[:, :, 2] - z
    segments = []
    for t, s in zip(tri[(d.min(axis=1) < 0) & (d.max(axis=1) > 0)],
                    d[(d.min(axis=1) < 0) & (d.max(axis=1) > 0)]):
        points = []
        for i, j in ((0, 1), (1, 2), (2, 0)):
            if (s[i] < 0) != (s[j] < 0):
                if tuple(t[i]) > tuple(t[j]):  # one order per edge: both faces cut it alike
                    i, j = j, i
                k = s[i] / (s[i] - s[j])
                points.append(tuple(t[i, :2] + k * (t[j, :2] - t[i, :2])))
        segments.append(points)
    pieces = shapely.polygonize(shapely.get_parts(shapely.union_all(MultiLineString(segments))))
    return max(shapely.get_parts(pieces), key=lambda p: p.area)


def gaps(outer: shapely.Polygon, inner: shapely.Polygon) -> np.ndarray:
    """Distance (mm) from every vertex of ``outer``'s border to ``inner``'s border."""
    ring = shapely.points(shapely.get_coordinates(outer.exterior))
    return shapely.distance(inner.exterior, ring)


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    flared, plain = tmp_path_factory.mktemp("flared"), tmp_path_factory.mktemp("plain")
    result = make_pair(flared, **FIELDS, **{"set.wall_flare_mm": str(FLARE)})
    make_pair(plain, **FIELDS)
    return result, flared, plain


@pytest.mark.parametrize("side", ["left", "right"])
def test_footprint_reaches_the_flare_beyond_the_top_all_round(made, side):
    _, flared, plain = made
    mesh, vertical = load(flared / f"t_{side}.stl"), load(plain / f"t_{side}.stl")
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > vertical.volume
    assert abs(mesh.bounds[0][2]) < 1e-4
    foot, top = section(mesh, 0.01), section(vertical, 0.01)
    assert foot.contains(top)
    d = gaps(foot, top)
    assert np.all(np.abs(d - FLARE) <= 0.1), (d.min(), d.max())
    assert np.all(np.abs(gaps(top, foot) - FLARE) <= 0.1)
    # the top border is the vertical part's: the flare leaves the top where it was
    height = mesh.vertices[:, 2]
    upper = mesh.vertices[height > 0.5]
    assert np.allclose(np.sort(upper, axis=0), np.sort(vertical.vertices[vertical.vertices[:, 2]
                                                                           > 0.5], axis=0),
                       atol=1e-3)


def test_left_is_the_exact_mirror(made):
    _, flared, _ = made
    right, left = stl_vectors(flared / "t_right.stl"), stl_vectors(flared / "t_left.stl")
    assert np.array_equal(right[:, ::-1] * np.array([1, -1, 1], np.float32), left)


def test_report_measures_the_flared_length(made):
    result, flared, plain = made
    report = json.loads((flared / "t.json").read_text())
    assert report["design"]["params"]["wall_flare_mm"] == FLARE
    mesh, vertical = load(flared / "t_right.stl"), load(plain / "t_right.stl")
    length = np.ptp(mesh.vertices[:, 0])
    assert length == pytest.approx(np.ptp(vertical.vertices[:, 0]) + 2 * FLARE, abs=0.1)
    assert report["checks"]["right"]["insole_length_mm"]["ok"]


def test_zero_flare_is_todays_vertical_wall_byte_for_byte(tmp_path, made):
    _, _, plain = made
    make_pair(tmp_path, **FIELDS, **{"set.wall_flare_mm": "0"})
    for side in ("left", "right"):
        assert (tmp_path / f"t_{side}.stl").read_bytes() == (plain / f"t_{side}.stl").read_bytes()


def test_flare_out_of_range_is_refused(tmp_path):
    done = run_cli("generate", "--foot-length", "255", "--condition", "flat_feet",
                   "--set", "wall_flare_mm=4", "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    assert len(done.stderr.strip().splitlines()) == 1 and "wall_flare_mm" in done.stderr
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_in_a_shoe_the_flared_footprint_keeps_the_clearance_and_fits(tmp_path):
    out = tmp_path / "shoe"
    result = make_pair(out, side="right", shoe="running",
                       **{**FIELDS, "set.wall_flare_mm": "1.5", "resolution_mm": "3"})
    shoe = result.design.shoe
    assert result.design.params["wall_flare_mm"] == 1.5
    assert any("wall_flare_mm 1.5: the top's outline is kept" in n for n in result.design.notes)
    mesh = load(out / "t_right.stl")
    assert mesh.is_watertight and mesh.is_winding_consistent
    down = mesh.triangles[mesh.face_normals[:, 2] < -1e-6][:, :, :2]
    seen = shapely.coverage_union_all(shapely.polygons(down))
    # set in the shoe as a technician sets it: the footprint's heel clearance_mm from the back
    device = shapely.affinity.translate(seen, shoe.clearance_mm - seen.bounds[0], 0.0)
    liner = liner_polygon(shoe)
    assert liner.contains(device)
    inset = float(shapely.distance(liner.exterior, shapely.points(
        shapely.get_coordinates(device.exterior))).min())
    assert inset == pytest.approx(shoe.clearance_mm, abs=0.3)
    done = run_cli("fit", str(out / "t_right.stl"))
    assert done.returncode == 0, done.stdout + done.stderr
    report = json.loads(done.stdout)
    assert report["fits"]
    assert report["measured"]["outline_clearance_mm"] == pytest.approx(shoe.clearance_mm,
                                                                       abs=0.3)


def test_a_flare_the_shoe_has_no_room_for_is_refused(tmp_path):
    done = run_cli("generate", "--foot-length", "255", "--condition", "flat_feet", "--shoe",
                   "running", "--set", "wall_flare_mm=3", "--out", str(tmp_path / "o"))
    assert done.returncode == 2
    line, = done.stderr.strip().splitlines()
    assert "too small for this foot" in line and "wall_flare_mm = 3" in line
    assert not (tmp_path / "o").exists() or not any((tmp_path / "o").iterdir())


def test_the_bed_check_uses_the_flared_footprint(tmp_path, made):
    result, _, _ = made
    m = result.measured["right"]  # the unflared size is the flared one less 2 flares
    x, y = m["length_mm"] - 2 * FLARE + 2.0, m["width_mm"] - 2 * FLARE + 2.0
    bed = f"{x:.1f}x{y:.1f}x100"
    args = ["generate", "--foot-length", "255", "--condition", "flat_feet", "--resolution-mm",
            "2", "--side", "right", "--bed", bed]
    done = run_cli(*args, "--set", f"wall_flare_mm={FLARE}", "--out", str(tmp_path / "a"))
    assert done.returncode == 2 and "fits no plate" in done.stderr, done.stderr
    assert not (tmp_path / "a").exists() or not any((tmp_path / "a").iterdir())
    assert run_cli(*args, "--out", str(tmp_path / "b")).returncode == 0
