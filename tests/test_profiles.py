"""Condition profiles: complete, in range, cited; combination rules; overrides."""

from __future__ import annotations

import pytest

from conftest import CONDITIONS, ROOT
from insolegen.core.errors import InputError, ProfileError
from insolegen.prescription.parameters import PARAMS
from insolegen.prescription.profiles import available, load_profile, load_profile_file, prescribe


def test_the_six_conditions_are_installed():
    assert set(CONDITIONS) <= set(available())


@pytest.mark.parametrize("name", CONDITIONS)
def test_profile_is_complete_in_range_and_cited(name):
    prof = load_profile(name)
    assert set(prof.parameters) == set(PARAMS)
    assert prof.sources, "every profile cites where its numbers come from"


def test_profiles_follow_the_conditions_table():
    p = {c: load_profile(c).parameters for c in CONDITIONS}
    assert 12 <= p["neutral"]["heel_cup_depth_mm"] <= 14
    assert 16 <= p["flat_feet"]["heel_cup_depth_mm"] <= 20 and p["flat_feet"]["rearfoot_post_deg"] > 0
    assert 8 <= p["high_arches"]["heel_cup_depth_mm"] <= 12 and p["high_arches"]["met_pad"]
    assert p["plantar_fasciitis"]["heel_spur_relief"]
    assert 18 <= p["overpronation"]["heel_cup_depth_mm"] <= 22
    assert 4 <= p["overpronation"]["rearfoot_post_deg"] <= 6
    assert 2 <= p["overpronation"]["medial_heel_skive_mm"] <= 6
    assert p["supination"]["rearfoot_post_deg"] < 0
    assert p["supination"]["lateral_edge_raise_mm"] > p["supination"]["medial_edge_raise_mm"]


def test_combined_conditions_take_the_stronger_correction():
    pres = prescribe("plantar_fasciitis,overpronation")
    a, b = load_profile("plantar_fasciitis").parameters, load_profile("overpronation").parameters
    assert pres["heel_cup_depth_mm"] == max(a["heel_cup_depth_mm"], b["heel_cup_depth_mm"])
    assert pres["rearfoot_post_deg"] == b["rearfoot_post_deg"]
    assert pres["heel_spur_relief"] is True
    assert pres.conditions == ("plantar_fasciitis", "overpronation")


@pytest.mark.parametrize("pair", ["flat_feet,high_arches", "overpronation,supination",
                                  "flat_feet,supination"])
def test_contradictory_conditions_are_refused(pair):
    with pytest.raises(InputError, match="contradictory"):
        prescribe(pair)


def test_aliases_and_spelling_variants():
    assert prescribe("Pes-Planus").conditions == ("flat_feet",)
    assert prescribe("high arches").conditions == ("high_arches",)


def test_unknown_condition_lists_the_known_ones():
    with pytest.raises(ProfileError) as err:
        prescribe("bunions")
    assert "'bunions'" in str(err.value)
    for name in CONDITIONS:
        assert name in str(err.value)


def test_overrides_are_validated_against_their_ranges():
    assert prescribe("neutral", {"heel_cup_depth_mm": "18"})["heel_cup_depth_mm"] == 18.0
    with pytest.raises(InputError, match="heel_cup_depth_mm.*out of range"):
        prescribe("neutral", {"heel_cup_depth_mm": 45})
    with pytest.raises(InputError, match="did you mean 'heel_cup_depth_mm'"):
        prescribe("neutral", {"heel_cup_dept_mm": 10})
    with pytest.raises(InputError, match="met_pad is false"):
        prescribe("neutral", {"met_pad_height_mm": 5})


@pytest.mark.parametrize("mutate,needle", [
    (lambda t: t.replace("heel_cup_depth_mm = 13.0\n", ""), "missing key.*heel_cup_depth_mm"),
    (lambda t: t.replace("heel_cup_depth_mm = 13.0", 'heel_cup_depth_mm = "deep"'),
     "heel_cup_depth_mm = 'deep'"),
    (lambda t: t.replace("met_pad = false", "met_pad = 3"), "met_pad = 3"),
    (lambda t: t.replace("heel_cup_depth_mm", "heel_cup_depht_mm"), "did you mean 'heel_cup_depth_mm'"),
    (lambda t: t.replace("[parameters]", "[parameters"), "TOML syntax error.*line"),
    (lambda t: t.replace("heel_cup_depth_mm = 13.0", "heel_cup_depth_mm = 99"), "out of range"),
])
def test_malformed_profile_names_the_file_and_the_key(tmp_path, mutate, needle):
    text = (ROOT / "profiles" / "neutral.toml").read_text()
    bad = tmp_path / "neutral.toml"
    bad.write_text(mutate(text))
    with pytest.raises(ProfileError, match=needle) as err:
        load_profile_file(bad)
    assert str(bad) in str(err.value)
