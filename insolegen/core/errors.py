"""The one exception hierarchy of insolegen.

Every error a user can cause is an :class:`InsolegenError` whose message
names the field, the value and what is accepted; the CLI prints it as one
line and exits with :attr:`InsolegenError.exit_code`.
"""

from __future__ import annotations


class InsolegenError(Exception):
    """Base of every error insolegen raises on purpose."""

    exit_code = 1


class InputError(InsolegenError, ValueError):
    """A measurement, option, order or override is not acceptable."""

    exit_code = 2


class ProfileError(InputError):
    """A condition profile file is malformed or a condition is unknown."""


class ScanError(InputError):
    """A scan file cannot be read or is not a usable foot."""


class OutputError(InputError):
    """The output location cannot be written."""


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` for a message, cut to about ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 15]}...({len(text)} chars)"


def field_error(field: str, value: object, accepted: str) -> InputError:
    """Build the standard message: ``field = value: accepted``."""
    return InputError(f"{field} = {value!r}: {accepted}")


def one_line(text: object, limit: int = 2000) -> str:
    """``text`` as one printable line of at most about ``limit`` characters.

    Messages quote values from orders and paths, which may hold newlines or
    control characters; those are escaped so that an error is always one line
    (the CLI's stderr line, the web API's ``error``).
    """
    line = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(text))
    return line if len(line) <= limit else f"{line[:limit - 500]} ... {line[-450:]}"
