"""``DIR/manifest.jsonl``: a batch's record, one line per order, held open while it runs.

Lines are appended (and synced) as orders finish and the file is rewritten,
one line per order, at the end; earlier runs' entries are read back only
when asked for. Every line read back comes from the file this run opened,
at offsets it read or wrote (see :class:`Manifest`).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import stat
from array import array
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from insolegen.batch.folder import Guard
from insolegen.batch.orders import MANIFEST_NAME, STATUSES, OrderResult
from insolegen.core.errors import OutputError
from insolegen.output.files import TMP_MARK

log = logging.getLogger("insolegen.batch.run")


class PreviousEntries(Mapping):
    """An earlier run's manifest entries by order id, read from the file when asked for:
    only each entry's place in the file is held in memory."""

    def __init__(self, path: Path, fd: int | None = None) -> None:
        self.path, self.fd = path, fd
        self._where: dict[str, tuple[int, int]] = {}  # id: (offset, length) of its last line

    def _entry(self, raw: bytes) -> OrderResult:
        data = json.loads(raw.decode("utf-8", errors="replace"))
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        return OrderResult.from_json(data)

    def __getitem__(self, order_id: str) -> OrderResult:
        offset, length = self._where[order_id]
        if self.fd is not None:  # the file this run holds, even if the path changed since
            return self._entry(os.pread(self.fd, length, offset))
        with open(self.path, "rb") as fh:
            fh.seek(offset)
            return self._entry(fh.read(length))

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)


class Manifest:
    """``DIR/manifest.jsonl``: appended to as orders finish, rewritten whole at the end.

    While a batch runs, a newer line for an order may follow an older one:
    the last line with a fingerprint wins. Neither earlier runs' entries nor
    this run's lines are held in memory, only where they are in the file; at
    the end the file is rewritten (temporary name, then rename) to one line
    per order: this run's in orders-file order, then earlier runs' orders not
    in this run, in the order they were first seen.

    The file is opened once and held: every line read back, for the earlier
    entries and for the rewrite, comes from that very file at the offsets
    this object wrote or read, even if the folder is moved or swapped
    meanwhile (``guard``: a :class:`Guard` of the folder, whose descriptor
    the file and its rewrite are opened relative to).
    """

    def __init__(self, out_dir: Path, guard: Guard | None = None, write: bool = True) -> None:
        self.path = out_dir / MANIFEST_NAME
        self.guard = guard
        self._cut_short = False
        self._mine = array("q")   # (orders line, offset, length) of each line this run wrote
        self._seen: set[str] = set()
        self._end = 0
        dir_fd = guard.fd if guard is not None else None
        try:
            info = os.stat(MANIFEST_NAME if dir_fd is not None else self.path, dir_fd=dir_fd,
                           follow_symlinks=False)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot be read ({exc.strerror or exc})") from None
        if info is not None and not stat.S_ISREG(info.st_mode):
            raise OutputError(f"{self.path}: exists and is not a regular file")
        self.fd: int | None = None
        self.previous = PreviousEntries(self.path)
        if info is not None:  # else created by the first append: a failed start leaves none
            self._open(os.O_RDWR | os.O_APPEND if write else os.O_RDONLY)
            self._read()

    def _open(self, flags: int) -> None:
        dir_fd = self.guard.fd if self.guard is not None else None
        try:
            self.fd = os.open(MANIFEST_NAME if dir_fd is not None else self.path,
                              flags | getattr(os, "O_NOFOLLOW", 0), 0o644, dir_fd=dir_fd)
        except OSError as exc:
            raise OutputError(f"{self.path}: cannot be written ({exc.strerror or exc})") \
                from None
        self.previous.fd = self.fd

    def _read(self) -> None:
        where = self.previous._where
        with os.fdopen(os.dup(self.fd), "rb") as fh:
            fh.seek(0)
            offset, last = 0, b""
            for number, raw in enumerate(fh, start=1):
                start, offset, last = offset, offset + len(raw), raw
                if not raw.strip():
                    continue
                try:
                    entry = self.previous._entry(raw)
                except (ValueError, TypeError, RecursionError) as exc:
                    log.warning("%s line %d: ignored, not a manifest entry (%s)", self.path,
                                number, exc)
                    continue
                if isinstance(entry.order_id, str) and entry.fingerprint \
                        and entry.status in STATUSES:
                    where[entry.order_id] = (start, len(raw))
        self._end = offset
        self._cut_short = bool(last) and not last.endswith(b"\n")

    def close(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = self.previous.fd = None

    def append(self, entries: Iterable[OrderResult]) -> None:
        """Add lines now, synced, so a kill loses no finished order."""
        if self.guard is not None:
            self.guard.check()
        if self.fd is None:
            self._open(os.O_RDWR | os.O_APPEND | os.O_CREAT)
        data = b"\n" if self._cut_short else b""  # a line a kill cut short: end it first
        offset, before = self._end + len(data), len(self._mine)
        for entry in entries:
            line = (json.dumps(entry.to_json(), ensure_ascii=True) + "\n").encode("ascii")
            self._mine.extend((entry.line or 0, offset, len(line)))
            offset += len(line)
            data += line
            if isinstance(entry.order_id, str):
                self._seen.add(entry.order_id)
        try:
            written = os.write(self.fd, data)
            while written < len(data):
                written += os.write(self.fd, data[written:])
            os.fsync(self.fd)
        except OSError as exc:
            del self._mine[before:]
            self._end, self._cut_short = os.fstat(self.fd).st_size, True
            raise OutputError(f"{self.path}: cannot be written ({exc.strerror or exc}); the "
                              "batch stopped (free some space and run it again: finished "
                              "orders are kept)") from None
        self._cut_short = False
        self._end = offset

    def rewrite(self) -> None:
        """One line per order: this run's, then earlier runs' orders not in this run."""
        mine = sorted(zip(self._mine[0::3], self._mine[1::3], self._mine[2::3]))
        kept = [i for i in self.previous if i not in self._seen]
        dir_fd = self.guard.fd if self.guard is not None else None
        tmp_name = f"{TMP_MARK}{secrets.token_hex(6)}-{MANIFEST_NAME}"
        tmp = tmp_name if dir_fd is not None else self.path.with_name(tmp_name)
        final = MANIFEST_NAME if dir_fd is not None else self.path
        try:
            out = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644, dir_fd=dir_fd)
            with os.fdopen(out, "wb") as fh:
                for _, offset, length in mine:
                    fh.write(os.pread(self.fd, length, offset))
                for order_id in kept:
                    entry = self.previous[order_id]
                    fh.write((json.dumps(entry.to_json(), ensure_ascii=True) + "\n")
                             .encode("ascii"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, final, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.unlink(tmp, dir_fd=dir_fd)
            raise OutputError(f"{self.path}: cannot be written ({exc.strerror or exc})") from None
        finally:
            self.close()
