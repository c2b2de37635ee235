"""Hostile overrides (``--set KEY=VALUE`` and batch ``set.<key>`` columns).

Every parameter of :data:`insolegen.prescription.parameters.PARAMS` at, just inside and
just outside its range, in the wrong type and as garbage text; malformed
``--set`` syntax; typos; and the cross-checks no single range can express.
"""

from __future__ import annotations

import pytest

from insolegen.core.errors import InputError
from insolegen.pipeline.order import order_from_mapping
from insolegen.prescription.parameters import PARAMS, lookup, parse_override
from insolegen.prescription.profiles import prescribe

from ._util import assert_clean_error, listing

pytestmark = pytest.mark.timeout(60)

NUMERIC = [p for p in PARAMS.values() if p.kind is float]
BOOLEAN = [p for p in PARAMS.values() if p.kind is bool]
CHOICE = [p for p in PARAMS.values() if p.kind is str]
EPS = 0.001


def with_flag(param, value) -> dict:
    """Overrides setting ``param`` to ``value``, with its feature switched on if it has one."""
    return {param.name: value, **({param.feature: True} if param.feature else {})}


def generate_args(tmp_path, *sets: str, condition: str = "neutral") -> list[str]:
    args = ["generate", "--foot-length", "265", "--condition", condition,
            "--out", str(tmp_path / "out")]
    for s in sets:
        args += ["--set", s]
    return args


@pytest.mark.parametrize("param", NUMERIC, ids=lambda p: p.name)
def test_numeric_parameters_accept_both_ends_and_just_inside(param):
    for value in (param.low, param.high, param.low + EPS, param.high - EPS):
        pres = prescribe("neutral", with_flag(param, str(value)))
        assert pres[param.name] == pytest.approx(value)


@pytest.mark.parametrize("end", ["low", "high"])
@pytest.mark.parametrize("param", NUMERIC, ids=lambda p: p.name)
def test_numeric_parameters_refuse_just_outside(cli, tmp_path, param, end):
    value = param.low - EPS if end == "low" else param.high + EPS
    text = f"{value:.6g}"
    with pytest.raises(InputError, match=rf"{param.name} = '{text}': out of range"):
        prescribe("neutral", with_flag(param, text))
    result = cli(*generate_args(tmp_path, f"{param.name}={text}"))
    assert_clean_error(result, f"--set {param.name} = '{text}'", "out of range",
                       f"{param.low:g} to {param.high:g}")
    assert listing(tmp_path / "out") == []


NUMBER_GARBAGE = ["", " ", "nan", "inf", "-inf", "1e308", "1e309", "２", "٣", "1_0", "0x1",
                  "true", "3mm", "3,5", "--3", "\u200b3"]


@pytest.mark.parametrize("text", NUMBER_GARBAGE)
@pytest.mark.parametrize("param", NUMERIC, ids=lambda p: p.name)
def test_numeric_parameters_refuse_garbage(cli, tmp_path, param, text):
    with pytest.raises(InputError) as err:
        parse_override(f"{param.name}={text}")
    assert f"--set {param.name} = {text!r}" in str(err.value)
    result = cli(*generate_args(tmp_path, f"{param.name}={text}"))
    assert_clean_error(result, f"--set {param.name} = {text!r}")
    assert listing(tmp_path / "out") == []


@pytest.mark.parametrize("param", BOOLEAN, ids=lambda p: p.name)
@pytest.mark.parametrize("text,expected", [
    ("true", True), ("FALSE", False), (" yes ", True), ("off", False), ("1", True), ("0", False),
])
def test_boolean_words_are_accepted(param, text, expected):
    assert parse_override(f"{param.name}={text}") == (param.name, expected)


@pytest.mark.parametrize("param", BOOLEAN, ids=lambda p: p.name)
@pytest.mark.parametrize("text", ["", "maybe", "2", "-1", "t", "nan", "１", "truee", "yes!"])
def test_boolean_garbage_is_refused(cli, tmp_path, param, text):
    result = cli(*generate_args(tmp_path, f"{param.name}={text}"))
    assert_clean_error(result, f"--set {param.name} = {text!r}", "true or false")
    assert listing(tmp_path / "out") == []


@pytest.mark.parametrize("param", CHOICE, ids=lambda p: p.name)
def test_choices_accept_each_choice_and_refuse_the_rest(cli, tmp_path, param):
    for choice in param.choices:
        assert parse_override(f"{param.name}= {choice.upper()} ") == (param.name, choice)
    for text in ["", "ful", "three quarter", "full,sulcus", "ｆｕｌｌ", "0"]:
        result = cli(*generate_args(tmp_path, f"{param.name}={text}"))
        assert_clean_error(result, f"--set {param.name} = {text!r}", "one of")
    assert listing(tmp_path / "out") == []


@pytest.mark.parametrize("value", [True, None, [1], {"a": 1}, b"3", 3j, float("nan"),
                                   10 ** 400], ids=repr)
def test_typed_override_values_from_order_systems(value):
    """JSON orders carry typed values: a bool is not a number, a number not a bool."""
    with pytest.raises(InputError, match="heel_cup_depth_mm = "):
        prescribe("neutral", {"heel_cup_depth_mm": value})
    if not isinstance(value, bool):
        with pytest.raises(InputError, match="met_pad = "):
            prescribe("neutral", {"met_pad": value})
    with pytest.raises(InputError, match="insole_length = "):
        prescribe("neutral", {"insole_length": value if value is not True else 1})


@pytest.mark.parametrize("text,needles", [
    ("heel_cup_depth_mm", ["KEY=VALUE"]),
    ("", ["KEY=VALUE"]),
    ("=5", ["''", "unknown parameter"]),
    ("heel_cup_depth_mm==5", ["heel_cup_depth_mm = '=5'"]),
    ("heel_cup_dept_mm=5", ["'heel_cup_dept_mm'", "did you mean 'heel_cup_depth_mm'"]),
    ("rearfoot_post=4", ["did you mean 'rearfoot_post_deg'"]),
    ("metpad=true", ["did you mean 'met_pad'"]),
    ("../../etc/passwd=1", ["unknown parameter"]),
    ("x" * 5000 + "=1", ["unknown parameter"]),
    ("heel cup depth=5", ["unknown parameter"]),
    ("heel_cup_depth_mm=5\nmet_pad=true", ["heel_cup_depth_mm"]),
])
def test_malformed_set_syntax(cli, tmp_path, text, needles):
    line = assert_clean_error(cli(*generate_args(tmp_path, text)), *needles)
    assert len(line) < 2100, "a huge key is cut, not echoed whole"
    assert listing(tmp_path / "out") == []


def test_spaces_around_key_and_value_are_fine():
    assert parse_override("  heel_cup_depth_mm =  18 ") == ("heel_cup_depth_mm", 18.0)


@pytest.mark.parametrize("key", ["set.heel_cup_dept_mm", "set.", "set.set.x"])
def test_batch_set_columns_are_checked_like_set_flags(key):
    with pytest.raises(InputError, match="unknown parameter"):
        order_from_mapping({"order_id": "a", "conditions": "neutral", "foot_length_mm": 265,
                            key: "3"})


@pytest.mark.parametrize("value", ["heel_cup_depth_mm=3", ["x"], 5])
def test_set_must_be_a_mapping(value):
    with pytest.raises(InputError, match="^set = "):
        order_from_mapping({"order_id": "a", "conditions": "neutral", "foot_length_mm": 265,
                            "set": value})


@pytest.mark.parametrize("sets,condition,needles", [
    (["min_thickness_mm=5"], "neutral", ["min_thickness_mm = 5", "at most 4.5"]),
    (["base_thickness_mm=1.5", "top_cover_thickness_mm=0", "min_thickness_mm=2"], "neutral",
     ["min_thickness_mm = 2", "at most 1.5"]),
    (["mth1_relief_mm=4"], "neutral", ["mth1_relief_mm = 4", "min_thickness_mm"]),
    (["met5_base_relief_mm=3.01"], "neutral", ["met5_base_relief_mm = 3.01"]),
    (["heel_recess_depth_mm=6"], "plantar_fasciitis", ["heel_recess_depth_mm = 6"]),
    (["medial_heel_skive_mm=3"], "neutral", ["medial_heel_skive_mm = 3", "heel_cup_depth_mm"]),
    (["heel_cup_depth_mm=13.99"], "overpronation", ["medial_heel_skive_mm",
                                                     "heel_cup_depth_mm of 14"]),
    (["met_pad_height_mm=5"], "neutral", ["met_pad_height_mm", "met_pad=true"]),
    (["heel_recess_diameter_mm=20"], "neutral", ["heel_recess_diameter_mm",
                                                  "heel_spur_relief=true"]),
])
def test_cross_checks_refuse_combinations_no_single_range_can(cli, tmp_path, sets, condition,
                                                               needles):
    assert_clean_error(cli(*generate_args(tmp_path, *sets, condition=condition)), *needles)
    assert listing(tmp_path / "out") == []


def test_cross_check_bounds_are_inclusive(tmp_path):
    """Exactly at the limit of a cross-check is allowed (neutral: stack 4.5, min 1.5)."""
    o = order_from_mapping({"order_id": "a", "conditions": "neutral", "foot_length_mm": 265,
                            "set": {"mth1_relief_mm": 3.0, "min_thickness_mm": 1.5,
                                    "heel_cup_depth_mm": 14, "medial_heel_skive_mm": 2}})
    assert o.overrides["mth1_relief_mm"] == 3.0


def test_every_parameter_name_typo_suggests_itself():
    """Drop one letter from any key: the message names the key it was meant to be."""
    for name in PARAMS:
        typo = name[:-4] + name[-3:]
        with pytest.raises(InputError) as err:
            lookup(typo, "--set ")
        assert f"did you mean {name!r}" in str(err.value), typo


@pytest.mark.parametrize("value", [",", [], " ; "])
def test_an_empty_list_of_formats_is_refused(value):
    with pytest.raises(InputError, match="^formats = "):
        order_from_mapping({"order_id": "a", "conditions": "neutral", "foot_length_mm": 265,
                            "formats": value})
