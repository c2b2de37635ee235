"""A measured ball length (heel to the 1st metatarsal head) places the template's metatarsal
heads, and the met pad follows them.

Measured on the written STL: the met pad is the top of an order with ``met_pad = true``
minus the top of the same order with ``met_pad = false`` (vertical ray casts on a 0.5 mm
grid); its peak must lie 5-10 mm proximal to the 2nd metatarsal head the ball length
implies (the template's 2nd head is 0.005 x foot length ahead of the 1st: 1.3 mm on a
265 mm foot), and move with the ball length within 1 mm (the grid's step plus the 1 mm
plan edge's linear interpolation).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import make_pair, stl_vectors
from scanutil import highest_z

LENGTH = 265.0
MTH2_AHEAD_OF_MTH1 = 0.005 * LENGTH  # the template's metatarsal parabola: 0.745 vs 0.740


def _top_triangles(path, x_lo: float, x_hi: float) -> np.ndarray:
    tri = stl_vectors(path).astype(float)
    up = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2] > 0
    cx = tri[:, :, 0].mean(axis=1)
    return tri[up & (cx > x_lo - 5) & (cx < x_hi + 5)]


def _pad_peak(tmp_path, ball: float) -> tuple[float, float]:
    """(x of the pad's peak, its height) measured on the written files for a ball length."""
    mth2 = ball + MTH2_AHEAD_OF_MTH1
    xs, ys = np.arange(mth2 - 30, mth2 + 5, 0.5), np.arange(-30.0, 30.0, 1.0)
    grid = np.array([(x, y) for y in ys for x in xs])
    tops = {}
    for pad in ("true", "false"):
        result = make_pair(tmp_path / f"{ball}-{pad}", conditions="neutral",
                           foot_length_mm=str(LENGTH), side="right", ball_length_mm=str(ball),
                           resolution_mm="1", **{"set.met_pad": pad})
        tops[pad] = highest_z(_top_triangles(result.files["right"], xs[0], xs[-1]), grid)
    rise = tops["true"] - tops["false"]
    k = int(np.nanargmax(rise))
    return float(grid[k, 0]), float(rise[k])


def test_met_pad_peaks_just_proximal_to_the_2nd_head_and_follows_the_ball_length(tmp_path):
    peaks = {}
    for frac in (0.68, 0.72, 0.76):
        ball = round(frac * LENGTH, 1)
        x, height = _pad_peak(tmp_path, ball)
        behind = ball + MTH2_AHEAD_OF_MTH1 - x
        assert 5.0 <= behind <= 10.0, (frac, behind)
        assert height == pytest.approx(4.0, abs=0.3)  # the profile's met_pad_height_mm
        peaks[ball] = x
    balls = sorted(peaks)
    for a, b in zip(balls, balls[1:]):
        assert peaks[b] - peaks[a] == pytest.approx(b - a, abs=1.0)


def test_ball_length_moves_the_metatarsal_heads_only(tmp_path):
    plain = make_pair(tmp_path / "plain", foot_length_mm="265", side="right",
                      resolution_mm="3")
    given = make_pair(tmp_path / "given", foot_length_mm="265", side="right",
                      resolution_mm="3", ball_length_mm="185")
    a = json.loads(plain.files["report"].read_text())["design"]
    b = json.loads(given.files["report"].read_text())["design"]
    ma, mb = a["landmarks"], b["landmarks"]
    # without a ball length: the 1st head at the ANSUR II median, 0.740 of the length
    assert ma["mth1"][0] == pytest.approx(0.740 * LENGTH, abs=0.01)
    assert mb["mth1"][0] == pytest.approx(185.0, abs=0.01)
    shift = 185.0 - 0.740 * LENGTH
    for i in range(1, 6):
        assert mb[f"mth{i}"][0] - ma[f"mth{i}"][0] == pytest.approx(shift, abs=0.01)
    for name in ("heel_centre", "arch_apex", "met5_base"):
        assert mb[name] == ma[name]
    assert b["foot"]["sources"]["ball_length_mm"] == "given"
    assert "ball_length_mm" not in a["foot"]["sources"]
