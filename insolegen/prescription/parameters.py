"""The prescription's parameter set: names, units, ranges and how they combine.

One table drives profile validation, per-order overrides, the combination of
several conditions and the documentation. Keys are the TOML keys and the
``--set`` keys; units are in the names.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass
from typing import Literal

from insolegen.core.errors import InputError, shown
from insolegen.core.numbers import parse_number

Combine = Literal["max", "signed", "or", "longest", "first"]
INSOLE_LENGTHS = ("three_quarter", "sulcus", "full")


@dataclass(frozen=True)
class Param:
    """One prescription parameter.

    ``combine`` says what happens when several conditions set it: ``max``
    (the stronger correction wins), ``signed`` (largest magnitude wins;
    opposite signs contradict), ``or`` (on if any condition has it on),
    ``longest`` (the longest insole), ``first`` (first condition that uses
    the feature, e.g. a pad's position).
    """

    name: str
    kind: type
    low: float | None
    high: float | None
    combine: Combine
    doc: str
    choices: tuple[str, ...] = ()
    feature: str | None = None  # the on/off flag this value belongs to

    def accepted(self) -> str:
        """Human description of the accepted values."""
        if self.kind is bool:
            return "true or false"
        if self.choices:
            return "one of " + ", ".join(self.choices)
        return f"a number from {self.low:g} to {self.high:g}"

    def coerce(self, value: object, where: str = "") -> float | bool | str:
        """Check ``value`` against type and range; return it in canonical form."""
        field = f"{where}{self.name}"
        if self.kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.strip().lower() in _BOOL_WORDS:
                return _BOOL_WORDS[value.strip().lower()]
            raise InputError(f"{field} = {shown(value)}: expected {self.accepted()}")
        if self.kind is str:
            if isinstance(value, str) and value.strip().lower() in self.choices:
                return value.strip().lower()
            raise InputError(f"{field} = {shown(value)}: expected {self.accepted()}")
        number = parse_number(value, field, self.accepted())
        if not self.low <= number <= self.high:
            raise InputError(f"{field} = {shown(value)}: out of range, expected {self.accepted()}")
        return number


_BOOL_WORDS = {"true": True, "yes": True, "on": True, "1": True,
               "false": False, "no": False, "off": False, "0": False}


def _p(name, low, high, combine, doc, kind=float, choices=(), feature=None) -> Param:
    return Param(name, kind, low, high, combine, doc, tuple(choices), feature)


PARAMS: dict[str, Param] = {p.name: p for p in [
    _p("base_thickness_mm", 1.5, 8.0, "max", "Shell thickness under the foot before any feature."),
    _p("top_cover_thickness_mm", 0.0, 6.0, "max", "Cushioning top layer, part of the printed stack."),
    _p("min_thickness_mm", 0.8, 5.0, "max", "Nowhere thinner than this (toe feather, recesses)."),
    _p("insole_length", None, None, "longest",
       "full (foot length + toe allowance), sulcus (behind the toes) or three_quarter "
       "(ends behind the metatarsal heads).", kind=str, choices=INSOLE_LENGTHS),
    _p("toe_allowance_mm", 0.0, 20.0, "max", "Full length only: insole length = foot length + this."),
    _p("arch_support_height_mm", 0.0, 25.0, "max",
       "Rise of the medial arch support at the arch apex above the insole's centreline."),
    _p("arch_tolerance_mm", 0.0, 10.0, "max",
       "How far the arch top may rise above the foot's plantar arch height."),
    _p("heel_compression_mm", 0.0, 4.0, "max",
       "On a scan: how far the top may press into the scanned foot anywhere (the heel's fat "
       "pad compressed), the foot resting on the top at the heel seat."),
    _p("heel_cup_depth_mm", 0.0, 30.0, "max", "Heel cup rim height above the heel seat, at the back."),
    _p("rearfoot_post_deg", -8.0, 8.0, "signed",
       "Heel seat tilt about the long axis: + medial (varus), - lateral (valgus)."),
    _p("forefoot_post_deg", -8.0, 8.0, "signed",
       "Forefoot tilt about the long axis: + medial (varus), - lateral (valgus)."),
    _p("medial_heel_skive_mm", 0.0, 6.0, "max",
       "Kirby medial heel skive: extra height at the medial edge of the heel seat."),
    _p("met_pad", None, None, "or", "Metatarsal pad on or off.", kind=bool),
    _p("met_pad_height_mm", 0.0, 8.0, "max", "Metatarsal pad peak height.", feature="met_pad"),
    _p("met_pad_position_frac", 0.55, 0.66, "first",
       "Pad peak as a fraction of foot length: behind the metatarsal heads.", feature="met_pad"),
    _p("heel_spur_relief", None, None, "or",
       "Heel spur relief / cushion recess under the medial calcaneal tubercle on or off.", kind=bool),
    _p("heel_recess_depth_mm", 0.0, 6.0, "max", "Recess depth at its centre.",
       feature="heel_spur_relief"),
    _p("heel_recess_diameter_mm", 10.0, 40.0, "max", "Recess diameter.", feature="heel_spur_relief"),
    _p("heel_recess_position_frac", 0.08, 0.25, "first",
       "Recess centre as a fraction of foot length.", feature="heel_spur_relief"),
    _p("heel_recess_medial_offset_mm", -15.0, 15.0, "first",
       "Recess centre medial (+) of the heel centreline.", feature="heel_spur_relief"),
    _p("heel_lift_mm", 0.0, 15.0, "max", "Heel raise, tapering to nothing at the metatarsal heads."),
    _p("leg_length_lift_mm", 0.0, 15.0, "max",
       "Leg-length compensation: full under rearfoot and midfoot, half under the forefoot."),
    _p("medial_flange_mm", 0.0, 15.0, "max", "Shell raised along the medial border of the arch."),
    _p("medial_edge_raise_mm", 0.0, 10.0, "max", "Medial border raised, heel to midfoot."),
    _p("lateral_edge_raise_mm", 0.0, 10.0, "max", "Lateral border raised, heel to midfoot."),
    *[_p(f"mth{i}_relief_mm", 0.0, 4.0, "max", f"Recess under metatarsal head {i}.")
      for i in range(1, 6)],
    _p("met5_base_relief_mm", 0.0, 4.0, "max", "Recess under the 5th metatarsal base (styloid)."),
]}

REQUIRED = tuple(PARAMS)


def lookup(name: str, where: str = "") -> Param:
    """Return the parameter called ``name``, suggesting the nearest on a typo."""
    try:
        return PARAMS[name]
    except KeyError:
        close = difflib.get_close_matches(name, PARAMS, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(PARAMS)}"
        raise InputError(f"{where}{shown(name)}: unknown parameter; {hint}") from None


def parse_override(text: str) -> tuple[str, float | bool | str]:
    """Parse one ``KEY=VALUE`` override, validated against the table."""
    if "=" not in text:
        raise InputError(f"--set {shown(text)}: expected KEY=VALUE, e.g. heel_cup_depth_mm=18")
    key, _, value = text.partition("=")
    param = lookup(key.strip(), "--set ")
    return param.name, param.coerce(value, "--set ")
