"""Foot from measurements: sizes, population ratios, the template outline, ANSUR II."""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CONDITIONS, load, make_pair
from insolegen.core.errors import InputError
from insolegen.foot.model import foot_from_json
from insolegen.foot.measurements import Measurements, foot_from_measurements
from insolegen.foot.outline import width_profile
from insolegen.foot.sizes import foot_length_from_size


@pytest.mark.parametrize("size,length", [
    ("Mondopoint 265", 265.0), ("EU 42", 265.0), ("eu 39", 245.0), ("UK 8", 262.47),
    ("US-M 9", 262.47), ("US-W 10.5", 262.47), ("US-W 7", 232.83), ("UK 11.5", 292.1),
])
def test_shoe_sizes_convert_by_the_documented_formulas(size, length):
    assert foot_length_from_size(size) == pytest.approx(length, abs=0.01)


@pytest.mark.parametrize("size", ["EU", "42", "EU forty", "XX 42", "EU 80", "UK -1", "EU ４２",
                                  "EU nan", "US-W 1e308", ""])
def test_bad_shoe_sizes_name_the_field(size):
    with pytest.raises(InputError, match="shoe_size"):
        foot_length_from_size(size)


def test_missing_values_come_from_ansur_ratios():
    foot = foot_from_measurements(Measurements(foot_length_mm=265))
    assert foot.ball_width_mm == pytest.approx(0.376 * 265, abs=0.01)
    assert foot.heel_width_mm == pytest.approx(0.269 * 265, abs=0.01)
    assert foot.sources["ball_width_mm"].startswith("estimated")


def test_outline_meets_the_measurements_exactly():
    foot = foot_from_measurements(Measurements(foot_length_mm=250, ball_width_mm=96,
                                               heel_width_mm=64))
    x0, y0, x1, y1 = foot.outline.bounds
    assert (x0, x1) == pytest.approx((0.0, 250.0), abs=1e-6)
    xs = np.linspace(0, 250, 2001)
    lo, hi = width_profile(foot.outline, xs)
    # breadths as calipers take them: between parallel planes along the long axis
    front, rear = xs >= 125, xs <= 62.5
    assert hi[front].max() - lo[front].min() == pytest.approx(96, abs=0.01)
    assert hi[rear].max() - lo[rear].min() == pytest.approx(64, abs=0.01)


def test_outline_is_a_foot_not_an_ellipse():
    foot = foot_from_measurements(Measurements(foot_length_mm=265))
    xs = np.linspace(0, 265, 1001)
    lo, hi = width_profile(foot.outline, xs)
    at = lambda f: int(f * 1000)
    # medial arch concavity: the medial border dips between heel and ball
    assert hi[at(0.42)] < hi[at(0.2)] and hi[at(0.42)] < hi[at(0.72)]
    # widest laterally at the 5th metatarsal head, medially at the 1st
    assert 0.6 < xs[np.argmin(lo)] / 265 < 0.7
    assert 0.65 < xs[np.argmax(hi)] / 265 < 0.85
    # the hallux is the longest toe: the tip lies on the medial side
    tip = np.asarray(foot.outline.exterior.coords)
    assert tip[np.argmax(tip[:, 0]), 1] > (hi[-5] + lo[-5]) / 2 - 1
    # smooth: no corner sharper than 25 degrees between neighbouring edges
    c = np.asarray(foot.outline.exterior.coords)
    d = np.diff(c, axis=0)
    ang = np.degrees(np.abs(np.angle(np.exp(1j * np.diff(np.arctan2(d[:, 1], d[:, 0]))))))
    assert ang.max() < 25


def test_landmarks_sit_at_typical_fractions():
    foot = foot_from_measurements(Measurements(foot_length_mm=265))
    frac = {k: v[0] / 265 for k, v in foot.landmarks.items()}
    assert 0.10 <= frac["heel_centre"] <= 0.18
    assert 0.40 <= frac["arch_apex"] <= 0.45
    assert 0.62 <= frac["mth5"] <= 0.66
    assert 0.70 <= frac["mth1"] <= 0.745
    assert foot.landmarks["mth1"][1] > foot.landmarks["mth5"][1], "1st head medial (+Y)"
    assert foot.outline.contains(__import__("shapely").points(list(foot.landmarks.values()))).all()


def test_foot_round_trips_through_json():
    foot = foot_from_measurements(Measurements(shoe_size="EU 40", navicular_height_mm=38))
    again = foot_from_json(foot.to_json())
    assert again.to_json() == foot.to_json()


@pytest.mark.parametrize("fields,field", [
    ({"foot_length_mm": 50}, "foot_length_mm"), ({"foot_length_mm": 600}, "foot_length_mm"),
    ({"foot_length_mm": -265}, "foot_length_mm"), ({"foot_length_mm": 0}, "foot_length_mm"),
    ({"foot_length_mm": "abc"}, "foot_length_mm"), ({"foot_length_mm": "nan"}, "foot_length_mm"),
    ({"foot_length_mm": 265, "ball_width_mm": 160}, "ball_width_mm"),
    ({"foot_length_mm": 265, "ball_width_mm": 60}, "ball_width_mm"),
    ({"foot_length_mm": 265, "heel_width_mm": 100}, "heel_width_mm"),
    ({"foot_length_mm": 265, "shoe_size": "EU 42"}, "shoe_size"),
    ({}, "foot_length_mm"),
])
def test_bad_measurements_are_refused_naming_the_field(fields, field):
    with pytest.raises(InputError, match=field):
        foot_from_measurements(Measurements(**fields))


def test_every_ansur_subject_gives_a_valid_foot(ansur_rows):
    """All 6,068 ANSUR II subjects pass validation and give a simple, exact outline."""
    for row in ansur_rows:
        foot = foot_from_measurements(Measurements(
            foot_length_mm=row["footlength"], ball_width_mm=row["footbreadthhorizontal"],
            heel_width_mm=row["heelbreadth"]))
        assert foot.outline.is_valid and foot.outline.geom_type == "Polygon"
        assert foot.outline.bounds[2] == pytest.approx(float(row["footlength"]), abs=1e-6)


def _extremes(rows: list[dict]) -> list[dict]:
    keys = {
        "length": lambda r: float(r["footlength"]),
        "ball": lambda r: float(r["footbreadthhorizontal"]) / float(r["footlength"]),
        "heel": lambda r: float(r["heelbreadth"]) / float(r["footlength"]),
        "heel/ball": lambda r: float(r["heelbreadth"]) / float(r["footbreadthhorizontal"]),
    }
    picked = {}
    for key in keys.values():
        ordered = sorted(rows, key=key)
        for r in ordered[:2] + ordered[-2:]:
            picked[r["subject_id"]] = r
    return list(picked.values())


def test_extreme_ansur_feet_give_good_insoles(ansur_rows, tmp_path):
    """The most extreme subjects (length and every ratio, both ends) through the whole
    pipeline, each condition in turn; the full 6,068 sweep is benchmarks/ansur_sweep.py."""
    for i, row in enumerate(_extremes(ansur_rows)):
        out = tmp_path / row["subject_id"]
        result = make_pair(out, conditions=CONDITIONS[i % 6], foot_length_mm=row["footlength"],
                           ball_width_mm=row["footbreadthhorizontal"],
                           heel_width_mm=row["heelbreadth"], resolution_mm=2.0)
        for side in ("left", "right"):
            mesh = load(out / f"t_{side}.stl")
            assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
            assert all(c["ok"] for c in
                       __import__("json").loads((out / "t.json").read_text())["checks"][side].values())
        assert result.design.foot_length_mm == float(row["footlength"])
