"""Issue 6 acceptance: the same scan turned by any rotation, moved, mirrored (which flips
the side) or rescaled to metres or inches measures the same within 1 mm."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from insolegen.scan.read import measure_scan
from scanutil import MEASURES, SAMPLES, SCANS, mirrored, sample_mesh, transformed, write

OTHER = {"left": "right", "right": "left"}


@pytest.fixture(scope="module")
def originals():
    return {name: (sample_mesh(name), measure_scan(SCANS / name)) for name in SAMPLES}


def assert_same(result: dict, reference: dict, tolerance_mm: float = 1.0) -> None:
    for key in MEASURES:
        assert result[key] == pytest.approx(reference[key], abs=tolerance_mm), key


def rotation(q: tuple[float, float, float, float]) -> np.ndarray:
    """Rotation matrix of a quaternion (normalised here)."""
    w, x, y, z = np.array(q) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)],
                     [2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)],
                     [2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)]])


unit = st.floats(-1.0, 1.0, allow_nan=False)
quaternions = st.tuples(unit, unit, unit, unit).filter(lambda q: np.linalg.norm(q) > 0.2)
offsets = st.tuples(*[st.floats(-2000.0, 2000.0, allow_nan=False)] * 3)


@settings(max_examples=8, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(sorted(SAMPLES)), q=quaternions, offset_mm=offsets)
def test_any_rigid_motion_measures_the_same(originals, tmp_path_factory, name, q, offset_mm):
    mesh, reference = originals[name]
    _, units, _ = SAMPLES[name]
    matrix = np.eye(4)
    matrix[:3, :3] = rotation(q)
    matrix[:3, 3] = np.array(offset_mm) / {"m": 1000.0, "mm": 1.0}[units]
    path = write(transformed(mesh, matrix), tmp_path_factory.mktemp("rigid") / "foot.stl")
    result = measure_scan(path)
    assert result["side"] == reference["side"]
    assert result["units_detected"] == units
    assert_same(result, reference)


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_mirror_image_is_the_other_foot_measuring_the_same(originals, tmp_path, name):
    mesh, reference = originals[name]
    result = measure_scan(write(mirrored(mesh), tmp_path / "foot.stl"))
    assert result["side"] == OTHER[reference["side"]]
    assert_same(result, reference)


@pytest.mark.parametrize("name,unit", [("makehuman_left_mm_yup.obj", "m"),
                                       ("makehuman_left_mm_yup.obj", "in"),
                                       ("dupontgu_right_m.stl", "in"),
                                       ("dupontgu_right_m.stl", "mm")])
def test_rescaled_scan_is_detected_and_measures_the_same(originals, tmp_path, name, unit):
    mesh, reference = originals[name]
    scaled = mesh.copy()
    from_mm = {"m": 1e-3, "in": 1 / 25.4, "mm": 1.0}[unit]
    scaled.apply_scale({"m": 1000.0, "mm": 1.0}[SAMPLES[name][1]] * from_mm)
    result = measure_scan(write(scaled, tmp_path / "foot.stl"))
    assert result["units_detected"] == unit
    assert result["side"] == reference["side"]
    assert_same(result, reference)
