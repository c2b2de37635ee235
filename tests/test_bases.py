"""Bases (device styles): catalogue, rules against conditions, CLI, orders, bad input."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from conftest import ROOT
from insolegen.core.errors import InputError, ProfileError
from insolegen.pipeline.order import order_from_mapping
from insolegen.prescription.bases import available, load_base, load_base_file
from insolegen.prescription.profiles import prescribe

BASES = ("casual", "sport", "dress", "work", "functional_shell", "kids", "diabetic")


def _cli(*args, env=None):
    import os
    return subprocess.run([sys.executable, "-m", "insolegen", *args], capture_output=True,
                          text=True, cwd=ROOT, env={**os.environ, **(env or {})})


def test_catalogue_has_every_base_with_sources():
    assert set(BASES) <= set(available())
    for name in BASES:
        base = load_base(name)
        assert base.sources and all("DESIGN.md" not in s for s in base.sources)
    assert load_base("kids").foot_length_mm == (150.0, 230.0)
    assert load_base("functional_shell").values["shell"] is True
    assert load_base("diabetic").values["posting"] is False


def test_base_sets_construction_conditions_set_corrections_with_notes():
    dress = prescribe("overpronation", base="dress")
    p = dress.parameters
    assert p["insole_length"] == "three_quarter" and p["base_thickness_mm"] == 2.0
    assert p["heel_cup_depth_mm"] == 10.0                 # 20 from the condition, clipped
    assert p["rearfoot_post_deg"] == 5.0                  # the correction stays
    assert p["medial_heel_skive_mm"] == 0.0               # no skive on a 10 mm cup
    assert any("heel_cup_depth_mm clipped from 20 to 10" in n for n in dress.notes)
    assert any("medial_heel_skive_mm 4 left out" in n for n in dress.notes)
    casual = prescribe("overpronation")
    assert casual.base == "casual" and casual.notes == ()
    assert casual.parameters["heel_cup_depth_mm"] == 20.0
    # An override wins over the base, unclipped.
    over = prescribe("overpronation", {"heel_cup_depth_mm": 14, "insole_length": "full"},
                     base="dress")
    assert over.parameters["heel_cup_depth_mm"] == 14.0
    assert over.parameters["insole_length"] == "full"


def test_diabetic_with_posting_is_a_contradiction():
    with pytest.raises(InputError, match="base = diabetic: .*flat_feet sets rearfoot_post_deg"):
        prescribe("flat_feet", base="diabetic")
    with pytest.raises(InputError, match="--set sets forefoot_post_deg"):
        prescribe("neutral", {"forefoot_post_deg": 2}, base="diabetic")
    p = prescribe("neutral", {"mth2_relief_mm": 2}, base="diabetic").parameters
    assert p["mth2_relief_mm"] == 2.0 and p["rearfoot_post_deg"] == 0.0  # reliefs on request


def test_order_field_and_report(tmp_path):
    from insolegen.pipeline.job import generate
    order = order_from_mapping({"order_id": "b1", "foot_length_mm": "250", "side": "right",
                                "conditions": "neutral", "base": "Work", "resolution_mm": 3})
    assert order.base == "work"
    result = generate(order, tmp_path)
    report = json.loads((tmp_path / "b1.json").read_text())
    assert report["design"]["prescription"]["base"] == "work"
    assert report["design"]["params"]["base_thickness_mm"] == 4.0
    assert any("from base work" in n for n in report["design"]["notes"])
    assert result.measured["right"]["min_thickness_mm"] >= 2.0 - 0.05


def test_kids_refuses_an_adult_foot():
    order = order_from_mapping({"order_id": "k", "foot_length_mm": "265",
                                "conditions": "neutral", "base": "kids"})
    from insolegen.pipeline.job import design_for
    with pytest.raises(InputError, match=r"base = kids: made for feet of 150-230 mm, but "
                                         r"foot_length_mm = 265"):
        design_for(order)


def test_cli_lists_shows_and_refuses(tmp_path):
    listed = _cli("bases")
    assert listed.returncode == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == sorted(available())
    shown = _cli("bases", "functional_shell")
    assert shown.returncode == 0 and "shell                          = true" in shown.stdout
    assert "# source: Telfer S" in shown.stdout
    bad = _cli("generate", "--foot-length", "265", "--condition", "neutral", "--base", "clog",
               "--out", str(tmp_path / "o"))
    assert bad.returncode == 2 and not (tmp_path / "o").exists()
    assert bad.stderr.strip().splitlines() == [
        "insolegen: error: base = 'clog': unknown; known bases: " + ", ".join(available())]
    contra = _cli("generate", "--foot-length", "265", "--condition", "flat_feet", "--base",
                  "diabetic", "--out", str(tmp_path / "o"))
    assert contra.returncode == 2 and len(contra.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "o").exists()


def test_lab_folder_overrides_a_base(tmp_path):
    (tmp_path / "casual.toml").write_text(
        'title = "Our casual"\nsources = ["Lab convention, no publication."]\n'
        '[parameters]\nbase_thickness_mm = 5.0\n')
    out = _cli("--bases", str(tmp_path), "bases", "casual")
    assert out.returncode == 0 and "base_thickness_mm              = 5 " in out.stdout
    assert "Our casual" in _cli("bases", env={"INSOLEGEN_BASES": str(tmp_path)}).stdout


@pytest.mark.parametrize("body, message", [
    ("[parameters]\nrearfoot_post_deg = 4\n", "a correction, set by the conditions"),
    ("[parameters]\nheel_cup_min_mm = 20\nheel_cup_max_mm = 10\n", "more than heel_cup_max"),
    ("[parameters]\nshel = true\n", "did you mean 'shell'"),
    ("foot_length_mm = [300, 100]\n[parameters]\n", "expected [low, high]"),
    ("[parameters]\nwidth_scale = 2\n", "width_scale = 2: out of range"),
])
def test_bad_base_files(tmp_path, body, message):
    path = tmp_path / "b.toml"
    path.write_text('sources = ["x"]\n' + body)
    with pytest.raises(ProfileError, match=message.replace("[", r"\[").replace("(", r"\(")):
        load_base_file(path)


def test_profile_may_not_set_construction(tmp_path):
    text = (ROOT / "profiles" / "neutral.toml").read_text() + "shell = true\n"
    (tmp_path / "neutral.toml").write_text(text)
    from insolegen.prescription.profiles import load_profile_file
    with pytest.raises(ProfileError, match="shell: set by the base"):
        load_profile_file(tmp_path / "neutral.toml")


def test_dress_is_narrowed():
    from insolegen.pipeline.job import design_for
    casual = design_for(order_from_mapping({"order_id": "a", "foot_length_mm": "265",
                                            "conditions": "neutral", "resolution_mm": 3}))
    dress = design_for(order_from_mapping({"order_id": "a", "foot_length_mm": "265",
                                           "conditions": "neutral", "base": "dress",
                                           "resolution_mm": 3}))
    x = np.array([0.3 * 265])
    wc = np.subtract(*casual.plan.borders(x)[::-1])[0]
    wd = np.subtract(*dress.plan.borders(x)[::-1])[0]
    assert abs(wd / wc - 0.9) < 0.01
