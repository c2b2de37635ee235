"""Batches from the page: an uploaded orders file run by :func:`insolegen.batch.run.run_batch`
in a background thread, its progress and manifest readable while it runs.

``DIR/batches/<batch id>/`` holds the orders file as uploaded and the batch
folder ``out/`` (one folder per order and ``manifest.jsonl``, as ``insolegen
batch`` writes them). Scans named by an uploaded orders file must lie inside
the batch folder (``scan_root``): an order from a browser reads no other file.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path

from insolegen.core.errors import InputError, InsolegenError, shown
from insolegen.web.store import NotFound, Store, checked_id, new_id

log = logging.getLogger("insolegen.web")
ORDERS_SUFFIXES = (".csv", ".jsonl")


class Batches:
    """Batches started from the web, by id; each runs in its own thread."""

    def __init__(self, store: Store, workers: int = 0) -> None:
        self.store = store
        self.workers = workers
        self._lock = threading.Lock()
        self._state: dict[str, dict] = {}
        self._threads: dict[str, threading.Thread] = {}

    def start(self, data: bytes, filename: str) -> str:
        """Keep the orders file and start making it; returns the batch id."""
        suffix = Path(str(filename)).suffix.lower()
        if suffix not in ORDERS_SUFFIXES:
            raise InputError(f"orders = {shown(filename)}: expected a .csv file with a header "
                             "or a .jsonl file")
        batch_id = new_id("B")
        work = self.store.work_dir()
        (work / f"orders{suffix}").write_bytes(data)
        folder = self.store.batches / batch_id
        os.rename(work, folder)  # the batch folder appears with its whole orders file
        orders = folder / f"orders{suffix}"
        state = {"id": batch_id, "status": "running", "done": 0, "failed": 0, "skipped": 0,
                 "total": None, "error": None, "summary": None}
        with self._lock:
            self._state[batch_id] = state
        thread = threading.Thread(target=self._run, args=(batch_id, orders, folder),
                                  name=f"batch-{batch_id}", daemon=True)
        self._threads[batch_id] = thread
        thread.start()
        return batch_id

    def _run(self, batch_id: str, orders: Path, folder: Path) -> None:
        from insolegen.batch.run import run_batch
        state = self._state[batch_id]

        def on_result(result) -> None:
            with self._lock:
                key = result.status if result.status in ("done", "failed", "skipped") \
                    else "done"
                state[key] += 1
        try:
            result = run_batch(orders, folder / "out", workers=self.workers, scan_root=folder,
                               keep_results=False, on_result=on_result)
            with self._lock:
                state.update(status="finished", total=result.total, summary=result.summary())
        except InsolegenError as exc:
            with self._lock:
                state.update(status="failed", error=str(exc))
        except Exception as exc:  # a bug: reported on the page, logged in full
            log.exception("batch %s", batch_id)
            with self._lock:
                state.update(status="failed", error=f"internal error: {type(exc).__name__}: {exc}")

    def wait(self, batch_id: str, timeout: float | None = None) -> None:
        """Block until the batch's thread ends (tests, shutdown)."""
        self._threads[checked_id(batch_id, "batch")].join(timeout)

    def status(self, batch_id: object) -> dict:
        """Progress and the manifest's entries so far."""
        batch_id = checked_id(batch_id, "batch")
        folder = self.store.batches / batch_id
        if not folder.is_dir():
            raise NotFound(f"batch {batch_id!r}: no such batch")
        with self._lock:
            state = dict(self._state.get(batch_id) or {
                "id": batch_id, "status": "not running (started by an earlier server)",
                "done": 0, "failed": 0, "skipped": 0, "total": None, "error": None})
        entries = []
        manifest = folder / "out" / "manifest.jsonl"
        if manifest.is_file():
            for line in manifest.read_text(encoding="utf-8").splitlines():
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue  # the line being appended
                files = [Path(str(f.get("path", ""))).name for f in entry.get("files") or []]
                entries.append({k: entry.get(k) for k in
                                ("order_id", "line", "status", "reason", "error")}
                               | {"files": files})
        latest = {e["order_id"]: e for e in entries}  # a rewritten manifest repeats nothing
        state["orders"] = list(latest.values())
        return state

    def file(self, batch_id: object, order_id: object, name: object) -> Path:
        """A file of a finished order of the batch."""
        batch_id = checked_id(batch_id, "batch")
        order_id = checked_id(order_id)
        name = checked_id(name, "file")
        path = self.store.batches / batch_id / "out" / order_id / name
        if not path.is_file() or path.name.startswith("."):
            raise NotFound(f"file {name!r}: not a file of order {order_id!r} in batch {batch_id!r}")
        return path
