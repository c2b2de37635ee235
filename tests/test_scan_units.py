"""Scan units: how sure the detector is, errors after a wrong --scan-units, and unscaled
scans scaled by the foot length the technician gives.

The scans are the real right foot (scans/dupontgu_right_m.stl, MIT, metres) turned, moved,
mirrored and rescaled to a unit no table holds (1 unit = 43.7 mm); the insoles written are
read back with trimesh and cut with a plane for their plan outline.
"""

from __future__ import annotations

import shapely
import numpy as np
import pytest
import trimesh

from conftest import ROOT, run_cli
from insolegen.core.errors import ScanError
from insolegen.scan.read import measure_scan

FULL = ROOT / "scans" / "dupontgu_right_m.stl"
UNIT_MM = 43.7


@pytest.fixture(scope="module")
def full() -> dict:
    return measure_scan(FULL)


def _unscaled(path, mirror: bool = False):
    mesh = trimesh.load(str(FULL))
    mesh.apply_transform(trimesh.transformations.rotation_matrix(1.1, [0.3, 1.0, 0.2]))
    mesh.apply_translation([0.5, -0.2, 0.3])
    if mirror:
        mesh.apply_transform(np.diag([-1.0, 1.0, 1.0, 1.0]))
    mesh.apply_scale(1000.0 / UNIT_MM)
    mesh.export(str(path))
    return path


def _plan(path, z: float = 0.4) -> shapely.Polygon:
    mesh = trimesh.load(str(path), force="mesh")
    lines = trimesh.intersections.mesh_plane(mesh, [0, 0, 1], [0, 0, z])
    segments = shapely.MultiLineString(np.round(lines[:, :, :2], 4).tolist())
    return max(shapely.polygonize(shapely.node(segments).geoms).geoms, key=lambda p: p.area)


@pytest.mark.parametrize("mirror", [False, True])
def test_unscaled_scan_scaled_by_the_foot_length(tmp_path, full, mirror):
    """Turned, rescaled to an unknown unit (and mirrored: then a left foot): with the full
    scan's foot length given, length and ball width within 3 mm, heel width within 4 mm;
    the report says the scale applied and the residual."""
    path = _unscaled(tmp_path / "u.stl", mirror)
    got = measure_scan(path, foot_length_mm=full["foot_length_mm"])
    assert got["side"] == ("left" if mirror else "right")
    assert abs(got["foot_length_mm"] - full["foot_length_mm"]) <= 3.0
    assert abs(got["ball_width_mm"] - full["ball_width_mm"]) <= 3.0
    assert abs(got["heel_width_mm"] - full["heel_width_mm"]) <= 4.0
    check = got["foot_length_check"]
    assert got["units_detected"] == "scaled" and abs(check["residual_mm"]) <= 0.5
    assert abs(check["scale_mm_per_unit"] - UNIT_MM) / UNIT_MM <= 0.01


def test_unscaled_scan_makes_the_full_scans_insole(tmp_path, full):
    """generate --scan --foot-length on the unscaled scan, no toe allowance: an insole whose
    plan is within 3 mm of the full scan's footprint."""
    from insolegen.scan.read import process_scan
    footprint = process_scan(FULL).measurements.outline
    path = _unscaled(tmp_path / "u.stl")
    out = tmp_path / "out"
    done = run_cli("generate", "--scan", str(path), "--foot-length", str(full["foot_length_mm"]),
                   "--side", "right", "--condition", "neutral", "--resolution-mm", "2",
                   "--set", "toe_allowance_mm=0", "--out", str(out))
    assert done.returncode == 0, done.stderr
    plan = _plan(out / "insole_right.stl")
    gap = max(shapely.distance(shapely.points(np.asarray(plan.exterior.coords)),
                               footprint.exterior).max(),
              shapely.distance(shapely.points(np.asarray(footprint.exterior.coords)),
                               plan.exterior).max())
    assert gap <= 3.0, gap


def test_units_confidence_and_wrong_units(tmp_path, full):
    """The detector says how sure it is; a wrong --scan-units names the units, the size that
    came out and the unit that makes a foot; a size no unit fits names both remedies."""
    assert full["units_confidence"] == {"confidence": "high", "other_units_that_fit_mm": {}}
    for units, size in (("mm", "0.2705 mm"), ("in", "6.871 mm"), ("cm", "2.705 mm")):
        with pytest.raises(ScanError) as err:
            measure_scan(FULL, units)
        assert (f"scan_units = '{units}': the scan comes out {size} long in {units}; a foot "
                "scan is 90-800 mm; in m it is 271 mm: give --scan-units m, or --foot-length "
                "MM to scale an unscaled scan") in str(err.value)
    tiny = trimesh.load(str(FULL))
    tiny.apply_scale(1e-4)
    tiny.export(str(tmp_path / "tiny.stl"))
    done = run_cli("measure", str(tmp_path / "tiny.stl"))
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "fits no unit" in done.stderr and "--scan-units" in done.stderr
    assert "--foot-length MM to scale an unscaled scan" in done.stderr


def test_foot_length_with_a_scan_is_checked(tmp_path):
    """With --scan-units the foot length is a check, not a scale; out of range is refused."""
    got = measure_scan(FULL, "m", foot_length_mm=270.0)
    assert got["units_detected"] == "m"
    assert got["foot_length_check"]["residual_mm"] == pytest.approx(
        got["foot_length_mm"] - 270.0, abs=0.01)
    out = tmp_path / "out"
    done = run_cli("generate", "--scan", str(FULL), "--foot-length", "900", "--condition",
                   "neutral", "--out", str(out))
    assert done.returncode == 2 and "foot_length_mm = '900': out of range" in done.stderr
    assert not out.exists()
