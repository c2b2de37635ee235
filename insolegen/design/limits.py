"""Order-time limits of a design: the plan edge length for the foot, and the cross-checks
between parameters that single ranges cannot express (each refusal one line naming the
field, the value and what is accepted)."""

from __future__ import annotations

from insolegen.core.errors import InputError
from insolegen.prescription.bases import SKIVE_MIN_CUP_MM

DEFAULT_RESOLUTION_MM = 1.0
RESOLUTION_RANGE_MM = (0.3, 5.0)


def check_resolution(resolution_mm: object) -> float:
    """Validate the plan edge length (mm)."""
    from insolegen.core.numbers import parse_number
    low, high = RESOLUTION_RANGE_MM
    accepted = f"a plan edge length in mm from {low:g} to {high:g}"
    value = parse_number(resolution_mm, "resolution_mm", accepted)
    if not low <= value <= high:
        raise InputError(f"resolution_mm = {resolution_mm!r}: out of range, expected {accepted}")
    return value


FOOT_LENGTHS_PER_EDGE = 50  # coarsest plan edge: foot length / 50 (5 mm from a 250 mm foot)


def check_resolution_for(resolution_mm: float, foot_length_mm: float) -> None:
    """Refuse a plan edge too coarse for the foot: the heel cup wall, a spur recess and a
    medial flange of a small foot need several edges across to be made as designed.

    The bound is this project's own, from measured insoles: at 4-5 mm, orders for feet of
    150-160 mm failed their self-check (cup depth, tilt, arch height off by more than the
    tolerance), those from 175 mm up did not; foot length / 50 leaves a margin.
    """
    coarsest = round(foot_length_mm / FOOT_LENGTHS_PER_EDGE, 2)
    if resolution_mm > coarsest + 1e-9:
        raise InputError(f"resolution_mm = {resolution_mm:g}: too coarse for a "
                         f"{foot_length_mm:g} mm foot; accepted: at most {coarsest:g} "
                         f"(the foot length / {FOOT_LENGTHS_PER_EDGE}), down to "
                         f"{RESOLUTION_RANGE_MM[0]:g}")


def check_parameters(p: dict) -> None:
    """Cross-checks between parameters that single ranges cannot express."""
    stack = p["base_thickness_mm"] + p["top_cover_thickness_mm"]
    t_min = p["min_thickness_mm"]
    if t_min > stack:
        raise InputError(
            f"min_thickness_mm = {t_min:g}: more than base_thickness_mm + "
            f"top_cover_thickness_mm = {stack:g}; accepted: at most {stack:g}")
    recesses = [f"mth{i}_relief_mm" for i in range(1, 6)] + ["met5_base_relief_mm"]
    if p["heel_spur_relief"]:
        recesses.append("heel_recess_depth_mm")
    for key in recesses:
        if p[key] > stack - t_min + 1e-9:
            raise InputError(
                f"{key} = {p[key]:g}: would leave {stack - p[key]:g} mm, below "
                f"min_thickness_mm = {t_min:g}; accepted: at most {stack - t_min:g}")
    if p["medial_heel_skive_mm"] > 0 and p["heel_cup_depth_mm"] < SKIVE_MIN_CUP_MM:
        raise InputError(
            f"medial_heel_skive_mm = {p['medial_heel_skive_mm']:g}: a medial skive needs "
            f"heel_cup_depth_mm of {SKIVE_MIN_CUP_MM:g} or more (is {p['heel_cup_depth_mm']:g})")
