"""Reading a batch's orders file (CSV or JSON Lines) one row at a time.

:func:`iter_orders` streams: memory does not grow with the number of
lines, so a file of any length can be read, validated, then read again to
make its orders. A bad line makes a bad row (reported with its line
number); a file that cannot be used at all raises :class:`InputError`.
"""

from __future__ import annotations

import codecs
import csv
import difflib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from insolegen.core.errors import InputError, shown
from insolegen.pipeline.order import KNOWN_FIELDS, RETIRED_FIELDS
from insolegen.prescription.parameters import lookup

JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
MAX_LINE_CHARS = 1 << 20  # a JSON Lines order longer than this is a bad line, not read whole
_FOREIGN_DELIMITERS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}


@dataclass(frozen=True)
class Row:
    """One order as read: its line in the file, its fields, or why the line cannot be read."""

    line: int
    fields: dict
    error: str | None = None


def read_orders(path: Path) -> list[Row]:
    """Every row of an orders file, in a list (see :func:`iter_orders`)."""
    return list(iter_orders(path))


def iter_orders(path: Path) -> Iterator[Row]:
    """Rows of a CSV or JSON Lines orders file, one at a time, not yet validated.

    CSV needs a header naming the columns (comma-separated; several
    conditions in one cell separated by ``;``); JSON Lines holds one object
    per line. UTF-8 with or without a byte order mark, or UTF-16 with one.
    Raises :class:`InputError` if the file as a whole is unusable
    (unreadable, not text, no header, unknown columns, no line a JSON
    object); the error may come after earlier rows were yielded.
    """
    path = Path(path)
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError as exc:
        raise InputError(f"orders = '{path}': cannot be read ({exc.strerror or exc})") from None
    encoding = "utf-16" if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) \
        else "utf-8-sig"
    start = head.decode(encoding, errors="ignore").lstrip()[:1]
    jsonl = path.suffix.lower() in JSONL_SUFFIXES or (path.suffix.lower() != ".csv"
                                                      and start == "{")
    if jsonl and start == "[":
        raise InputError(f"orders = '{path}': a JSON array; expected JSON Lines, one order "
                         "object per line")
    reader = _jsonl_rows if jsonl else _csv_rows
    line = 0
    try:
        with open(path, encoding=encoding, newline="\n" if jsonl else "") as fh:
            for row in reader(fh, path):
                line = row.line
                yield row
    except UnicodeDecodeError:
        raise InputError(f"orders = '{path}': not UTF-8 text (a bad byte after line {line}); "
                         "save it as UTF-8 CSV or JSON Lines") from None
    except OSError as exc:
        raise InputError(f"orders = '{path}': cannot be read ({exc.strerror or exc})") from None


def _skip_line(fh: TextIO, text: str) -> None:
    """Read past the rest of a line of which ``text`` is the start, a chunk at a time."""
    while text and not text.endswith("\n"):
        text = fh.readline(MAX_LINE_CHARS)


def _jsonl_rows(fh: TextIO, path: Path) -> Iterator[Row]:
    seen = good = 0
    first_error = None
    number = 0
    while True:
        line = fh.readline(MAX_LINE_CHARS + 1)
        if not line:
            break
        number += 1
        if len(line) > MAX_LINE_CHARS and not line.endswith("\n"):
            _skip_line(fh, line)
            row = Row(number, {}, f"line {number}: longer than {MAX_LINE_CHARS} characters")
        elif not line.strip():
            continue
        else:
            row = _jsonl_row(number, line)
        seen += 1
        good += row.error is None
        first_error = first_error or row.error
        yield row
    if seen and not good:
        raise InputError(f"orders = '{path}': not JSON Lines (no line is a JSON object; "
                         f"{first_error})")


def _jsonl_row(number: int, line: str) -> Row:
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        return Row(number, {}, f"line {number}: not valid JSON ({exc.msg}, column {exc.colno})")
    except (ValueError, RecursionError) as exc:  # a 5000-digit number, [[[[...]]]]
        return Row(number, {}, f"line {number}: not usable JSON "
                               f"({type(exc).__name__}: {str(exc)[:80]})")
    if not isinstance(data, dict):
        return Row(number, {}, f"line {number}: expected a JSON object, got "
                               f"{type(data).__name__}")
    return Row(number, data)


def _check_header(cells: list[str], path: Path, line: int) -> list[str | None]:
    if "order_id" not in (c.strip().lower() for c in cells):
        raise InputError(f"orders = '{path}' line {line}: no 'order_id' column; "
                         + _header_hint(cells))
    names: list[str | None] = []
    for cell in cells:
        name = cell.strip().lower()
        if not name:
            names.append(None)
            continue
        where = f"orders = '{path}' line {line}: column {shown(cell.strip())}"
        if name.startswith("set."):
            try:
                name = "set." + lookup(name[4:]).name
            except InputError as exc:
                raise InputError(f"{where}: {exc}") from None
        # a retired column (arch_height_mm) is read: its orders are refused one by one, with why
        elif (name not in KNOWN_FIELDS and name not in RETIRED_FIELDS) or name == "set":
            close = difflib.get_close_matches(name, KNOWN_FIELDS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else \
                f"known: {', '.join(f for f in KNOWN_FIELDS if f != 'set')}, set.<parameter>"
            raise InputError(f"{where}: unknown; {hint}")
        if name in names:
            raise InputError(f"{where}: given twice")
        names.append(name)
    return names


def _header_hint(cells: list[str]) -> str:
    """Why a first line is not a usable header: another delimiter, or no header at all."""
    text = ",".join(cells)
    for delimiter, name in _FOREIGN_DELIMITERS.items():
        if delimiter in text and "order_id" in (c.strip().lower() for c in text.split(delimiter)):
            return (f"the columns look separated by {name}; expected commas (a CSV saved "
                    "with ',' as the separator; several conditions in one cell are separated "
                    "by ';')")
    return "the first line must be a header naming the columns (order_id, side, conditions, ...)"


def _csv_rows(fh: TextIO, path: Path) -> Iterator[Row]:
    reader = csv.reader(fh)
    header: list[str | None] | None = None
    start = 1
    try:
        for cells in reader:
            line, start = start, reader.line_num + 1
            if not any(c.strip() for c in cells):
                continue
            if header is None:
                header = _check_header(cells, path, line)
                continue
            fields = {name: cell for name, cell in zip(header, cells) if name is not None}
            error = None
            if len(cells) > len(header):
                error = f"line {line}: {len(cells)} cells but the header has {len(header)} columns"
            elif any(cell.strip() for name, cell in zip(header, cells) if name is None):
                error = f"line {line}: a value in a column without a name in the header"
            yield Row(line, fields, error)
    except csv.Error as exc:
        raise InputError(f"orders = '{path}' line {reader.line_num}: not readable CSV ({exc})") \
            from None
    if header is None:
        raise InputError(f"orders = '{path}': empty; expected a header line naming the columns "
                         "(order_id, side, conditions, ...) and one order per line")
