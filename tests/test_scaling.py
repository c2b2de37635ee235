"""Profile and base values are for the reference foot (265 mm, heel 71.285 mm); a smaller
foot's depths and heights scale by heel width / 71.285 and its rim by foot length / 265
(each at least half). Checked on the written meshes: rim heights all round (inspection,
which tests/test_rims.py checks against ray casts) and the arch's rise."""

from __future__ import annotations

import json

import pytest

from conftest import make_pair


def _made(tmp_path, length, **fields):
    result = make_pair(tmp_path / str(length), foot_length_mm=str(length), side="right",
                       resolution_mm="1.5", **fields)
    return result, json.loads(result.files["report"].read_text())["design"]


def test_a_childs_foot_gets_a_childs_cup_arch_and_rim(tmp_path):
    adult, adult_d = _made(tmp_path, 265, conditions="neutral")
    child, child_d = _made(tmp_path, 150, conditions="neutral")
    k = child_d["foot"]["heel_width_mm"] / 71.285
    assert 0.5 < k < 0.6
    a, c = adult.measured["right"], child.measured["right"]
    for key in ("rim_medial_mm", "rim_lateral_mm", "rim_posterior_mm"):
        assert c[key] == pytest.approx(a[key] * k, abs=0.5), key
    assert c["arch_rise_mm"] == pytest.approx(a["arch_rise_mm"] * k, abs=0.5)
    assert child_d["params"]["rim_thickness_mm"] == pytest.approx(2.5 * 150 / 265, abs=0.01)
    assert any(n.startswith("scaled to the foot: heel_cup_depth_mm") for n in child_d["notes"])
    assert not any(n.startswith("scaled") for n in adult_d["notes"])
    # A larger foot keeps the reference values; an explicit --set value is the foot's own.
    big, _ = _made(tmp_path, 310, conditions="neutral")
    assert big.measured["right"]["rim_posterior_mm"] == pytest.approx(13.0, abs=0.5)
    own, own_d = _made(tmp_path / "own", 150, conditions="neutral",
                       set={"heel_cup_depth_mm": 13})
    assert own.measured["right"]["rim_posterior_mm"] == pytest.approx(13.0, abs=0.5)
