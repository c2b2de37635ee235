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


MAX_MESSAGE_CHARS = 2000


def _printable(text: str) -> str:
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def one_line(text: object, limit: int = MAX_MESSAGE_CHARS) -> str:
    """``text`` as one printable line of at most about ``limit`` characters.

    Messages quote values from orders and paths, which may hold newlines or
    control characters; those are escaped so that an error is always one
    line, and a huge value is cut in the middle, saying how long the text was.
    """
    text = str(text)
    line = _printable(text) if len(text) <= limit else ""
    if line and len(line) <= limit or not text:
        return line
    return (f"{_printable(text[:limit - 500])[:limit - 500]} ... ({len(text)} characters) "
            f"... {_printable(text[-450:])[-450:]}")


def shown(value: object, limit: int = 80) -> str:
    """``repr(value)`` for a message, cut to about ``limit`` characters."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit - 15]}...({len(text)} chars)"


def field_error(field: str, value: object, accepted: str) -> InputError:
    """Build the standard message: ``field = value: accepted``."""
    return InputError(f"{field} = {value!r}: {accepted}")
