"""Hostile measurements: every field at, just inside and just outside its range, and garbage.

Each refused value must give exit 2 and one line naming the field and the
value, and leave nothing in the output folder; each accepted one must build a
foot. Ranges come from the tables in :mod:`insolegen.foot.measurements`, so a
changed range moves these tests with it.
"""

from __future__ import annotations

import pytest

from insolegen.core.errors import InputError
from insolegen.foot.measurements import RANGES, RATIO_RANGES
from insolegen.pipeline.order import order_from_mapping
from insolegen.foot.sizes import SYSTEMS

from ._util import assert_clean_error, listing, run_cli

pytestmark = pytest.mark.timeout(60)

FLAGS = {"foot_length_mm": "--foot-length", "ball_width_mm": "--ball-width",
         "heel_width_mm": "--heel-width", "navicular_height_mm": "--navicular-height",
         "plantar_arch_height_mm": "--plantar-arch-height", "ball_length_mm": "--ball-length"}

# For each field and each end of its range: other measurements that keep every
# ratio in range, so that the bound itself is what is tested.
CONTEXT = {
    ("foot_length_mm", "low"): {},
    ("foot_length_mm", "high"): {},
    ("ball_width_mm", "low"): {"foot_length_mm": 150},
    ("ball_width_mm", "high"): {"foot_length_mm": 350},
    ("heel_width_mm", "low"): {"foot_length_mm": 200, "ball_width_mm": 70},
    ("heel_width_mm", "high"): {"foot_length_mm": 330, "ball_width_mm": 140},
    ("navicular_height_mm", "low"): {"foot_length_mm": 180},
    ("navicular_height_mm", "high"): {"foot_length_mm": 300},
}
EPS = 0.01


def order(**fields) -> dict:
    return {"order_id": "m1", "conditions": "neutral", **fields}


def bound_cases(kind: str):
    for (name, end), context in CONTEXT.items():
        low, high = RANGES[name]
        at = low if end == "low" else high
        inward = EPS if end == "low" else -EPS
        value = {"at": at, "inside": at + inward, "outside": at - inward}[kind]
        yield pytest.param(name, round(value, 6), context, id=f"{name}-{end}-{kind}")


@pytest.mark.parametrize("name,value,context", [*bound_cases("at"), *bound_cases("inside")])
def test_values_at_and_just_inside_the_range_are_accepted(name, value, context):
    o = order_from_mapping(order(**{**context, name: value}))
    assert getattr(o.measurements, name) == value


@pytest.mark.parametrize("name,value,context", list(bound_cases("outside")))
def test_values_just_outside_the_range_are_refused(cli, tmp_path, name, value, context):
    with pytest.raises(InputError, match=rf"^{name} = {value!r}: out of range"):
        order_from_mapping(order(**{**context, name: value}))
    args = [a for k, v in context.items() for a in (FLAGS[k], str(v))]
    out = tmp_path / "out"
    result = cli("generate", "--condition", "neutral", *args, FLAGS[name], str(value),
                 "--out", str(out))
    assert_clean_error(result, name, repr(str(value)), "out of range")
    assert listing(out) == []


def ratio_cases():
    """Every ratio at both ends: the numerator at the bound and 0.1 mm beyond it."""
    for (num, den), (low, high) in RATIO_RANGES.items():
        context = {"foot_length_mm": 250.0}
        if den == "ball_width_mm":
            context["ball_width_mm"] = 100.0
        for end, ratio in (("low", low), ("high", high)):
            if (num, den) == ("heel_width_mm", "foot_length_mm"):
                # a ball width that keeps heel / ball in range at this end
                context = {**context, "ball_width_mm": 90.0 if end == "low" else 115.0}
            at = round(ratio * context[den], 6)
            outside = round(at + (0.1 if end == "high" else -0.1), 6)
            yield pytest.param(num, context, at, outside, id=f"{num}-{end}")


@pytest.mark.parametrize("num,context,at,outside", list(ratio_cases()))
def test_ratio_bounds_are_inclusive_and_enforced(cli, tmp_path, num, context, at, outside):
    order_from_mapping(order(**context, **{num: at}))
    with pytest.raises(InputError, match=rf"^{num} = {outside:g}: "):
        order_from_mapping(order(**context, **{num: outside}))
    args = [a for k, v in context.items() for a in (FLAGS[k], str(v))]
    out = tmp_path / "out"
    result = cli("generate", "--condition", "neutral", *args, FLAGS[num], str(outside),
                 "--out", str(out))
    assert_clean_error(result, num, f"{outside:g}", "expected")
    assert listing(out) == []


# Text a person or an order system might send instead of a length in mm.
GARBAGE = [
    "２６５", "٢٦٥", "२६५", "26５",            # fullwidth, Arabic-Indic, Devanagari, mixed
    "nan", "NaN", "-nan", "inf", "-inf", "Infinity", "+inf",
    "1e308", "-1e308", "1e309", "1e-320", "-0", "0", "-265",
    "2_65", "0x109", "265mm", "26,5", "26 5", "1e", ".", "+", "--265", "2.6.5",
    "true", "false", "None", "null", "[265]", "\u200b265", "265\u00a0\u00a0x", "\x00",
]


@pytest.mark.parametrize("name", list(FLAGS))
@pytest.mark.parametrize("text", GARBAGE)
def test_garbage_text_is_refused_naming_field_and_value(cli, tmp_path, name, text):
    context = {} if name == "foot_length_mm" else {"foot_length_mm": "265"}
    if RANGES[name][0] == 0 and text in ("0", "-0", "1e-320"):
        # a plantar arch height of 0 is a foot flat on the floor under the arch: taken
        o = order_from_mapping(order(**context, **{name: text}))
        assert float(getattr(o.measurements, name)) == pytest.approx(0.0, abs=1e-300)
        return
    with pytest.raises(InputError) as err:
        order_from_mapping(order(**context, **{name: text}))
    message = str(err.value)
    assert message.startswith(f"{name} = {text!r}"), message
    if "\x00" in text:
        return  # argv cannot carry a NUL byte; the library case above covers it
    args = [a for k, v in context.items() for a in (FLAGS[k], v)]
    out = tmp_path / "out"
    result = cli("generate", "--condition", "neutral", *args, f"{FLAGS[name]}={text}",
                 "--out", str(out))
    assert_clean_error(result, f"{name} = {text!r}")
    assert listing(out) == []


class Weird:
    def __repr__(self) -> str:
        return "<weird>"


@pytest.mark.parametrize("value", [
    True, False, [265], (265,), {"mm": 265}, b"265", 265j, float("nan"), float("inf"),
    float("-inf"), 1e308, 10 ** 400, -(10 ** 400), Weird(), object,
], ids=repr)
@pytest.mark.parametrize("name", list(FLAGS))
def test_wrong_types_from_an_order_system_are_refused(name, value):
    """Batch rows and JSON orders arrive typed: only real numbers (and text) pass."""
    context = {} if name == "foot_length_mm" else {"foot_length_mm": 265}
    with pytest.raises(InputError) as err:
        order_from_mapping(order(**context, **{name: value}))
    message = str(err.value)
    assert message.startswith(f"{name} = "), message
    assert len(message) < 400, "a huge value is shown cut, not in full"


def test_minus_zero_is_zero_not_a_signed_zero():
    from insolegen.prescription.parameters import PARAMS, parse_number
    import math
    assert math.copysign(1.0, parse_number("-0", "x", "")) == 1.0
    assert math.copysign(1.0, PARAMS["rearfoot_post_deg"].coerce("-0.0")) == 1.0


@pytest.mark.parametrize("name", ["ball_width_mm", "heel_width_mm", "navicular_height_mm",
                                  "plantar_arch_height_mm", "ball_length_mm"])
@pytest.mark.parametrize("blank", ["", "   ", None])
def test_blank_optional_measurements_mean_not_given(name, blank):
    """The batch convention: an empty cell is a value not given, estimated from the length."""
    o = order_from_mapping(order(foot_length_mm=265, **{name: blank}))
    assert getattr(o.measurements, name) is None


@pytest.mark.parametrize("blank", ["", "  ", None])
def test_blank_foot_length_is_missing_not_zero(cli, tmp_path, blank):
    with pytest.raises(InputError, match="^foot_length_mm: missing"):
        order_from_mapping(order(foot_length_mm=blank))
    if blank is not None:
        result = cli("generate", "--condition", "neutral", f"--foot-length={blank}",
                     "--out", str(tmp_path / "out"))
        assert_clean_error(result, "foot_length_mm", "missing")


def shoe_size_cases():
    for system, (_, _, low, high, _) in SYSTEMS.items():
        yield pytest.param(f"{system} {low:g}", True, id=f"{system}-low-at")
        yield pytest.param(f"{system} {high:g}", True, id=f"{system}-high-at")
        yield pytest.param(f"{system} {round(low - EPS, 2):g}", False, id=f"{system}-low-out")
        yield pytest.param(f"{system} {round(high + EPS, 2):g}", False, id=f"{system}-high-out")


@pytest.mark.parametrize("size,ok", list(shoe_size_cases()))
def test_shoe_sizes_at_and_outside_each_systems_range(cli, tmp_path, size, ok):
    if ok:
        assert order_from_mapping(order(shoe_size=size)).measurements.shoe_size == size
        return
    with pytest.raises(InputError, match="^shoe_size = "):
        order_from_mapping(order(shoe_size=size))
    out = tmp_path / "out"
    assert_clean_error(cli("generate", "--condition", "neutral", "--shoe-size", size,
                           "--out", str(out)), "shoe_size", repr(size))
    assert listing(out) == []


@pytest.mark.parametrize("size", [
    "EU ４２", "EU ٤٢", "EU 4_2", "EU 1e1", "EU nan", "EU inf", "EU -42", "EU 42.5.1",
    "EU", "42", "EU42EU", "42 EU", "EU 42 UK 8", "XX 42", "E U 42", "EU\x0042", "",
    "Mondopoint 1e308", "US-W --10",
])
def test_garbage_shoe_sizes_are_refused(cli, tmp_path, size):
    with pytest.raises(InputError, match="^shoe_size = "):
        order_from_mapping(order(shoe_size=size or "x"))
    if "\x00" in size or not size:
        return
    out = tmp_path / "out"
    assert_clean_error(cli("generate", "--condition", "neutral", f"--shoe-size={size}",
                           "--out", str(out)), "shoe_size", repr(size))
    assert listing(out) == []


def test_length_and_shoe_size_together_are_refused(cli, tmp_path):
    result = cli("generate", "--condition", "neutral", "--foot-length", "265", "--shoe-size",
                 "EU 42", "--out", str(tmp_path / "out"))
    assert_clean_error(result, "foot_length_mm", "shoe_size")


@pytest.mark.parametrize("args,needles", [
    (["--foot-length", "２６５"], ["foot_length_mm = '２６５'"]),
    (["--foot-length", "265", "--ball-width", "nan"], ["ball_width_mm = 'nan'"]),
    (["--shoe-size", "EU ٤٢", "--resolution-mm", "1e308"], ["shoe_size = 'EU ٤٢'"]),
])
def test_real_process_prints_one_line_and_exits_2(tmp_path, args, needles):
    """The console script itself, in a subprocess: no traceback, nothing written."""
    out = tmp_path / "out"
    result = run_cli("generate", "--condition", "neutral", *args, "--out", str(out))
    assert_clean_error(result, *needles)
    assert listing(out) == []
