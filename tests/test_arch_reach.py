"""A measured navicular height: the arch support reaches the foot's plantar arch (navicular
height - 24 mm) above the layers, and rises at most arch_tolerance_mm above it.

Measured on the written STL: the top at the arch apex (vertical ray cast) minus the
layers (base + cover) lies in [plantar arch height, plantar + tolerance] +-0.3 mm (a
linear mesh between plan vertices), and the rise above the midline is never 0.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import load, make_pair
from scanutil import highest_z


@pytest.mark.parametrize("navicular", [25, 30, 33, 45])
def test_support_reaches_the_foot(tmp_path, navicular):
    result = make_pair(tmp_path, conditions="flat_feet", foot_length_mm="265", side="right",
                       navicular_height_mm=str(navicular), resolution_mm="2")
    design = json.loads(result.files["report"].read_text())["design"]
    p = design["params"]
    layers = p["base_thickness_mm"] + p["top_cover_thickness_mm"]
    plantar = navicular - 24.0
    apex = np.array([design["landmarks"]["arch_apex"]])
    over_layers = highest_z(load(result.files["right"]).triangles, apex)[0] - layers
    assert plantar - 0.3 <= over_layers <= plantar + p["arch_tolerance_mm"] + 0.3
    assert result.measured["right"]["arch_rise_mm"] >= min(plantar, 1.0) - 0.3
    note = [n for n in design["notes"] if n.startswith("arch_support_height_mm")]
    if navicular in (25, 30):  # the profile's 12 mm is more than the foot's arch + 4
        cap = plantar + 4.0
        assert note == [f"arch_support_height_mm capped from 12 to {cap:g} mm = the foot's "
                        f"plantar arch height {plantar:g} mm (navicular height {navicular} mm "
                        f"- 24 mm) + arch_tolerance_mm 4 - 0 mm that other features raise "
                        f"the apex above the 5 mm of layers"]


def test_arch_height_flag_is_refused_as_ambiguous(tmp_path):
    from conftest import run_cli
    proc = run_cli("generate", "--foot-length", "265", "--arch-height", "15", "--condition",
                   "flat_feet", "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and not (tmp_path / "o").exists()
    line, = proc.stderr.strip().splitlines()
    assert "--arch-height" in line and "give --navicular-height" in line
    assert "or --plantar-arch-height MM (the sole's plantar arch height, " \
        "plantar_arch_height_mm of 'insolegen measure')" in line
    ok = run_cli("generate", "--foot-length", "265", "--navicular-height", "30", "--condition",
                 "flat_feet", "--side", "right", "--resolution-mm", "3", "--out", str(tmp_path))
    assert ok.returncode == 0, ok.stderr
    assert "capped from 12 to 10 mm" in ok.stdout
