"""Files out, written whole or not at all; JSON text; safe names from orders.

Every file is written under a temporary name in its own folder and renamed
into place only when all files of a job are complete (:class:`AtomicWriter`),
so a crash never leaves a file that looks finished but is not. Names that
come from orders are checked by :func:`safe_id` before they touch a path.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from insolegen.core.errors import InputError, OutputError
from insolegen.mesh.solid import Solid
from insolegen.output.stl import stl_bytes

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
TMP_MARK = ".insolegen-tmp-"


def safe_id(order_id: object) -> str:
    """Return ``order_id`` if it is safe as a file name stem, else raise.

    Accepted: 1-128 characters of letters, digits, ``.``, ``_`` and ``-``,
    starting with a letter or digit, without ``..``.
    """
    if not isinstance(order_id, str) or not _ID.fullmatch(order_id) or ".." in order_id:
        shown = order_id if not isinstance(order_id, str) else order_id[:60]
        raise InputError(
            f"order_id = {shown!r}: expected 1-128 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit, without '..'")
    return order_id


def prepare_dir(path: Path) -> Path:
    """Create ``path`` if needed and prove it writable; raise OutputError if not."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f"{TMP_MARK}probe-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"out = '{path}': not a writable folder ({exc.strerror or exc})") \
            from None
    return path


def json_text(data: object, indent: int = 2) -> str:
    """``data`` as JSON, objects indented, lists of numbers (or of lists of numbers) on one
    line, ending in a newline; NaN and infinity refused (ValueError)."""
    def dump(item: object, depth: int) -> str:
        pad = " " * (indent * (depth + 1))
        if isinstance(item, dict) and item:
            body = ",\n".join(f"{pad}{json.dumps(str(k))}: {dump(v, depth + 1)}"
                              for k, v in item.items())
            return f"{{\n{body}\n{pad[:-indent]}}}"
        if isinstance(item, (list, tuple)) and item:
            line = json.dumps(item, allow_nan=False, separators=(", ", ": "))
            if "{" not in line and not line.startswith("[[["):  # numbers, or rows of them
                return line
            body = ",\n".join(f"{pad}{dump(v, depth + 1)}" for v in item)
            return f"[\n{body}\n{pad[:-indent]}]"
        return json.dumps(item, allow_nan=False, separators=(", ", ": "))
    return dump(data, 0) + "\n"


def fsync_dir(folder: Path) -> None:
    """Make the entries of ``folder`` (new files, renames) durable (POSIX; elsewhere a no-op)."""
    if os.name != "posix":
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def signals_held() -> Iterator[None]:
    """SIGTERM and SIGINT held for the few renames of a swap, then delivered, so that a set
    of files is replaced whole or not at all. Their handlers are swapped for a recorder
    (Python runs handlers in the main thread, whichever thread the signal reached); in other
    threads, where handlers cannot be set, a no-op."""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []
    held = (signal.SIGTERM, signal.SIGINT)
    before = {s: signal.signal(s, lambda signum, frame: pending.append(signum)) for s in held}
    try:
        yield
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
        for signum in dict.fromkeys(pending):
            signal.raise_signal(signum)


class AtomicWriter:
    """Collects a job's files under temporary names; :meth:`commit` renames them all.

    Use as a context manager: leaving the block by an exception removes every
    temporary file, and nothing is renamed.
    """

    def __init__(self, folder: Path, force: bool = False) -> None:
        self.folder = prepare_dir(folder)
        self.force = force
        self.pending: list[tuple[Path, Path]] = []
        self.retired: list[Path] = []

    def _replaceable(self, final: Path) -> None:
        if final.is_symlink() or (final.exists() and not final.is_file()):
            raise OutputError(f"{final}: exists and is not a regular file; refusing to replace it")
        if final.exists() and not self.force:
            raise OutputError(f"{final}: already exists; use --force to overwrite")

    def retire(self, name: str) -> None:
        """A file of the job's earlier set that the new set does not have: with ``force``
        it is removed by :meth:`commit`, with the others replaced (put back if the commit
        fails); without, its presence refuses the job like any existing file."""
        final = self.folder / name
        if name != Path(name).name or name.startswith(".") or not os.path.lexists(final) \
                or any(f == final for _, f in self.pending) or final in self.retired:
            return
        self._replaceable(final)
        self.retired.append(final)

    def target(self, name: str) -> Path:
        """Reserve the final name ``name`` in the folder; returns the temporary path."""
        if not name or name != Path(name).name or name.startswith("."):
            raise OutputError(f"{name!r}: not a plain file name; refusing to write it")
        final = self.folder / name
        self._replaceable(final)
        if final in self.retired:
            self.retired.remove(final)
        tmp = self.folder / f"{TMP_MARK}{secrets.token_hex(6)}-{name}"
        self.pending.append((tmp, final))
        return tmp

    def stl(self, name: str, solid: Solid, header: str = "insolegen") -> Path:
        """Write ``solid`` as binary STL (mm) under the temporary name of ``name``."""
        return self.bytes(name, stl_bytes(solid, header))

    def json(self, name: str, data: dict) -> Path:
        """Write ``data`` as indented JSON under the temporary name of ``name``."""
        tmp = self.target(name)
        text = json_text(data)
        try:
            with open(tmp, "x", encoding="utf-8") as fh:
                fh.write(text)
        except OSError as exc:
            raise OutputError(f"{self.folder / name}: cannot be written ({exc.strerror or exc})") \
                from None
        return tmp

    def bytes(self, name: str, data: bytes) -> Path:
        """Write ``data`` (a whole file, e.g. from :mod:`insolegen.output.formats`) under the
        temporary name of ``name``."""
        tmp = self.target(name)
        try:
            with open(tmp, "xb") as fh:
                fh.write(data)
        except OSError as exc:
            raise OutputError(f"{self.folder / name}: cannot be written ({exc.strerror or exc})") \
                from None
        return tmp

    def commit(self) -> list[Path]:
        """Rename every temporary file into place, all or none; return the final paths.

        The last file reserved is the job's marker (the report): files being
        replaced are first moved aside, the marker's old version first, and
        the new marker is renamed in last. So whenever the marker exists,
        every file of its job is there and complete; if a rename fails, the
        new files are removed and the old ones put back, the :meth:`retire` d
        ones too. SIGTERM and SIGINT wait until the renames are over
        (:func:`signals_held`), so a signal never leaves half a set.
        """
        for tmp, _ in self.pending:
            try:
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            except OSError as exc:
                self.discard()
                raise OutputError(f"{self.folder}: cannot finish writing "
                                  f"({exc.strerror or exc})") from None
        with signals_held():  # the swap, its undoing and its clean-up: never cut by a signal
            placed = self._swap_or_restore()
        self.pending = []
        return placed

    def _swap_or_restore(self) -> list[Path]:
        aside: list[tuple[Path, Path]] = []
        placed: list[Path] = []
        try:
            finals = [final for _, final in self.pending]
            for final in [*reversed(finals), *self.retired]:
                if os.path.lexists(final):
                    old = self.folder / f"{TMP_MARK}{secrets.token_hex(6)}-old-{final.name}"
                    os.replace(final, old)
                    aside.append((old, final))
            for tmp, final in self.pending:
                os.replace(tmp, final)
                placed.append(final)
            fsync_dir(self.folder)
        except OSError as exc:
            for final in placed:
                final.unlink(missing_ok=True)
            for old, final in aside:
                try:
                    os.replace(old, final)
                except OSError:
                    pass  # best effort: the old file stays under its temporary name
            self.discard()
            raise OutputError(f"{self.folder}: cannot finish writing ({exc.strerror or exc})") \
                from None
        for old, _ in aside:
            old.unlink(missing_ok=True)
        return placed

    def discard(self) -> None:
        """Remove every temporary file not yet committed."""
        for tmp, _ in self.pending:
            tmp.unlink(missing_ok=True)
        self.pending = []

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()
        elif self.pending:
            self.discard()
            raise RuntimeError("AtomicWriter left without commit()")
