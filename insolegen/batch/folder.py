"""The batch folder DIR: order folders written whole, the manifest, the lock.

An order's files are first *staged*: written and synced into a folder with
a temporary name in DIR (by a pool worker, or by the batch process for
files that came back from a Dask cluster), then *published*: renamed to
``DIR/<order_id>/`` in one step. A kill at any moment leaves either the
whole folder under its final name or a temporary one, which the next run
removes. The folder itself is held (:class:`Guard`); the manifest is
:mod:`insolegen.batch.manifest`.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from insolegen.batch.orders import OrderResult, sha256_file
from insolegen.core.errors import OutputError
from insolegen.output.files import TMP_MARK, fsync_dir, signals_held

log = logging.getLogger("insolegen.batch.run")

LOCK_NAME = ".insolegen-batch.lock"
OLD_SUFFIX = "-old"


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


def _renamed(src: str, dst: str, guard: Guard | None, out_dir: Path) -> None:
    """Rename within the batch folder (relative to its held descriptor when guarded)."""
    if guard is None:
        os.rename(out_dir / src, out_dir / dst)
    else:
        os.rename(src, dst, src_dir_fd=guard.fd, dst_dir_fd=guard.fd)


def publish(out_dir: Path, order_id: str, staged: Path, records: list[dict],
            guard: Guard | None = None) -> None:
    """Sync the staged folder's files, then rename it to ``out_dir/<order_id>``, swapping
    out an earlier one.

    The staged folder must hold exactly the recorded files, each of the
    recorded size. On failure the staged folder is removed and an earlier
    folder of the order stays. The swap is not interrupted by SIGTERM or
    SIGINT (they are held until it is over); a kill between its two renames
    leaves the earlier folder as ``<staged>-old``, which :func:`clean_stale`
    puts back. With ``guard``, the folder is checked to be the batch's own
    and the renames are made relative to it.
    """
    final = out_dir / order_id
    old = staged.with_name(f"{staged.name}{OLD_SUFFIX}")
    try:
        if guard is not None:
            guard.check()
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
        with signals_held():
            if replaced:
                _renamed(order_id, old.name, guard, out_dir)
            try:
                _renamed(staged.name, order_id, guard, out_dir)
            except OSError:
                if replaced:
                    _renamed(old.name, order_id, guard, out_dir)
                raise
            fsync_dir(out_dir)
            if replaced:
                remove(old)
    except (OSError, OutputError) as exc:
        remove(staged)
        if isinstance(exc, OutputError):
            raise
        raise OutputError(f"{final}: cannot be written ({exc.strerror or exc})") from None


def write_order(out_dir: Path, order_id: str, files: Mapping[str, bytes],
                guard: Guard | None = None) -> list[dict]:
    """Write an order's files into ``out_dir/<order_id>/`` whole, or not at all: staged,
    then published. Returns ``{"path", "sha256", "bytes"}`` per file."""
    if guard is not None:
        guard.check()
    staged = staging_dir(out_dir, order_id)
    records = stage(staged, order_id, files)
    publish(out_dir, order_id, staged, records, guard)
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


class Guard:
    """The batch folder held open: :meth:`check` refuses to go on once the path no longer
    names the folder the batch opened (moved, or swapped for a symlink), so that nothing
    is written outside it."""

    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir)
        flags = os.O_RDONLY | getattr(os, "O_DIRECTORY", 0) | getattr(os, "O_NOFOLLOW", 0)
        try:
            self.fd = os.open(self.path, flags)
        except OSError as exc:
            raise OutputError(f"out = '{self.path}': not a folder that can be opened "
                              f"({exc.strerror or exc})") from None
        info = os.fstat(self.fd)
        self.identity = (info.st_dev, info.st_ino)

    def check(self) -> None:
        try:
            info = os.lstat(self.path)
            same = (info.st_dev, info.st_ino) == self.identity
        except OSError:
            same = False
        if not same:
            raise OutputError(f"out = '{self.path}': the folder was moved or replaced (a "
                              "symlink?) while the batch wrote into it; stopped, nothing is "
                              "written anywhere else")

    def close(self) -> None:
        os.close(self.fd)


@contextlib.contextmanager
def locked(out_dir: Path) -> Iterator[None]:
    """Hold ``DIR/.insolegen-batch.lock``: two batches never write into one folder; the
    lock file is removed when the batch ends, however it ends (short of a kill)."""
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
            if os.fstat(fd).st_ino != os.stat(out_dir / LOCK_NAME, follow_symlinks=False).st_ino:
                raise OSError("the lock file was removed by the batch that held it")
        except OSError:
            raise OutputError(f"out = '{out_dir}': another insolegen batch is writing into it; "
                              "wait for it to end or choose another folder") from None
        try:
            yield
        finally:  # removed while still held: a batch that waited on it sees it gone
            with contextlib.suppress(OSError):
                os.unlink(out_dir / LOCK_NAME)
    finally:
        os.close(fd)


def clean_stale(out_dir: Path) -> None:
    """Remove temporary files and folders a killed batch left (ids never start with '.');
    an order's earlier folder moved aside by a swap that a kill cut between its renames
    (``<staged>-old`` with no ``<order_id>``) is put back first."""
    for path in sorted(out_dir.iterdir()):
        name = path.name
        if name.startswith(TMP_MARK) and name.endswith(OLD_SUFFIX) and path.is_dir() \
                and not path.is_symlink():
            order_id = name[len(TMP_MARK) + 13:-len(OLD_SUFFIX)]
            final = out_dir / order_id
            if order_id and not final.exists() and not final.is_symlink() \
                    and _ours(path, order_id):
                log.info("putting back %s, moved aside by an interrupted batch", order_id)
                os.rename(path, final)
                continue
    for path in out_dir.iterdir():
        if path.name.startswith(TMP_MARK):
            log.info("removing %s, left by an interrupted batch", path.name)
            remove(path)
