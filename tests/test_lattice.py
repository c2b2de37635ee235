"""The lattice insole: a closed body, its skin and cells as stated, its mass as reported.

Measured on the STL as written with trimesh and numpy ray casts, not on the
lattice code's own values: the skin is the distance straight down from the
top surface to the first cavity; the cell is the period of the cavities
along X at mid-height.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import load, make_pair, run_cli


@pytest.fixture(scope="module")
def lattice(tmp_path_factory):
    out = tmp_path_factory.mktemp("lattice")
    make_pair(out, conditions="plantar_fasciitis", side="right", foot_length_mm="240",
              resolution_mm="2.0", formats="stl,lattice-stl")
    report = json.loads((out / "t.json").read_text())
    return out, report["lattice"], load(out / "t_right_lattice.stl")


def hits_down(mesh, x: float, y: float) -> np.ndarray:
    """Heights (mm, descending) where a vertical line at (x, y) crosses the mesh."""
    tri = mesh.triangles
    near = (tri[:, :, 0].min(1) <= x) & (tri[:, :, 0].max(1) >= x) & \
           (tri[:, :, 1].min(1) <= y) & (tri[:, :, 1].max(1) >= y)
    t = tri[near]
    a, b, c = t[:, 0, :2], t[:, 1, :2], t[:, 2, :2]
    det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    ok = np.abs(det) > 1e-12
    u = ((x - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (y - a[:, 1])) / \
        np.where(ok, det, 1)
    v = ((b[:, 0] - a[:, 0]) * (y - a[:, 1]) - (x - a[:, 0]) * (b[:, 1] - a[:, 1])) / \
        np.where(ok, det, 1)
    inside = ok & (u >= 0) & (v >= 0) & (u + v <= 1)
    z = t[inside, 0, 2] + u[inside] * (t[inside, 1, 2] - t[inside, 0, 2]) + \
        v[inside] * (t[inside, 2, 2] - t[inside, 0, 2])
    return np.sort(z)[::-1]


def test_lattice_is_one_closed_body_on_the_floor(lattice):
    out, report, mesh = lattice
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.bounds[0][2] == pytest.approx(0.0, abs=1e-4)
    assert mesh.bounds[0][0] == pytest.approx(0.0, abs=1e-4)
    solid = load(out / "t_right.stl")
    # the outer surface is the solid insole's; the cavities take material away
    assert np.allclose(mesh.bounds, solid.bounds, atol=1e-4)
    assert 0.4 * solid.volume < mesh.volume < 0.95 * solid.volume
    assert report["as_written"]["t_right_lattice.stl"]["watertight"]


def test_mass_is_what_the_report_claims(lattice):
    _, report, mesh = lattice
    density = 1.01  # PA12, g/cm3 (the report's material)
    assert report["material"] == "pa12"
    assert mesh.volume / 1000 * density == pytest.approx(report["mass_g"], rel=0.05)


def test_skin_is_as_stated_under_the_top(lattice):
    _, report, mesh = lattice
    skins = []
    for x in np.arange(75.0, 140.0, 1.7):  # the arch zone, where the part is thickest
        for y in (-5.0, 0.0, 5.0, 10.0):
            z = hits_down(mesh, x, y)
            if len(z) >= 4:  # top, a cavity's ceiling and floor, bottom
                skins.append(z[0] - z[1])
    assert len(skins) > 30
    skins = np.array(skins)
    stated = report["skin_mm"]
    # at its thinnest, as stated (within 0.35 mm: the 0.5 mm voxels and rounded cavity tops)
    assert skins.min() == pytest.approx(stated, abs=0.35)


def test_cell_size_is_as_stated(lattice):
    """The cavities repeat along X with the stated cell: shifted by one cell, the cavity
    surface's vertices fall back onto it (the median gap is smallest at that shift)."""
    from scipy.spatial import cKDTree
    _, report, mesh = lattice
    cell = {z["name"]: z["cell_mm"] for z in report["zones"]}["arch"]
    shells = mesh.split(only_watertight=False)
    cavities = np.vstack([s.vertices for s in shells if s.volume < 0])
    tree = cKDTree(cavities)
    shifts = np.arange(4.0, 32.0, 0.25)
    gap = [np.median(tree.query(cavities + [p, 0.0, 0.0])[0]) for p in shifts]
    assert shifts[int(np.argmin(gap))] == pytest.approx(cell, rel=0.1)


def test_densities_never_below_what_the_material_can_print(lattice):
    _, report, _ = lattice
    for zone in report["zones"]:
        assert zone["wall_mm"] >= 1.0 + 0.3 - 1e-9
        assert zone["density"] >= zone["density_asked"] - 1e-6


def test_insolegen_check_finds_it_printable(lattice):
    out, _, _ = lattice
    done = run_cli("check", str(out / "t_right_lattice.stl"), "--material", "pa12",
                   timeout=300)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    body, = report["bodies"]
    assert body["watertight"] and body["inside_out_shells"] == 0 and body["cavities"] > 0
    assert body["self_intersections"] == 0
    assert body["min_thickness_mm"] >= 1.0
