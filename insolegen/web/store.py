"""The workbench's orders on disk: one folder each, written whole or not at all.

``DIR/orders/<record id>/`` holds the order's files exactly as
:func:`insolegen.pipeline.job.generate` writes them and ``record.json`` (the
fields as given, the ticket, the measured features). A folder is built under
``DIR/.tmp/`` and renamed into ``DIR/orders/`` in one step, so a killed
server leaves at most a temporary folder, which the next start removes.
Record ids are made by the server (time and random bits), never taken from a
request, so two browsers can never write into the same folder.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import time
from pathlib import Path

from insolegen.core.errors import InputError, shown
from insolegen.output.files import fsync_dir, json_text, prepare_dir, safe_id

RECORD = "record.json"
SCAN_SUFFIXES = (".stl", ".obj", ".ply", ".xyz")


class NotFound(LookupError):
    """No such order, file, scan or batch (404)."""


def new_id(prefix: str = "") -> str:
    """A fresh record id: UTC time to the second and 32 random bits."""
    return f"{prefix}{time.strftime('%Y%m%d-%H%M%S', time.gmtime())}-{secrets.token_hex(4)}"


def checked_id(record_id: object, what: str = "order") -> str:
    """``record_id`` if it is a safe folder name (see :func:`safe_id`), else InputError."""
    try:
        return safe_id(record_id)
    except InputError:
        raise InputError(f"{what} id = {shown(record_id)}: expected 1-128 letters, digits, "
                         "'.', '_' or '-'") from None


class Store:
    """Orders, uploaded scans and batches under one data folder ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = prepare_dir(Path(root)).resolve()
        self.orders = prepare_dir(self.root / "orders")
        self.scans = prepare_dir(self.root / "scans")
        self.batches = prepare_dir(self.root / "batches")
        self.tmp = prepare_dir(self.root / ".tmp")
        for stale in self.tmp.iterdir():  # left by a killed server: never finished
            shutil.rmtree(stale, ignore_errors=True) if stale.is_dir() else stale.unlink()

    def work_dir(self) -> Path:
        """A fresh private folder under ``.tmp`` to build something in."""
        path = self.tmp / secrets.token_hex(8)
        path.mkdir()
        return path

    def publish(self, work: Path, record_id: str, record: dict) -> Path:
        """Add ``record.json`` to the finished folder ``work`` and rename it into place."""
        (work / RECORD).write_text(json_text(record), encoding="utf-8")
        for path in work.iterdir():
            with open(path, "rb") as fh:
                os.fsync(fh.fileno())
        fsync_dir(work)
        final = self.orders / record_id
        os.rename(work, final)  # fails if it exists: never replaces an order
        fsync_dir(self.orders)
        return final

    def folder(self, record_id: object) -> Path:
        """The folder of an existing order; InputError (404) if there is none."""
        path = self.orders / checked_id(record_id)
        if not (path / RECORD).is_file():
            raise NotFound(f"order {record_id!r}: no such order")
        return path

    def record(self, record_id: object) -> dict:
        """The order's record (``record.json``)."""
        return json.loads((self.folder(record_id) / RECORD).read_text(encoding="utf-8"))

    def file(self, record_id: object, name: object) -> Path:
        """One file of an order, by its plain name as listed in the record."""
        folder = self.folder(record_id)
        files = self.record(record_id)["files"]
        if not isinstance(name, str) or name not in files:
            raise NotFound(f"file {name!r}: not a file of order {record_id!r}")
        return folder / name

    def find(self, patient_ref: str = "", limit: int = 200) -> list[dict]:
        """Summaries of the newest orders first, those whose patient reference contains
        ``patient_ref`` (case-insensitive) when it is given."""
        want = patient_ref.strip().lower()
        found = []
        for path in sorted(self.orders.iterdir(), reverse=True):
            try:
                rec = json.loads((path / RECORD).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue
            ref = str(rec.get("ticket", {}).get("patient_ref", ""))
            if want and want not in ref.lower():
                continue
            found.append({k: rec.get(k) for k in ("id", "order_id", "made_utc", "ticket")}
                         | {"conditions": rec.get("fields", {}).get("conditions")})
            if len(found) >= limit:
                break
        return found

    def save_scan(self, data: bytes, filename: str) -> str:
        """Keep an uploaded scan as ``scans/<sha256>.<ext>``; returns that name."""
        import hashlib
        suffix = Path(str(filename)).suffix.lower()
        if suffix not in SCAN_SUFFIXES:
            raise InputError(f"scan = {shown(filename)}: unsupported file type "
                             f"{suffix or '(none)'!r}; accepted: {', '.join(SCAN_SUFFIXES)}")
        name = hashlib.sha256(data).hexdigest()[:32] + suffix
        final = self.scans / name
        if not final.exists():
            tmp = self.tmp / f"{secrets.token_hex(8)}{suffix}"
            tmp.write_bytes(data)
            os.replace(tmp, final)
        return name

    def scan_path(self, name: object) -> Path:
        """The path of an uploaded scan by the name :meth:`save_scan` gave."""
        name = checked_id(name, "scan")
        path = self.scans / name
        if Path(name).suffix.lower() not in SCAN_SUFFIXES or not path.is_file():
            raise InputError(f"scan = {shown(name)}: no such uploaded scan; upload it first "
                             "(POST /api/scans)")
        return path
