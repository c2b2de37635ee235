"""Numbers from orders, files and the command line: plain ASCII decimals only."""

from __future__ import annotations

import math
import re

from insolegen.core.errors import InputError, shown

# A plain decimal: Python's float() also takes '1_000', 'nan', 'infinity' and
# unicode digits, none of which an order system should send us.
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


def parse_number(value: object, field: str, accepted: str) -> float:
    """Parse a finite real number written as a plain ASCII decimal.

    Booleans, unicode digits, digit separators (``1_000``), ``nan``, ``inf``
    and numbers too large for a float are refused; ``-0`` reads as 0.
    """
    if isinstance(value, bool) or value is None:
        raise InputError(f"{field} = {shown(value)}: expected {accepted}")
    if isinstance(value, (int, float)):
        try:
            number = float(value)
        except OverflowError:  # an int beyond float range, e.g. from JSON
            raise InputError(f"{field} = {shown(value)}: not a finite number, "
                             f"expected {accepted}") from None
    elif isinstance(value, str):
        text = value.strip()
        if not text or not text.isascii():
            raise InputError(f"{field} = {shown(value)}: expected {accepted}")
        if not _DECIMAL.fullmatch(text):
            raise InputError(f"{field} = {shown(value)}: not a number, expected {accepted}")
        number = float(text)
    else:
        raise InputError(f"{field} = {shown(value)}: expected {accepted}")
    if not math.isfinite(number):
        raise InputError(f"{field} = {shown(value)}: not a finite number, expected {accepted}")
    return number + 0.0  # -0.0 -> 0.0


def fmt(value: float, digits: int = 1, sign: bool = False) -> str:
    """``value`` rounded to ``digits`` decimals for people to read: never ``-0.0``, and with
    an explicit ``+`` when ``sign`` (``fmt(-0.04, sign=True) == '+0.0'``)."""
    number = round(float(value), digits) + 0.0  # -0.0 -> 0.0
    return f"{number:+.{digits}f}" if sign else f"{number:.{digits}f}"
