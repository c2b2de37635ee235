"""Issue 6 acceptance: a scan with 30% of its faces deleted, with 0.5 mm of noise, or
standing on a floor plane still measures within 3 mm and still makes a watertight insole."""

from __future__ import annotations

import numpy as np
import pytest
import shapely

from conftest import load, make_pair
from insolegen.scan.read import measure_scan
from scanutil import (MEASURES, MM_PER, SAMPLES, SCANS, holed, noisy, sample_mesh, with_floor,
                      write)

CASES = [("dupontgu_right_m.stl", "holed"), ("dupontgu_right_m.stl", "noisy"),
         ("dupontgu_right_m.stl", "floor"), ("dupontgu_left_m.stl", "cloud_on_floor"),
         ("makehuman_left_mm_yup.obj", "holed"), ("makehuman_left_mm_yup.obj", "floor")]


def variant(name: str, kind: str, folder):
    mesh = sample_mesh(name)
    _, units, up = SAMPLES[name]
    unit_mm = MM_PER[units]
    if kind == "cloud_on_floor":
        # A point cloud with the floor around the foot (not under it: the scanner cannot
        # see there), as a phone scan leaves it.
        standing = with_floor(mesh, up, unit_mm, gap_mm=0.0)
        points = standing.sample(150_000, seed=4)
        sole = shapely.union_all(shapely.polygons(np.delete(mesh.triangles, up, axis=2)))
        floor = np.abs(points[:, up] - mesh.bounds[0][up]) < 1e-9
        plan = np.delete(points, up, axis=1)
        under = floor & shapely.contains_xy(sole, plan[:, 0], plan[:, 1])
        path = folder / "cloud.xyz"
        np.savetxt(path, points[~under], fmt="%.6f")
        return path
    changed = {"holed": lambda: holed(mesh, 0.30, seed=3),
               "noisy": lambda: noisy(mesh, 0.5, unit_mm, seed=3),
               "floor": lambda: with_floor(mesh, up, unit_mm)}[kind]()
    return write(changed, folder / f"{kind}.stl")


@pytest.fixture(scope="module", params=CASES, ids=lambda c: f"{c[0].split('_')[0]}-{c[1]}")
def case(request, tmp_path_factory):
    name, kind = request.param
    folder = tmp_path_factory.mktemp(kind)
    path = variant(name, kind, folder)
    result = make_pair(folder / "out", scan=str(path), conditions="neutral")
    return name, kind, result, folder / "out"


def test_damaged_scan_measures_within_3_mm(case):
    name, kind, result, _ = case
    reference = measure_scan(SCANS / name)
    summary = result.design.foot.scan
    assert summary["side"] == reference["side"]
    # Where the scan is cut through the dorsum (the MakeHuman foot), the dorsal height is
    # where the cut runs, not a measurement: it is flagged, and not held to 3 mm.
    assert summary["dorsum_cut"] == reference["dorsum_cut"] == name.startswith("makehuman")
    for key in MEASURES:
        if key == "dorsal_height_50_mm" and reference["dorsum_cut"]:
            continue
        assert summary[key] == pytest.approx(reference[key], abs=3.0), key
    if "floor" in kind:
        assert summary["cleaning"]["floor_removed"] is not None


def test_damaged_scan_still_makes_a_watertight_insole(case):
    _, _, result, out = case
    for side in ("left", "right"):
        mesh = load(out / f"t_{side}.stl")
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
        assert abs(mesh.bounds[0][2]) <= 1e-3
    assert all(m["watertight"] for m in result.measured.values())
