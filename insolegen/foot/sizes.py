"""Shoe sizes to foot length, one table.

Each system is linear in the size: ``foot_length_mm = slope * size + offset``.

- Mondopoint (ISO 9407): the size *is* the foot length in mm.
- EU (Paris point, 2/3 cm): ``EU = 1.5 * (foot length in cm + 1.5)``, i.e. the
  last is 15 mm longer than the foot.
- UK adult: ``UK = 3 * last length in inches - 25``, with the last two
  barleycorns (2/3 in, 16.9 mm) longer than the foot.
- US men = UK + 1; US women = US men + 1.5 (so UK = US-W - 2.5).
"""

from __future__ import annotations

import re

from insolegen.core.errors import InputError
from insolegen.core.numbers import parse_number

_INCH = 25.4
_UK_SLOPE = _INCH / 3.0
_UK_OFFSET = 25.0 * _INCH / 3.0 - 2.0 * _INCH / 3.0

# system: (slope, offset, smallest size, largest size, aliases)
SYSTEMS: dict[str, tuple[float, float, float, float, tuple[str, ...]]] = {
    "Mondopoint": (1.0, 0.0, 150.0, 350.0, ("mondo", "mondopoint", "mp")),
    "EU": (20.0 / 3.0, -15.0, 25.0, 54.0, ("eu", "eur", "fr")),
    "UK": (_UK_SLOPE, _UK_OFFSET, 0.0, 16.0, ("uk",)),
    "US-M": (_UK_SLOPE, _UK_OFFSET - _UK_SLOPE, 1.0, 17.0, ("us-m", "usm", "us-men")),
    "US-W": (_UK_SLOPE, _UK_OFFSET - 2.5 * _UK_SLOPE, 2.5, 18.5, ("us-w", "usw", "us-women")),
}
_ALIASES = {alias: name for name, row in SYSTEMS.items() for alias in row[4]}
_PATTERN = re.compile(r"^\s*([A-Za-z][A-Za-z-]*)\s*([0-9.]+)\s*$")


def accepted() -> str:
    """Describe the accepted size strings."""
    return "a size like 'EU 42', 'UK 8', 'US-M 9', 'US-W 10.5' or 'Mondopoint 265' (" + \
        "; ".join(f"{n} {row[2]:g}-{row[3]:g}" for n, row in SYSTEMS.items()) + ")"


def parse_shoe_size(text: str) -> tuple[str, float]:
    """Parse ``'EU 42'`` into ``('EU', 42.0)``, validating the range."""
    if not isinstance(text, str) or not text.isascii():
        raise InputError(f"shoe_size = {text!r}: expected {accepted()}")
    match = _PATTERN.match(text)
    if match and match.group(1).lower() == "us":  # men's and women's differ by 1.5 sizes (12.7 mm)
        raise InputError(f"shoe_size = {text!r}: say US-M {match.group(2)} (men's) or "
                         f"US-W {match.group(2)} (women's): a US size alone is ambiguous, "
                         f"the same number is 12.7 mm longer in men's sizes")
    if not match or match.group(1).lower() not in _ALIASES:
        raise InputError(f"shoe_size = {text!r}: expected {accepted()}")
    system = _ALIASES[match.group(1).lower()]
    try:
        size = parse_number(match.group(2), "shoe_size", accepted())
    except InputError:  # name the whole size, not just its number
        raise InputError(f"shoe_size = {text!r}: not a number, expected {accepted()}") from None
    low, high = SYSTEMS[system][2:4]
    if not low <= size <= high:
        raise InputError(f"shoe_size = {text!r}: {system} sizes run from {low:g} to {high:g}")
    return system, size


def foot_length_from_size(text: str) -> float:
    """Foot length in mm for a shoe size string such as ``'US-W 10.5'``."""
    system, size = parse_shoe_size(text)
    slope, offset = SYSTEMS[system][:2]
    return round(slope * size + offset, 2)


def size_label(foot_length_mm: float, shoe_size: str | None = None) -> str:
    """A short size for labels: the shoe size as ordered (``'UK 8'``), else the EU size
    of the foot length to the nearest half size (``'EU 42'`` for 265 mm)."""
    if shoe_size:
        system, size = parse_shoe_size(shoe_size)
        return f"{system} {size:g}"
    slope, offset = SYSTEMS["EU"][:2]
    return f"EU {round((foot_length_mm - offset) / slope * 2) / 2:g}"
