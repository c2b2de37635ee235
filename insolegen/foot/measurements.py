"""A ``Foot`` from a few measurements, with the gaps filled by population ratios.

Ratios are medians of the 6,068 subjects of the 2012 US Army Anthropometric
Survey (ANSUR II; ``tests/data/ansur2_feet.csv``): ball width 0.376 and heel
width 0.269 of foot length; ball-of-foot length (heel to the 1st metatarsal
head) 0.741, where the template puts the 1st head when ``ball_length_mm`` is
not given (:data:`insolegen.foot.model.MTH_FRACS`). Navicular height is not in
ANSUR II; it defaults to 0.15 of foot length (a 265 mm foot: 40 mm, inside the
35-45 mm commonly reported for adults standing) and is marked ``estimated``.

Two arch heights, never one word for both: ``navicular_height_mm`` (the
navicular bone's height standing) and ``plantar_arch_height_mm`` (the sole's
height under the arch apex, what ``insolegen measure`` prints); give at most one.
"""

from __future__ import annotations

from dataclasses import dataclass

from insolegen.core.errors import InputError, shown
from insolegen.foot.model import NAVICULAR_OVER_PLANTAR_MM, Foot, template_landmarks
from insolegen.foot.outline import foot_outline
from insolegen.core.numbers import parse_number
from insolegen.foot.sizes import foot_length_from_size

BALL_WIDTH_RATIO = 0.376
HEEL_WIDTH_RATIO = 0.269
NAVICULAR_HEIGHT_RATIO = 0.15

# field: (low, high) in mm
RANGES = {
    "foot_length_mm": (150.0, 350.0),
    "ball_width_mm": (50.0, 150.0),
    "heel_width_mm": (35.0, 110.0),
    "navicular_height_mm": (10.0, 80.0),
    "plantar_arch_height_mm": (0.0, 40.0),
    "ball_length_mm": (99.0, 287.0),  # the ratio bounds below on 150 and 350 mm feet
}
RATIO_RANGES = {  # (numerator, denominator): (low, high)
    ("ball_width_mm", "foot_length_mm"): (0.28, 0.48),
    ("heel_width_mm", "ball_width_mm"): (0.45, 0.95),
    ("heel_width_mm", "foot_length_mm"): (0.17, 0.40),
    ("navicular_height_mm", "foot_length_mm"): (0.05, 0.30),
    ("plantar_arch_height_mm", "foot_length_mm"): (0.0, 0.15),
    # ANSUR II: ball-of-foot length is 0.688-0.798 of foot length in all 6,068 subjects;
    # accepted with a margin of about 0.02 either side.
    ("ball_length_mm", "foot_length_mm"): (0.66, 0.82),
}
SIDES = ("left", "right")


@dataclass(frozen=True)
class Measurements:
    """Foot measurements as given (mm); ``None`` means not given."""

    foot_length_mm: float | None = None
    ball_width_mm: float | None = None
    heel_width_mm: float | None = None
    navicular_height_mm: float | None = None
    plantar_arch_height_mm: float | None = None
    ball_length_mm: float | None = None
    shoe_size: str | None = None
    side: str | None = None


# Said when an arch height is refused: the other field may be the one meant.
OTHER_ARCH = {"navicular_height_mm": "; a plantar arch height (what 'insolegen measure' prints) "
                                     "goes in plantar_arch_height_mm",
              "plantar_arch_height_mm": "; a navicular height goes in navicular_height_mm"}


def _checked(name: str, value: object) -> float:
    low, high = RANGES[name]
    accepted = f"a length in mm from {low:g} to {high:g}"
    number = parse_number(value, name, accepted)
    if not low <= number <= high:
        raise InputError(f"{name} = {shown(value)}: out of range, expected {accepted}"
                         + OTHER_ARCH.get(name, ""))
    return number


def foot_from_measurements(m: Measurements) -> Foot:
    """Validate measurements and build a template :class:`Foot` (canonical frame).

    Exactly one of ``foot_length_mm`` and ``shoe_size`` must be given.
    """
    sources: dict[str, str] = {}
    if (m.foot_length_mm is None) == (m.shoe_size is None):
        raise InputError("foot_length_mm / shoe_size: give exactly one of the two "
                         "(e.g. foot_length_mm = 265 or shoe_size = 'EU 42')")
    if m.shoe_size is not None:
        length = foot_length_from_size(m.shoe_size)
        low, high = RANGES["foot_length_mm"]
        if not low <= length <= high:
            raise InputError(f"shoe_size = {m.shoe_size!r}: a {length:g} mm foot, outside the "
                             f"{low:g}-{high:g} mm insolegen makes insoles for")
        sources["foot_length_mm"] = f"shoe size {m.shoe_size}"
    else:
        length = _checked("foot_length_mm", m.foot_length_mm)
        sources["foot_length_mm"] = "given"
    values = {"foot_length_mm": length}
    defaults = {"ball_width_mm": BALL_WIDTH_RATIO, "heel_width_mm": HEEL_WIDTH_RATIO,
                "navicular_height_mm": NAVICULAR_HEIGHT_RATIO}
    if m.navicular_height_mm is not None and m.plantar_arch_height_mm is not None:
        raise InputError(
            f"navicular_height_mm = {shown(m.navicular_height_mm)}, plantar_arch_height_mm = "
            f"{shown(m.plantar_arch_height_mm)}: give one of the two (navicular height "
            "standing, or the sole's plantar arch height that 'insolegen measure' prints)")
    plantar = None
    if m.plantar_arch_height_mm is not None:
        plantar = _checked("plantar_arch_height_mm", m.plantar_arch_height_mm)
        values["plantar_arch_height_mm"] = plantar
        sources["plantar_arch_height_mm"] = "given"
        del defaults["navicular_height_mm"]
        values["navicular_height_mm"] = round(plantar + NAVICULAR_OVER_PLANTAR_MM, 2)
        sources["navicular_height_mm"] = (f"estimated (plantar arch height + "
                                          f"{NAVICULAR_OVER_PLANTAR_MM:g} mm)")
    if m.ball_length_mm is not None:
        values["ball_length_mm"] = _checked("ball_length_mm", m.ball_length_mm)
        sources["ball_length_mm"] = "given"
    for name, ratio in defaults.items():
        given = getattr(m, name)
        if given is None:
            values[name] = round(ratio * length, 2)
            sources[name] = f"estimated ({ratio:g} x foot length)"
        else:
            values[name] = _checked(name, given)
            sources[name] = "given"
    if "given" in (sources["ball_width_mm"], sources["heel_width_mm"]) and \
            sources["heel_width_mm"] != "given":
        values["heel_width_mm"] = round(values["ball_width_mm"] * HEEL_WIDTH_RATIO
                                        / BALL_WIDTH_RATIO, 2)
        sources["heel_width_mm"] = "estimated (0.715 x ball width)"
    for (num, den), (low, high) in RATIO_RANGES.items():
        if num not in values or (num == "navicular_height_mm" and sources[num] != "given"):
            continue
        ratio = values[num] / values[den]
        if not low - 1e-9 <= ratio <= high + 1e-9:  # inclusive: 11.1 / 222 is 0.05 less a bit
            raise InputError(
                f"{num} = {values[num]:g}: {ratio:.3f} x {den} ({values[den]:g}), "
                f"expected {low:g}-{high:g} x {den}" + OTHER_ARCH.get(num, ""))
    if m.side is not None and m.side not in SIDES:
        raise InputError(f"side = {m.side!r}: expected one of {', '.join(SIDES)}")
    outline = foot_outline(length, values["ball_width_mm"], values["heel_width_mm"])
    return Foot(
        foot_length_mm=length, ball_width_mm=values["ball_width_mm"],
        heel_width_mm=values["heel_width_mm"], navicular_height_mm=values["navicular_height_mm"],
        side=m.side, outline=outline,
        landmarks=template_landmarks(outline, length, values["heel_width_mm"],
                                     ball_length_mm=values.get("ball_length_mm")),
        sources=sources, plantar_arch_mm=plantar,
    )
