"""Issue 6 acceptance on the real sample scans: ``measure`` succeeds, length and width
agree with the scan's own principal extents within 2 mm, the side matches the file's label."""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import run_cli
from insolegen.foot.model import foot_from_json
from insolegen.scan.read import foot_from_result, process_scan, scan_summary
from insolegen.scan.measure import AHI_HIGH, AHI_LOW, arch_type
from scanutil import MM_PER, SAMPLES, SCANS, horizontal_extents, sample_mesh

KEYS = ("units_detected", "side", "foot_length_mm", "ball_width_mm", "heel_width_mm",
        "plantar_arch_height_mm", "dorsal_height_50_mm", "ball_length_mm",
        "arch_height_index", "arch_type", "landmarks")


@pytest.fixture(scope="module", params=sorted(SAMPLES))
def sample(request):
    name = request.param
    result = process_scan(SCANS / name)
    return name, result, scan_summary(result)


def test_side_and_units_match_the_file_label(sample):
    name, _, summary = sample
    side, units, _ = SAMPLES[name]
    assert summary["side"] == side
    assert summary["units_detected"] == units


def test_length_and_width_match_the_principal_extents(sample):
    name, _, summary = sample
    _, units, up = SAMPLES[name]
    length, width = horizontal_extents(sample_mesh(name), up, MM_PER[units])
    assert summary["foot_length_mm"] == pytest.approx(length, abs=2.0)
    assert summary["ball_width_mm"] == pytest.approx(width, abs=2.0)


def test_measurements_are_those_of_an_adult_foot(sample):
    _, _, m = sample
    length = m["foot_length_mm"]
    # ANSUR II: ball-of-foot length is 0.69-0.80 of foot length for all 6,068 subjects.
    assert 0.68 <= m["ball_length_mm"] / length <= 0.80
    assert 0.30 <= m["ball_width_mm"] / length <= 0.46
    assert 0.55 <= m["heel_width_mm"] / m["ball_width_mm"] <= 0.95  # ANSUR II: 0.56-0.92
    assert 0 < m["plantar_arch_height_mm"] < 30
    assert m["arch_height_index"] == pytest.approx(
        m["dorsal_height_50_mm"] / m["ball_length_mm"], abs=1e-3)
    assert m["arch_type"] == arch_type(m["arch_height_index"])


def test_landmarks_sit_where_a_foot_has_them(sample):
    _, _, m = sample
    length = m["foot_length_mm"]
    marks = {k: np.array(v) for k, v in m["landmarks"].items()}
    medial = 1.0 if m["side"] == "right" else -1.0  # output frame: right foot medial +Y
    assert set(marks) >= {"heel_centre", "arch_apex", "mth1", "mth5", "met5_base", "dorsum_50",
                          "heel_back", "toe_tip"}
    assert all(len(v) == 3 for v in marks.values())
    assert marks["mth1"][0] > marks["mth5"][0], "1st metatarsal head ahead of the 5th"
    assert medial * (marks["mth1"][1] - marks["mth5"][1]) > 0, "1st head on the medial side"
    assert medial * (marks["arch_apex"][1] - marks["heel_centre"][1]) > 0
    assert 0.25 <= marks["arch_apex"][0] / length <= 0.65
    assert marks["dorsum_50"][2] == pytest.approx(m["dorsal_height_50_mm"])
    assert marks["dorsum_50"][0] == pytest.approx(marks["heel_back"][0] + length / 2, abs=0.05)
    assert marks["heel_back"][0] == pytest.approx(marks["toe_tip"][0] - length, abs=0.05)
    for name in ("heel_centre", "mth1", "mth5"):
        assert 0.0 <= marks[name][2] < 5.0, f"{name} lies on the sole, near the ground"


def test_arch_type_thresholds():
    assert arch_type(AHI_LOW - 0.001) == "low"
    assert arch_type(0.31) == "normal"
    assert arch_type(AHI_HIGH + 0.001) == "high"


def test_foot_from_a_scan_round_trips_through_json(sample):
    _, result, _ = sample
    foot = foot_from_result(result)
    again = foot_from_json(json.loads(json.dumps(foot.to_json())))
    assert again.to_json() == foot.to_json()
    assert again.plantar.heights(np.array([[50.0, 0.0]])) == pytest.approx(
        foot.plantar.heights(np.array([[50.0, 0.0]])))
    assert again.plantar_arch_height_mm == foot.plantar_arch_height_mm \
        == result.measurements.plantar_arch_height_mm


def test_cli_measure_prints_the_json_keys():
    done = run_cli("measure", str(SCANS / "dupontgu_left_m.stl"))
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert set(KEYS) <= set(data)
    assert data["side"] == "left" and data["units_detected"] == "m"
    assert data["arch_type"] in ("low", "normal", "high")
