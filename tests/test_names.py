"""One name for one quantity: what ``insolegen measure`` prints, typed into an order under the
same name, means the same thing there.

Round trip on the bundled right scan: ``measure`` -> its ``plantar_arch_height_mm``,
``foot_length_mm`` and ``ball_length_mm`` -> an order from those measurements (no scan) ->
the written STL. The top at the arch apex (vertical ray cast) less the layers (base + cover)
must lie in [plantar, plantar + arch_tolerance_mm] +-0.3 mm (the mesh is linear between plan
vertices), as a scan's arch does. The same plantar number typed as ``navicular_height_mm``
is refused (13.5 mm is below 0.05 of a 275 mm foot) with a line naming
``plantar_arch_height_mm``; a number that is a plausible navicular height (20 mm on a 265 mm
foot) is accepted meaning navicular: the support then stops at the foot's estimated plantar
arch (20 - 24 mm, so 0) + tolerance, not at 20 mm.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from conftest import ROOT, load, make_pair, run_cli
from scanutil import highest_z

SCAN = ROOT / "scans" / "dupontgu_right_m.stl"


@pytest.fixture(scope="module")
def measured() -> dict:
    proc = run_cli("measure", str(SCAN))
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert "arch_height_mm" not in data and "truncated_foot_length_mm" not in data
    return data


def _over_layers(result) -> tuple[float, dict]:
    design = json.loads(result.files["report"].read_text())["design"]
    p = design["params"]
    apex = np.array([design["landmarks"]["arch_apex"]])
    top = highest_z(load(result.files["right"]).triangles, apex)[0]
    return float(top - p["base_thickness_mm"] - p["top_cover_thickness_mm"]), design


def test_measure_s_plantar_arch_typed_into_an_order_reaches_that_arch(tmp_path, measured):
    plantar = measured["plantar_arch_height_mm"]
    result = make_pair(tmp_path, conditions="flat_feet", side="right", resolution_mm="2",
                       foot_length_mm=str(measured["foot_length_mm"]),
                       plantar_arch_height_mm=str(plantar),
                       ball_length_mm=str(measured["ball_length_mm"]))
    over, design = _over_layers(result)
    tol = design["params"]["arch_tolerance_mm"]
    assert plantar - 0.3 <= over <= plantar + tol + 0.3, (plantar, over)
    assert design["foot"]["plantar_arch_mm"] == plantar
    assert design["foot"]["sources"]["plantar_arch_height_mm"] == "given"
    assert design["landmarks"]["mth1"][0] == pytest.approx(measured["ball_length_mm"], abs=0.01)


def test_the_same_number_as_navicular_height_is_refused_naming_the_other_field(tmp_path,
                                                                               measured):
    plantar = measured["plantar_arch_height_mm"]
    proc = run_cli("generate", "--foot-length", str(measured["foot_length_mm"]),
                   "--navicular-height", str(plantar), "--condition", "flat_feet",
                   "--out", str(tmp_path / "o"))
    assert proc.returncode == 2 and not (tmp_path / "o").exists()
    line, = proc.stderr.strip().splitlines()
    assert f"navicular_height_mm = {plantar:g}: " in line
    assert "expected 0.05-0.3 x foot_length_mm; a plantar arch height (what 'insolegen " \
           "measure' prints) goes in plantar_arch_height_mm" in line


def test_a_plausible_navicular_number_means_navicular(tmp_path):
    as_plantar = make_pair(tmp_path / "p", conditions="flat_feet", side="right",
                           resolution_mm="2", foot_length_mm="265",
                           plantar_arch_height_mm="20")
    as_navicular = make_pair(tmp_path / "n", conditions="flat_feet", side="right",
                             resolution_mm="2", foot_length_mm="265", navicular_height_mm="20")
    over_p, dp = _over_layers(as_plantar)
    over_n, dn = _over_layers(as_navicular)
    tol = dp["params"]["arch_tolerance_mm"]
    assert 20 - 0.3 <= over_p <= 20 + tol + 0.3
    assert -0.3 <= over_n <= 0 + tol + 0.3  # plantar estimate max(20 - 24, 0) = 0
    assert dn["foot"]["navicular_height_mm"] == 20
    assert any("navicular height 20 mm - 24 mm" in n for n in dn["notes"])
    assert dp["foot"]["sources"]["navicular_height_mm"] == "estimated (plantar arch height " \
                                                           "+ 24 mm)"


def test_no_report_uses_the_old_word(tmp_path):
    result = make_pair(tmp_path, conditions="flat_feet", side="right", resolution_mm="3",
                       foot_length_mm="265", navicular_height_mm="38")
    text = result.files["report"].read_text()
    assert '"arch_height_mm"' not in text
    report = json.loads(text)
    assert report["design"]["foot"]["navicular_height_mm"] == 38
    assert "arch_rise_mm" in report["measured"]["right"]
    assert report["order"]["measurements"]["navicular_height_mm"] == "38"


def test_the_web_form_offers_the_new_fields_not_the_old():
    from insolegen.web.form import schema
    fields = {f["name"]: f for f in schema()["fields"]}
    for name in ("navicular_height_mm", "plantar_arch_height_mm", "ball_length_mm"):
        assert fields[name]["group"] == "foot" and fields[name]["unit"] == "mm"
        assert fields[name]["widget"] == "number"
    assert "arch_height_mm" not in fields
