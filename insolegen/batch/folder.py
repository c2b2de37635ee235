"""The batch folder DIR: order folders written whole, the manifest, the lock.

An order's files are first *staged*: written and synced into a folder with
a temporary name in DIR (by a pool worker, or by the batch process for
files that came back from a Dask cluster), then *published*: renamed to
``DIR/<order_id>/`` in one step. A kill at any moment leaves either the
whole folder under its final name or a temporary one, which the next run
removes. ``DIR/manifest.jsonl`` gets a synced line as each order finishes
and is rewritten, one line per order, at the end.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
from array import array
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from insolegen.batch.orders import MANIFEST_NAME, STATUSES, OrderResult, sha256_file
from insolegen.core.errors import OutputError
from insolegen.output.files import TMP_MARK, fsync_dir

log = logging.getLogger("insolegen.batch.run")

LOCK_NAME = ".insolegen-batch.lock"


def remove(path: Path) -> None:
    """Remove a file, symlink or folder tree, whatever is there; never follows a symlink."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


def staging_dir(out_dir: Path, order_id: str) -> Path:
    """A fresh temporary folder name in ``out_dir`` for an order's files."""
    return out_dir / f"{TMP_MARK}{secrets.token_hex(6)}-{order_id}"


def check_names(order_id: str, names: Iterable[str]) -> None:
    """Every name is a plain file name of this order's (``<order_id>...``), or OutputError."""
    for name in names:
        if Path(name).name != name or name.startswith(".") or not name.startswith(order_id):
            raise OutputError(f"file name {name!r} from a worker: not a file name for order "
                              f"{order_id!r}")


def stage(folder: Path, order_id: str, files: Mapping[str, bytes],
          hashes: Mapping[str, str] | None = None) -> list[dict]:
    """Write ``files`` into the new folder ``folder`` (not yet synced: :func:`publish` does);
    ``{"path", "sha256", "bytes"}`` per file (``path`` as it will be once published;
    ``hashes``: the SHA-256 of the files when known). Nothing is left on failure."""
    check_names(order_id, files)
    records = []
    try:
        folder.mkdir()
        for name, data in files.items():
            with open(folder / name, "xb") as fh:
                fh.write(data)
            digest = (hashes or {}).get(name) or hashlib.sha256(data).hexdigest()
            records.append({"path": f"{order_id}/{name}", "sha256": digest, "bytes": len(data)})
    except OSError as exc:
        remove(folder)
        raise OutputError(f"{folder.parent / order_id}: cannot be written "
                          f"({exc.strerror or exc})") from None
    return records


def _sync(folder: Path, names: Iterable[str]) -> None:
    for name in names:
        fd = os.open(folder / name, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    fsync_dir(folder)


def _ours(folder: Path, order_id: str) -> bool:
    """Whether an existing ``DIR/<order_id>`` may be replaced: an insolegen order folder
    (its report says so), an empty folder, or a symlink (replaced, never followed)."""
    if folder.is_symlink():
        return True
    if not folder.is_dir():
        return False
    if not any(folder.iterdir()):
        return True
    report = folder / f"{order_id}.json"
    try:
        data = json.loads(report.read_text(encoding="utf-8")) if report.is_file() else None
    except (OSError, ValueError):
        return False
    return isinstance(data, dict) and "insolegen_version" in data \
        and isinstance(data.get("order"), dict) and data["order"].get("order_id") == order_id


def publish(out_dir: Path, order_id: str, staged: Path, records: list[dict]) -> None:
    """Sync the staged folder's files, then rename it to ``out_dir/<order_id>``, swapping
    out an earlier one.

    The staged folder must hold exactly the recorded files, each of the
    recorded size. On failure the staged folder is removed and an earlier
    folder of the order stays.
    """
    final = out_dir / order_id
    old = staged.with_name(f"{staged.name}-old")
    try:
        present = sorted(p.name for p in staged.iterdir())
        check_names(order_id, present)
        sizes = {r["path"].split("/", 1)[1]: r["bytes"] for r in records}
        if present != sorted(sizes) or any((staged / n).stat().st_size != b
                                           for n, b in sizes.items()):
            raise OutputError(f"{final}: the staged files are not the ones recorded")
        _sync(staged, present)
        if (final.exists() or final.is_symlink()) and not _ours(final, order_id):
            raise OutputError(f"{final}: exists and is not an insolegen order folder; refusing "
                              "to replace it (move it away or choose another --out)")
        replaced = final.exists() or final.is_symlink()
        if replaced:
            os.rename(final, old)
        try:
            os.rename(staged, final)
        except OSError:
            if replaced:
                os.rename(old, final)
            raise
        fsync_dir(out_dir)
    except (OSError, OutputError) as exc:
        remove(staged)
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"{final}: cannot be written ({exc.strerror or exc})") from None
    if replaced:
        remove(old)


def write_order(out_dir: Path, order_id: str, files: Mapping[str, bytes]) -> list[dict]:
    """Write an order's files into ``out_dir/<order_id>/`` whole, or not at all: staged,
    then published. Returns ``{"path", "sha256", "bytes"}`` per file."""
    staged = staging_dir(out_dir, order_id)
    records = stage(staged, order_id, files)
    publish(out_dir, order_id, staged, records)
    return records


def intact(out_dir: Path, entry: OrderResult) -> bool:
    """Every file of a done entry is there, a regular file, with its recorded SHA-256."""
    if not entry.files or not isinstance(entry.order_id, str):
        return False
    folder = out_dir / entry.order_id
    if folder.is_symlink() or not folder.is_dir():
        return False
    for record in entry.files:
        try:
            folder_name, name = str(record["path"]).split("/")
            path = folder / name
            if folder_name != entry.order_id or Path(name).name != name or path.is_symlink() \
                    or not path.is_file() or path.stat().st_size != record["bytes"] \
                    or sha256_file(path) != record["sha256"]:
                return False
        except (KeyError, TypeError, ValueError, OSError):
            return False
    return True


class PreviousEntries(Mapping):
    """An earlier run's manifest entries by order id, read from the file when asked for:
    only each entry's place in the file is held in memory."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._where: dict[str, tuple[int, int]] = {}  # id: (offset, length) of its last line

    def _entry(self, raw: bytes) -> OrderResult:
        data = json.loads(raw.decode("utf-8", errors="replace"))
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        return OrderResult.from_json(data)

    def __getitem__(self, order_id: str) -> OrderResult:
        offset, length = self._where[order_id]
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
    """

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / MANIFEST_NAME
        self.previous = PreviousEntries(self.path)
        self._cut_short = False
        self._mine = array("q")   # (orders line, offset, length) of each line this run wrote
        self._seen: set[str] = set()
        if self.path.is_symlink() or (self.path.exists() and not self.path.is_file()):
            raise OutputError(f"{self.path}: exists and is not a regular file")
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        where = self.previous._where
        with open(self.path, "rb") as fh:
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
        self._cut_short = bool(last) and not last.endswith(b"\n")

    def append(self, entries: Iterable[OrderResult]) -> None:
        """Add lines now, synced, so a kill loses no finished order."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        with os.fdopen(os.open(self.path, flags, 0o644), "ab") as fh:
            offset = fh.seek(0, os.SEEK_END)
            if self._cut_short:  # a line a kill cut short: end it before adding ours
                offset += fh.write(b"\n")
                self._cut_short = False
            for entry in entries:
                data = (json.dumps(entry.to_json(), ensure_ascii=True) + "\n").encode("ascii")
                fh.write(data)
                self._mine.extend((entry.line or 0, offset, len(data)))
                offset += len(data)
                if isinstance(entry.order_id, str):
                    self._seen.add(entry.order_id.casefold())
            fh.flush()
            os.fsync(fh.fileno())

    def rewrite(self) -> None:
        """One line per order: this run's, then earlier runs' orders not in this run."""
        mine = sorted(zip(self._mine[0::3], self._mine[1::3], self._mine[2::3]))
        kept = [i for i in self.previous if i.casefold() not in self._seen]
        tmp = self.path.with_name(f"{TMP_MARK}{secrets.token_hex(6)}-{MANIFEST_NAME}")
        try:
            with open(tmp, "xb") as out, contextlib.ExitStack() as stack:
                src = stack.enter_context(open(self.path, "rb")) if mine or kept else None
                for _, offset, length in mine:
                    src.seek(offset)
                    out.write(src.read(length))
                for order_id in kept:
                    offset, length = self.previous._where[order_id]
                    src.seek(offset)
                    entry = self.previous._entry(src.read(length))
                    out.write((json.dumps(entry.to_json(), ensure_ascii=True) + "\n")
                              .encode("ascii"))
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(f"{self.path}: cannot be written ({exc.strerror or exc})") from None


@contextlib.contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold ``DIR/.insolegen-batch.lock``: two batches never write into one folder."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no advisory locks
        yield
        return
    flags = os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(out_dir / LOCK_NAME, flags, 0o644)
    except OSError as exc:
        raise OutputError(f"{out_dir / LOCK_NAME}: cannot be opened ({exc.strerror or exc})") \
            from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise OutputError(f"out = '{out_dir}': another insolegen batch is writing into it; "
                              "wait for it to end or choose another folder") from None
        yield
    finally:
        os.close(fd)


def clean_stale(out_dir: Path) -> None:
    """Remove temporary files and folders a killed batch left (ids never start with '.')."""
    for path in out_dir.iterdir():
        if path.name.startswith(TMP_MARK):
            log.info("removing %s, left by an interrupted batch", path.name)
            remove(path)
