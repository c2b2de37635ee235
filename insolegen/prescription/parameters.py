"""The prescription's parameter set: names, units, ranges and how they combine.

One table drives profile validation, per-order overrides, the combination of
several conditions and the documentation. Keys are the TOML keys and the
``--set`` keys; units are in the names.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from insolegen.core.errors import InputError, shown
from insolegen.core.numbers import parse_number

Combine = Literal["max", "min", "signed", "or", "longest", "first"]
INSOLE_LENGTHS = ("three_quarter", "sulcus", "full")


@dataclass(frozen=True)
class Param:
    """One prescription parameter.

    ``combine`` says what happens when several conditions set it: ``max``
    (the stronger correction wins), ``min`` (the softer cushion wins), ``signed`` (largest magnitude wins;
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
    default: float | bool | str | None = None  # construction keys: the value when a base omits it

    def accepted(self) -> str:
        """Human description of the accepted values."""
        if self.kind is bool:
            return "true or false"
        if self.choices:
            return "one of " + ", ".join(self.choices)
        return f"a number from {self.low:g} to {self.high:g}"

    def range_text(self) -> str:
        """The accepted values in a few characters: ``0-30``, ``true|false``, ``full|sulcus``."""
        if self.kind is bool:
            return "true|false"
        if self.choices:
            return "|".join(self.choices)
        return f"{self.low:g}-{self.high:g}"

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


def _zone(name: str, combine: Combine, doc: str) -> Param:
    return Param(f"zone_{name}_infill_pct", float, 5.0, 100.0, combine,
                 f"Infill density (% of solid) of the {doc} zone (slicer modifier, lattice).")


# Density zones (insolegen.design.zones): cushion zones combine to the softest, the
# arch's support to the firmest. A printed part's infill is a slicer setting: 100 = solid.
ZONE_PARAMS = (
    _zone("heel", "min", "heel (rearfoot, behind the arch)"),
    _zone("arch", "max", "arch (midfoot support)"),
    _zone("forefoot", "min", "forefoot (metatarsal heads forward)"),
    _zone("met_heads", "min", "under-metatarsal-heads"),
    _zone("relief", "min", "relief (heel spur recess, metatarsal and pressure reliefs)"),
)


def _p(name, low, high, combine, doc, kind=float, choices=(), feature=None) -> Param:
    return Param(name, kind, low, high, combine, doc, tuple(choices), feature)


PARAMS: dict[str, Param] = {p.name: p for p in [
    _p("base_thickness_mm", 1.5, 8.0, "max", "Shell thickness under the foot before any feature."),
    _p("top_cover_thickness_mm", 0.0, 6.0, "max", "Cushioning top layer, part of the printed stack."),
    _p("min_thickness_mm", 0.8, 5.0, "max", "Nowhere thinner than this (toe feather, recesses)."),
    _p("insole_length", None, None, "longest",
       "full (foot length + toe allowance), sulcus (18 mm ahead of the metatarsal-head "
       "line, at the toe crease) or three_quarter (5 mm behind that line; further forward "
       "when it carries a met pad), the cut parallel to the line.",
       kind=str, choices=INSOLE_LENGTHS),
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
    *ZONE_PARAMS,
]}

REQUIRED = tuple(PARAMS)
COVER_MATERIALS = ("eva", "foam", "tpu", "pu")
# The foot profile and base values are written for (ANSUR II median-like adult: heel width
# 0.269 of foot length, insolegen.foot.measurements); they scale from it (design.scaling).
REFERENCE_FOOT_MM = 265.0
REFERENCE_HEEL_WIDTH_MM = 71.285  # 0.269 x 265


def _c(name, low, high, default, doc, kind=float, choices=()) -> Param:
    return Param(name, kind, low, high, "first", doc, tuple(choices), None, default)


# Construction: set by the base (insolegen.prescription.bases), never by a condition; the
# defaults are the casual base's. Lengths are for the reference foot (REFERENCE_FOOT_MM).
CONSTRUCTION: dict[str, Param] = {p.name: p for p in [
    _c("shell", None, None, False,
       "A shell: the bottom follows the top base_thickness_mm + top_cover_thickness_mm below "
       "it, hollow under the arch, on the floor only at the rearfoot post and the anterior "
       "edge.", kind=bool),
    _c("post_length_mm", 20.0, 120.0, 60.0,
       "Shell bases: the rearfoot post runs from the heel this far forward, then blends "
       "into the shell (reference foot)."),
    _c("rim_thickness_mm", 1.0, 6.0, 2.5, "Flat, rounded top of every rim (no knife edges)."),
    _c("wall_flare_mm", 0.0, 3.0, 0.0,
       "Outer wall flared outward at the bottom by this much all round, for stability "
       "(0: vertical walls; lab convention, no publication). In a shoe at most its "
       "clearance_mm."),
    _c("heel_cup_min_mm", 0.0, 30.0, 0.0, "Shallowest heel cup the base is made with."),
    _c("heel_cup_max_mm", 0.0, 30.0, 30.0, "Deepest heel cup the base is made with."),
    _c("arch_support_max_mm", 0.0, 25.0, 25.0, "Highest arch support the base is made with."),
    _c("width_scale", 0.8, 1.0, 1.0, "Outline narrowed to this fraction of the foot's width "
       "(slim shoes)."),
    _c("posting", None, None, True, "Posts and skives allowed (false: accommodative base; a "
       "condition that posts is refused).", kind=bool),
    _c("met_pad_offset_mm", 0.0, 20.0, 7.0,
       "Metatarsal pad peak this far proximal to the 2nd-3rd metatarsal heads."),
    _c("cover_material", None, None, "eva", "Top cover material: its own body in the 3MF.",
       kind=str, choices=COVER_MATERIALS),
]}
ALL_PARAMS: dict[str, Param] = {**PARAMS, **CONSTRUCTION}


def lookup(name: str, where: str = "") -> Param:
    """Return the parameter called ``name``, suggesting the nearest on a typo."""
    try:
        return ALL_PARAMS[name]
    except KeyError:
        close = difflib.get_close_matches(name, ALL_PARAMS, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(ALL_PARAMS)}"
        raise InputError(f"{where}{shown(name)}: unknown parameter; {hint}") from None


def parse_override(text: str) -> tuple[str, float | bool | str]:
    """Parse one ``KEY=VALUE`` override, validated against the table."""
    if "=" not in text:
        raise InputError(f"--set {shown(text)}: expected KEY=VALUE, e.g. heel_cup_depth_mm=18")
    key, _, value = text.partition("=")
    param = lookup(key.strip(), "--set ")
    return param.name, param.coerce(value, "--set ")
