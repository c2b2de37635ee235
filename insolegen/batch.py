"""Batch jobs for order systems: an orders file in, one folder per order and a manifest out.

Stages, in order: read the orders (CSV or JSON Lines, :func:`read_orders`);
validate every one of them before any work starts (:func:`validate`); plan
(skip what an earlier run finished with intact files); make (a process pool,
or a Dask cluster); write; record each result in ``DIR/manifest.jsonl``.

Workers never write. They return the bytes of an order's files
(:func:`insolegen.pipeline.render`) and this process writes them, each order's
folder built under a temporary name and renamed into place whole. So one code
path serves a process pool, a local Dask cluster and a remote one without
shared storage; a killed batch leaves no worker writing behind it; and every
backend writes the same bytes.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import difflib
import hashlib
import io
import json
import logging
import os
import re
import secrets
import shutil
import socket
import tempfile
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from insolegen import __version__
from insolegen.errors import InputError, InsolegenError, OutputError, ScanError, shown
from insolegen.export import TMP_MARK, prepare_dir, safe_id
from insolegen.order import KNOWN_FIELDS, Order, order_from_mapping
from insolegen.parameters import lookup

log = logging.getLogger("insolegen.batch")

MANIFEST_NAME = "manifest.jsonl"
LOCK_NAME = ".insolegen-batch.lock"
RESERVED_IDS = frozenset({MANIFEST_NAME})  # names in DIR an order folder must not take
STATUSES = ("done", "failed", "skipped")
DETERMINISTIC_PREFIXES = ("invalid ", "unusable scan")  # same input, same failure: not retried
JSONL_SUFFIXES = (".jsonl", ".ndjson", ".json")
CONNECT_TIMEOUT_S = 20.0
WORKERS_TIMEOUT_S = 60.0
SHOWN_FAILURES = 20
_FIELD = re.compile(r"^(?:--set |set\.)?'?([A-Za-z_][\w.]*(?: / [A-Za-z_]\w*)*)'?(?:\s*=|:)")


# ---------------------------------------------------------------- reading


@dataclass(frozen=True)
class Row:
    """One order as read: its line in the file, its fields, or why the line cannot be read."""

    line: int
    fields: dict
    error: str | None = None


def read_orders(path: Path) -> list[Row]:
    """Read a CSV or JSON Lines orders file into rows (not yet validated).

    CSV needs a header naming the columns; JSON Lines holds one object per
    line. Raises :class:`InputError` if the file as a whole is unusable
    (unreadable, not text, no header, unknown columns); a bad line only
    makes a bad row.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(f"orders = '{path}': cannot be read ({exc.strerror or exc})") from None
    try:
        if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
            text = raw.decode("utf-16")
        else:
            text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"orders = '{path}': not UTF-8 text (bad byte at offset {exc.start}); "
                         "save it as UTF-8 CSV or JSON Lines") from None
    start = text.lstrip()[:1]
    if path.suffix.lower() in JSONL_SUFFIXES or (path.suffix.lower() != ".csv" and start == "{"):
        if start == "[":
            raise InputError(f"orders = '{path}': a JSON array; expected JSON Lines, one order "
                             "object per line")
        return _read_jsonl(text, path)
    return _read_csv(text, path)


def _read_jsonl(text: str, path: Path) -> list[Row]:
    rows = []
    for number, line in enumerate(text.split("\n"), start=1):
        if not line.strip():
            continue
        try:
            data = json.loads(line)
        except json.JSONDecodeError as exc:
            rows.append(Row(number, {}, f"line {number}: not valid JSON ({exc.msg}, column "
                                        f"{exc.colno})"))
            continue
        except (ValueError, RecursionError) as exc:  # a 5000-digit number, [[[[...]]]]
            rows.append(Row(number, {}, f"line {number}: not usable JSON "
                                        f"({type(exc).__name__}: {str(exc)[:80]})"))
            continue
        if not isinstance(data, dict):
            rows.append(Row(number, {}, f"line {number}: expected a JSON object, got "
                                        f"{type(data).__name__}"))
            continue
        rows.append(Row(number, data))
    if rows and all(r.error for r in rows):
        raise InputError(f"orders = '{path}': not JSON Lines (no line is a JSON object; "
                         f"{rows[0].error})")
    return rows


def _check_header(cells: list[str], path: Path, line: int) -> list[str | None]:
    if "order_id" not in (c.strip().lower() for c in cells):
        raise InputError(f"orders = '{path}' line {line}: no 'order_id' column; the first line "
                         "must be a header naming the columns (order_id, side, conditions, ...)")
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
        elif name not in KNOWN_FIELDS or name == "set":
            close = difflib.get_close_matches(name, KNOWN_FIELDS, n=1)
            hint = f"did you mean {close[0]!r}?" if close else \
                f"known: {', '.join(f for f in KNOWN_FIELDS if f != 'set')}, set.<parameter>"
            raise InputError(f"{where}: unknown; {hint}")
        if name in names:
            raise InputError(f"{where}: given twice")
        names.append(name)
    return names


def _read_csv(text: str, path: Path) -> list[Row]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header: list[str | None] | None = None
    rows: list[Row] = []
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
            rows.append(Row(line, fields, error))
    except csv.Error as exc:
        raise InputError(f"orders = '{path}' line {reader.line_num}: not readable CSV ({exc})") \
            from None
    if header is None:
        raise InputError(f"orders = '{path}': empty; expected a header line naming the columns "
                         "(order_id, side, conditions, ...) and one order per line")
    return rows


# ---------------------------------------------------------------- validating


@dataclass(frozen=True)
class Job:
    """A validated order, ready for a worker, with the fingerprint of its input."""

    line: int
    order: Order
    fingerprint: str
    scan_sha256: str | None
    parameters_sha256: str

    @property
    def insoles(self) -> int:
        return len(self.order.sides)


@dataclass(frozen=True)
class OrderResult:
    """What happened to one order: one line of ``manifest.jsonl``.

    ``files`` are ``{"path", "sha256", "bytes"}`` with ``path`` relative to the
    batch folder; ``status`` is done, failed or skipped (``pending`` only in a
    dry run, never in the manifest).
    """

    order_id: str | None
    line: int | None
    status: str
    error: str | None = None
    reason: str | None = None
    files: tuple[dict, ...] = ()
    fingerprint: str | None = None
    scan_sha256: str | None = None
    insoles: int = 0
    timings: dict = field(default_factory=dict)
    worker: str | None = None
    finished_at: str | None = None
    note: str | None = None
    insolegen_version: str = __version__

    def to_json(self) -> dict:
        """The manifest line as a dict."""
        data = dataclasses.asdict(self)
        data["files"] = list(self.files)
        return data

    @classmethod
    def from_json(cls, data: dict) -> OrderResult:
        """Read a manifest line back; unknown keys are ignored."""
        names = {f.name for f in dataclasses.fields(cls)}
        kept = {k: v for k, v in data.items() if k in names}
        kept["files"] = tuple(kept.get("files") or ())
        kept["timings"] = dict(kept.get("timings") or {})
        return cls(**kept)


class _UnreadableRow(InputError):
    """A line of the orders file that is not an order at all."""


class _DuplicateId(InputError):
    """An order id already used by an earlier line."""


class _ScanChanged(InsolegenError):
    """A scan file that changed (or went) between validation and making."""


def _shown_id(value: object) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else repr(value)
    return text[:200]


def _reason(exc: BaseException, validating: bool) -> str:
    """A short, countable category for a failure (the manifest's ``reason``)."""
    if isinstance(exc, OutputError):
        return "cannot write output"
    if isinstance(exc, ScanError) and not validating:
        return "unusable scan"
    if isinstance(exc, _UnreadableRow):
        return "unreadable line"
    if isinstance(exc, _DuplicateId):
        return "duplicate order_id"
    if isinstance(exc, _ScanChanged):
        return "scan changed"
    if isinstance(exc, InputError):
        text = str(exc)
        if "unknown parameter" in text:
            return "invalid override"
        if "unknown order field" in text:
            return "invalid field"
        match = _FIELD.match(text)
        return f"invalid {match.group(1)}" if match else "invalid order"
    if isinstance(exc, InsolegenError):
        return "self-check failed" if str(exc).startswith("internal error") else "error"
    return "internal error"


def _sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _canonical(data: object) -> bytes:
    return json.dumps(data, sort_keys=True, separators=(",", ":"), default=str,
                      ensure_ascii=True).encode("ascii")


def parameters_sha256(parameters: Mapping) -> str:
    """Hash of a resolved prescription's parameters (profiles + overrides)."""
    return hashlib.sha256(_canonical(dict(parameters))).hexdigest()


def fingerprint(order: Order, scan_sha256: str | None, parameters: Mapping) -> str:
    """The input fingerprint: the validated order, its scan's bytes, the parameters it
    resolves to and the insolegen version, hashed.

    The scan enters by its SHA-256 and file name, not its folder, so moving a
    batch's folders does not make done orders look new.
    """
    data = order.to_json()
    if order.scan is not None:
        data["scan"] = {"name": Path(order.scan).name, "sha256": scan_sha256}
    blob = {"insolegen_version": __version__, "order": data, "parameters": dict(parameters)}
    return "sha256:" + hashlib.sha256(_canonical(blob)).hexdigest()


def _check_scan_root(order: Order, raw: object, scan_root: Path) -> None:
    real = Path(os.path.realpath(order.scan))
    if not real.is_relative_to(scan_root):
        raise InputError(f"scan = {shown(raw)}: outside the scan root '{scan_root}' (it is "
                         f"{shown(str(real))}); only scans under the root are read")


def validate(rows: Iterable[Row], base_dir: Path | None, source: str = "orders",
             scan_root: Path | None = None) -> tuple[list[Job], list[OrderResult]]:
    """Check every row; return the jobs to make and a failed result per invalid row.

    Ids are compared without regard to case (``A1`` and ``a1`` would share a
    folder on a case-insensitive disk); a repeated id is an error for every
    row after the first. With ``scan_root``, a scan whose real path (symlinks
    resolved) is outside it is refused.
    """
    from insolegen.profiles import prescribe

    root = Path(os.path.realpath(scan_root)) if scan_root is not None else None

    jobs: list[Job] = []
    failures: list[OrderResult] = []
    first_line: dict[str, int] = {}
    scan_hashes: dict[str, str] = {}
    for row in rows:
        raw_id = row.fields.get("order_id")
        try:
            if row.error:
                raise _UnreadableRow(row.error)
            order_id = safe_id(raw_id)
            if order_id.casefold() in RESERVED_IDS:
                raise InputError(f"order_id = {order_id!r}: reserved for the batch's own "
                                 "files; choose another id")
            if order_id.casefold() in first_line:
                raise _DuplicateId(f"order_id = {order_id!r}: duplicate of the order on line "
                                   f"{first_line[order_id.casefold()]}")
            first_line[order_id.casefold()] = row.line
            order = order_from_mapping(row.fields, base_dir)
            scan_sha = None
            if order.scan is not None:
                if root is not None:
                    _check_scan_root(order, row.fields.get("scan"), root)
                if order.scan not in scan_hashes:
                    try:
                        scan_hashes[order.scan] = _sha256_file(Path(order.scan))
                    except OSError as exc:
                        raise InputError(f"scan = {shown(order.scan)}: cannot be read "
                                         f"({exc.strerror or exc})") from None
                scan_sha = scan_hashes[order.scan]
            params = prescribe(order.conditions, order.overrides).parameters
            jobs.append(Job(row.line, order, fingerprint(order, scan_sha, params), scan_sha,
                            parameters_sha256(params)))
        except Exception as exc:  # noqa: BLE001 - one bad order fails alone, whatever it is
            reason = _reason(exc, validating=True)
            message = str(exc) if isinstance(exc, InsolegenError) else \
                f"internal error: {type(exc).__name__}: {exc}"
            if not isinstance(exc, InsolegenError):
                log.debug("validating line %d", row.line, exc_info=True)
            log.warning("%s line %d: invalid order: %s", source, row.line, message)
            failures.append(OrderResult(_shown_id(raw_id), row.line, "failed", message, reason,
                                        finished_at=_now()))
    return jobs, failures


# ---------------------------------------------------------------- making (in workers)


@dataclass(frozen=True)
class WorkItem:
    """What a worker gets: the job, and the scan's bytes when the worker may not see the file."""

    job: Job
    scan_bytes: bytes | None = None


@dataclass(frozen=True)
class WorkOutput:
    """What a worker returns: the files' bytes by name, or why there are none."""

    files: dict[str, bytes] | None
    error: str | None = None
    reason: str | None = None
    timings: dict = field(default_factory=dict)
    worker: str | None = None


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _worker_version() -> str:
    return __version__


def _scan_foot(item: WorkItem):
    """The order's foot from its scan: the file itself if this machine sees it unchanged,
    else a private copy of the bytes the client sent."""
    from insolegen.pipeline import foot_for

    order = item.job.order
    path = Path(order.scan)
    try:
        same = path.is_file() and _sha256_file(path) == item.job.scan_sha256
    except OSError:
        same = False
    if same:
        return foot_for(order)
    if item.scan_bytes is None:
        raise _ScanChanged(f"scan = {shown(str(path))}: changed or gone since the batch was "
                           "validated")
    with tempfile.TemporaryDirectory(prefix="insolegen-scan-") as folder:
        copy = Path(folder) / path.name
        copy.write_bytes(item.scan_bytes)
        return foot_for(dataclasses.replace(order, scan=str(copy)))


def make(item: WorkItem) -> WorkOutput:
    """Make one order's files in memory (runs in a worker; never raises, never writes)."""
    from insolegen.pipeline import render

    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        foot = _scan_foot(item) if item.job.order.scan is not None else None
        t1 = time.perf_counter()
        rendered = render(item.job.order, foot)
        if parameters_sha256(rendered.design.prescription.parameters) != \
                item.job.parameters_sha256:
            return WorkOutput(None, f"worker {_worker_name()}: its condition profiles differ "
                              "from the client's (check INSOLEGEN_PROFILES and the versions)",
                              "profiles differ on worker", worker=_worker_name())
        timings = {"scan_s": t1 - t0, **rendered.timings,
                   "compute_s": time.perf_counter() - t0, "cpu_s": time.process_time() - cpu0}
        return WorkOutput(rendered.files, timings=timings, worker=_worker_name())
    except Exception as exc:  # noqa: BLE001 - reported per order; a worker must not die of it
        if isinstance(exc, InsolegenError):
            message = str(exc)
        else:
            log.exception("order %s", item.job.order.order_id)
            message = f"internal error: {type(exc).__name__}: {exc}"
        return WorkOutput(None, message, _reason(exc, validating=False),
                          {"compute_s": time.perf_counter() - t0}, _worker_name())


def _lost(message: str) -> WorkOutput:
    return WorkOutput(None, message, "worker lost")


# ---------------------------------------------------------------- backends


Backend = Callable[[list[Job]], Iterator[tuple[Job, WorkOutput]]]


def _load(job: Job, ship_scan: bool) -> WorkItem | WorkOutput:
    """The work item for ``job``; its scan's bytes when shipped, checked against validation."""
    if not ship_scan or job.order.scan is None:
        return WorkItem(job)
    try:
        data = Path(job.order.scan).read_bytes()
    except OSError as exc:
        return WorkOutput(None, f"scan = {shown(job.order.scan)}: cannot be read "
                          f"({exc.strerror or exc})", "scan changed")
    if hashlib.sha256(data).hexdigest() != job.scan_sha256:
        return WorkOutput(None, f"scan = {shown(job.order.scan)}: changed since the batch was "
                          "validated", "scan changed")
    return WorkItem(job, data)


def _run_inline(jobs: list[Job]) -> Iterator[tuple[Job, WorkOutput]]:
    for job in jobs:
        item = _load(job, ship_scan=False)
        yield job, make(item) if isinstance(item, WorkItem) else item


def _watch_parent(parent: int) -> None:
    while True:
        if os.getppid() != parent:  # the batch was killed: stop, do not linger
            os._exit(1)
        time.sleep(0.5)


def _init_worker(parent: int) -> None:
    """Pool worker start: Ctrl-C is the parent's business; die with the parent."""
    import signal
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()


def _new_pool(workers: int) -> ProcessPoolExecutor:
    """A started pool, proven able to run a task (else the batch stops: no order is at fault).

    Workers are spawned, not forked: the parent may run threads (a progress
    bar), which fork does not mix with. As with any spawned pool, a script
    calling :func:`run_batch` must do so under ``if __name__ == "__main__":``.
    """
    import multiprocessing
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(os.getpid(),))
    try:
        pool.submit(_worker_version).result()
    except BrokenProcessPool:
        pool.shutdown(wait=False, cancel_futures=True)
        raise InsolegenError("internal error: the batch's worker processes cannot start (run "
                             "from a script? call run_batch under if __name__ == '__main__')") \
            from None
    return pool


def _run_pool(jobs: list[Job], workers: int) -> Iterator[tuple[Job, WorkOutput]]:
    """Make jobs in a process pool, a window of 2 per worker in flight.

    If a worker process dies (a crash, the OOM killer), the pool breaks and
    every order then in flight becomes a suspect; suspects are redone one at a
    time in a fresh pool, so only the order that kills a worker fails.
    """
    queue, suspects = deque(jobs), deque()
    inflight: dict[Future, tuple[Job, bool]] = {}
    pool: ProcessPoolExecutor | None = None
    broken = False
    try:
        while queue or suspects or inflight:
            if not inflight and (pool is None or broken):
                if pool is not None:
                    pool.shutdown(wait=False, cancel_futures=True)
                pool, broken = _new_pool(workers), False
            if not broken and not any(solo for _, solo in inflight.values()):
                batch = []
                if queue:
                    while queue and len(inflight) + len(batch) < 2 * workers:
                        batch.append((queue.popleft(), False))
                elif suspects and not inflight:
                    batch.append((suspects.popleft(), True))
                for job, solo in batch:
                    try:
                        inflight[pool.submit(make, WorkItem(job))] = (job, solo)
                    except BrokenProcessPool:
                        broken = True
                        (suspects if solo else queue).appendleft(job)
            if not inflight:
                continue
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            for future in done:
                job, solo = inflight.pop(future)
                try:
                    output = future.result()
                except BrokenProcessPool:
                    if not broken:
                        log.warning("a worker process died; the orders it may have been making "
                                    "are redone one at a time")
                    broken = True
                    if solo:
                        yield job, _lost("the worker process died making this order")
                    else:
                        suspects.append(job)
                    continue
                yield job, output
    finally:
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


@contextlib.contextmanager
def dask_client(scheduler: str) -> Iterator:
    """A client of the Dask scheduler at ``scheduler``, checked to have usable workers
    running this insolegen version; :class:`InputError` if not."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError(f"scheduler = {scheduler!r}: needs dask.distributed; install it with "
                         "pip install 'insolegen[dask]'") from None
    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError, TypeError) as exc:
        reason = str(exc) or type(exc).__name__
        raise InputError(f"scheduler = {scheduler!r}: cannot connect ({reason}); "
                         "expected the address of a running Dask scheduler, "
                         "e.g. tcp://10.0.0.5:8786") from None
    try:
        try:
            client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_S)
            versions = client.run(_worker_version)
        except Exception as exc:  # noqa: BLE001 - any failure here means the cluster is unusable
            raise InputError(f"scheduler = {scheduler!r}: no usable workers "
                             f"({type(exc).__name__}: {exc}); they need insolegen "
                             f"{__version__} installed") from None
        wrong = {w: v for w, v in versions.items() if v != __version__}
        if wrong:
            raise InputError(f"scheduler = {scheduler!r}: workers run other insolegen versions "
                             f"({wrong}); this client runs {__version__}")
        yield client
    finally:
        client.close()


def _run_dask(jobs: list[Job], client) -> Iterator[tuple[Job, WorkOutput]]:
    """Make jobs on a Dask distributed cluster; results (bytes) come back to this process.

    Scans travel with their job, so workers need no shared storage at all.
    """
    from distributed import as_completed

    window = 2 * max(1, sum(client.nthreads().values()))
    queue = deque(jobs)
    pending: dict[str, tuple[Job, object]] = {}  # task key: (job, future)
    running = as_completed(loop=client.loop)

    def submit() -> Iterator[tuple[Job, WorkOutput]]:
        while queue and len(pending) < window:
            job = queue.popleft()
            item = _load(job, ship_scan=True)
            if isinstance(item, WorkOutput):
                yield job, item
                continue
            key = f"insolegen-{job.order.order_id}-{secrets.token_hex(4)}"
            future = client.submit(make, item, key=key, pure=False)
            pending[future.key] = (job, future)
            running.add(future)

    try:
        yield from submit()
        for future in running:
            job, _ = pending.pop(future.key)
            try:
                output = future.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, lost connection, ...
                output = _lost(f"the Dask task failed: {type(exc).__name__}: {exc}")
            future.release()
            yield job, output
            yield from submit()
    finally:
        if pending:  # the batch is ending early: its queued work is not wanted
            client.cancel([future for _, future in pending.values()])


# ---------------------------------------------------------------- writing (this process)


def _fsync_dir(path: Path) -> None:
    if os.name != "posix":
        return
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path, ignore_errors=True)


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


def write_order(out_dir: Path, order_id: str, files: Mapping[str, bytes]) -> list[dict]:
    """Write an order's files into ``out_dir/<order_id>/`` whole, or not at all.

    The folder is built under a temporary name, every file synced, then
    renamed into place; an earlier folder of the same order is swapped out
    and removed. Returns ``{"path", "sha256", "bytes"}`` per file.
    """
    for name in files:
        if Path(name).name != name or name.startswith(".") or not name.startswith(order_id):
            raise OutputError(f"file name {name!r} from a worker: not a file name for order "
                              f"{order_id!r}")
    final = out_dir / order_id
    if (final.exists() or final.is_symlink()) and not _ours(final, order_id):
        raise OutputError(f"{final}: exists and is not an insolegen order folder; refusing to "
                          "replace it (move it away or choose another --out)")
    token = secrets.token_hex(6)
    tmp = out_dir / f"{TMP_MARK}{token}-{order_id}"
    old = out_dir / f"{TMP_MARK}{token}-old-{order_id}"
    records = []
    try:
        tmp.mkdir()
        for name, data in files.items():
            with open(tmp / name, "xb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
            records.append({"path": f"{order_id}/{name}",
                            "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)})
        _fsync_dir(tmp)
        replaced = final.exists() or final.is_symlink()
        if replaced:
            os.rename(final, old)
        try:
            os.rename(tmp, final)
        except OSError:
            if replaced:
                os.rename(old, final)
            raise
        _fsync_dir(out_dir)
    except OSError as exc:
        _remove(tmp)
        raise OutputError(f"{final}: cannot be written ({exc.strerror or exc})") from None
    if replaced:
        _remove(old)
    return records


def _intact(out_dir: Path, entry: OrderResult) -> bool:
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
                    or _sha256_file(path) != record["sha256"]:
                return False
        except (KeyError, TypeError, ValueError, OSError):
            return False
    return True


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Manifest:
    """``DIR/manifest.jsonl``: appended to as orders finish, rewritten whole at the end.

    While a batch runs, a newer line for an order may follow an older one:
    the last line with a fingerprint wins. At the end the file is rewritten
    (temporary name, then rename) to one line per order.
    """

    def __init__(self, out_dir: Path) -> None:
        self.path = out_dir / MANIFEST_NAME
        self.previous: dict[str, OrderResult] = {}
        self.order: list[str] = []
        self._cut_short = False
        if self.path.is_symlink() or (self.path.exists() and not self.path.is_file()):
            raise OutputError(f"{self.path}: exists and is not a regular file")
        if self.path.exists():
            self._read()

    def _read(self) -> None:
        text = self.path.read_text(encoding="utf-8", errors="replace")
        for number, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
                if not isinstance(data, dict):
                    raise ValueError(f"a JSON {type(data).__name__}, not an object")
                entry = OrderResult.from_json(data)
            except (ValueError, TypeError, RecursionError) as exc:
                log.warning("%s line %d: ignored, not a manifest entry (%s)", self.path, number,
                            exc)
                continue
            if isinstance(entry.order_id, str) and entry.fingerprint \
                    and entry.status in STATUSES:
                if entry.order_id not in self.previous:
                    self.order.append(entry.order_id)
                self.previous[entry.order_id] = entry
        self._cut_short = bool(text) and not text.endswith("\n")

    def _open(self):
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        return os.fdopen(os.open(self.path, flags, 0o644), "a", encoding="utf-8")

    def append(self, entries: Iterable[OrderResult]) -> None:
        """Add lines now, synced, so a kill loses no finished order."""
        with self._open() as fh:
            if self._cut_short:  # a line a kill cut short: end it before adding ours
                fh.write("\n")
                self._cut_short = False
            for entry in entries:
                fh.write(json.dumps(entry.to_json(), ensure_ascii=True) + "\n")
            fh.flush()
            os.fsync(fh.fileno())

    def rewrite(self, results: list[OrderResult]) -> None:
        """One line per order: this run's, then earlier runs' orders not in this run."""
        seen = {r.order_id.casefold() for r in results if isinstance(r.order_id, str)}
        kept = [self.previous[i] for i in self.order if i.casefold() not in seen]
        tmp = self.path.with_name(f"{TMP_MARK}{secrets.token_hex(6)}-{MANIFEST_NAME}")
        try:
            with open(tmp, "x", encoding="utf-8") as fh:
                for entry in [*results, *kept]:
                    fh.write(json.dumps(entry.to_json(), ensure_ascii=True) + "\n")
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except OSError as exc:
            tmp.unlink(missing_ok=True)
            raise OutputError(f"{self.path}: cannot be written ({exc.strerror or exc})") from None


@contextlib.contextmanager
def _locked(out_dir: Path) -> Iterator[None]:
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


def _clean_stale(out_dir: Path) -> None:
    """Remove temporary files and folders a killed batch left (ids never start with '.')."""
    for path in out_dir.iterdir():
        if path.name.startswith(TMP_MARK):
            log.info("removing %s, left by an interrupted batch", path.name)
            _remove(path)


# ---------------------------------------------------------------- progress


class _LogProgress:
    """One plain log line per order (for logs and pipes)."""

    def __init__(self, total: int) -> None:
        self.total, self.count = total, 0

    def advance(self, result: OrderResult, quiet: bool = False) -> None:
        self.count += 1
        if quiet:  # invalid ones were logged at validation; skipped ones are counted at the end
            return
        if result.status == "failed":
            log.warning("[%d/%d] %s failed (line %s): %s", self.count, self.total,
                        result.order_id, result.line, result.error)
        else:
            log.info("[%d/%d] %s %s", self.count, self.total, result.order_id, result.status)

    def close(self) -> None:
        pass


class _RichProgress:
    """A progress bar on the terminal (stderr)."""

    def __init__(self, total: int) -> None:
        from rich.console import Console
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                                   TimeElapsedColumn, TimeRemainingColumn)
        self.counts: Counter = Counter()
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TimeRemainingColumn(),
                            console=Console(stderr=True), transient=False)
        self.task = self.bar.add_task("batch", total=total)
        self.bar.start()

    def advance(self, result: OrderResult, quiet: bool = False) -> None:
        self.counts[result.status] += 1
        text = ", ".join(f"{self.counts[s]} {s}" for s in STATUSES if self.counts[s])
        self.bar.update(self.task, advance=1, description=f"batch: {text}")

    def close(self) -> None:
        self.bar.stop()


# ---------------------------------------------------------------- the batch


@dataclass(frozen=True)
class BatchResult:
    """Every order's result (in file order) and how the batch went."""

    orders: tuple[OrderResult, ...]
    out_dir: Path
    elapsed_s: float
    backend: str
    source: str = "orders"
    dry_run: bool = False

    @property
    def manifest(self) -> Path:
        return self.out_dir / MANIFEST_NAME

    @property
    def counts(self) -> dict[str, int]:
        """Orders by status: done, failed, skipped (and pending in a dry run)."""
        counts = Counter(r.status for r in self.orders)
        return {s: counts[s] for s in (*STATUSES, "pending") if counts[s] or s in STATUSES}

    @property
    def failures_by_reason(self) -> dict[str, int]:
        return dict(Counter(r.reason or "unknown" for r in self.orders
                            if r.status == "failed").most_common())

    @property
    def insoles_made(self) -> int:
        return sum(r.insoles for r in self.orders if r.status == "done")

    @property
    def insoles_per_s(self) -> float:
        return self.insoles_made / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """0 when no order failed, 3 when some did."""
        return 3 if any(r.status == "failed" for r in self.orders) else 0

    def summary(self) -> str:
        """A few lines for a person: counts, throughput, failures by reason."""
        if self.dry_run:
            c = Counter(r.status for r in self.orders)
            counts = f"{c['pending']} to make, {c['skipped']} to skip, {c['failed']} failed"
        else:
            counts = ", ".join(f"{n} {s}" for s, n in self.counts.items())
        lines = [f"{'dry run: ' if self.dry_run else ''}{len(self.orders)} orders from "
                 f"{self.source}: {counts}"]
        if not self.dry_run and self.insoles_made:
            lines.append(f"{self.insoles_made} insoles in {self.elapsed_s:.1f} s: "
                         f"{self.insoles_per_s:.1f} insoles/s ({self.backend})")
        elif not self.dry_run:
            lines.append(f"nothing to make; {self.elapsed_s:.1f} s")
        if self.failures_by_reason:
            lines.append("failures by reason:")
            lines += [f"  {n:5d}  {reason}" for reason, n in self.failures_by_reason.items()]
            failed = [r for r in self.orders if r.status == "failed"]
            lines.append("failed orders:")
            for r in failed[:SHOWN_FAILURES]:
                lines.append(f"  line {r.line}: {r.error}")
            if len(failed) > SHOWN_FAILURES:
                lines.append(f"  ... and {len(failed) - SHOWN_FAILURES} more (see the manifest)")
        if not self.dry_run:
            lines.append(f"manifest: {self.manifest}")
        return "\n".join(lines)


def _rows(orders: Path | str | Iterable[Mapping], base_dir: Path | None
          ) -> tuple[list[Row], Path, str]:
    if isinstance(orders, (str, os.PathLike)):
        path = Path(orders)
        return read_orders(path), Path(base_dir) if base_dir else path.resolve().parent, path.name
    rows = [Row(n, dict(o)) if isinstance(o, Mapping) else
            Row(n, {}, f"order {n}: expected a mapping of field to value, got {type(o).__name__}")
            for n, o in enumerate(orders, start=1)]
    return rows, Path(base_dir) if base_dir else Path.cwd(), "the given orders"


def _plan(jobs: list[Job], previous: Mapping[str, OrderResult], out_dir: Path,
          retry_failed: bool) -> tuple[list[Job], list[OrderResult]]:
    """Split jobs into those to make and results carried over from an earlier run."""
    todo, carried = [], []
    for job in jobs:
        prev = previous.get(job.order.order_id)
        if prev is not None and prev.fingerprint == job.fingerprint:
            if prev.status in ("done", "skipped") and _intact(out_dir, prev):
                carried.append(dataclasses.replace(
                    prev, line=job.line, status="skipped", error=None, reason=None,
                    timings={}, finished_at=_now(),
                    note="done earlier with the same input; files intact"))
                continue
            if prev.status == "failed" and not retry_failed and prev.reason \
                    and prev.reason.startswith(DETERMINISTIC_PREFIXES):
                carried.append(dataclasses.replace(
                    prev, line=job.line, timings={}, finished_at=_now(),
                    note="failed earlier with the same input; not retried (--retry-failed "
                         "retries it)"))
                continue
        todo.append(job)
    return todo, carried


def _result(out_dir: Path, job: Job, output: WorkOutput) -> OrderResult:
    timings = {k: round(v, 4) for k, v in output.timings.items()}
    base = OrderResult(job.order.order_id, job.line, "failed", fingerprint=job.fingerprint,
                       scan_sha256=job.scan_sha256, worker=output.worker)
    if output.files is None:
        return dataclasses.replace(base, error=output.error, reason=output.reason,
                                   timings=timings, finished_at=_now())
    t0 = time.perf_counter()
    try:
        records = write_order(out_dir, job.order.order_id, output.files)
    except InsolegenError as exc:
        return dataclasses.replace(base, error=str(exc), reason=_reason(exc, False),
                                   timings=timings, finished_at=_now())
    t1 = time.perf_counter()
    timings["write_s"] = round(t1 - t0, 4)
    return dataclasses.replace(base, status="done", files=tuple(records), insoles=job.insoles,
                               timings=timings, finished_at=_now())


def _check_backend(workers: object, scheduler: object) -> None:
    if scheduler is not None:
        if workers is not None:
            raise InputError("workers: a Dask cluster has its own workers; give --workers or "
                             "--scheduler, not both")
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise InputError(f"scheduler = {scheduler!r}: expected an address like "
                             "tcp://HOST:8786")
    elif workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                  or workers < 0):
        raise InputError(f"workers = {workers!r}: expected a number of processes, 1 or more "
                         "(0: in this process)")


def _backend(workers: int | None, client, n_jobs: int) -> tuple[Backend, str]:
    """The runner for the jobs and a label for the summary (arguments already checked)."""
    if client is not None:
        return (lambda jobs: _run_dask(jobs, client)), f"dask {client.scheduler.address}"
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
    if workers == 0:
        return _run_inline, "in process"
    workers = max(1, min(workers, n_jobs))
    return (lambda jobs: _run_pool(jobs, workers)), \
        f"process pool, {workers} worker{'s' if workers > 1 else ''}"


def run_batch(orders: Path | str | Iterable[Mapping], out_dir: Path | str, *,
              workers: int | None = None, scheduler: str | None = None,
              retry_failed: bool = False, dry_run: bool = False,
              base_dir: Path | None = None, scan_root: Path | None = None,
              progress: bool = False,
              on_result: Callable[[OrderResult], None] | None = None) -> BatchResult:
    """Make every order into ``out_dir/<order_id>/`` and record it in ``out_dir/manifest.jsonl``.

    Parameters
    ----------
    orders
        A CSV / JSON Lines file, or mappings of field to value (one per order).
    out_dir
        The batch folder; created if needed. Nothing is written outside it.
    workers
        Processes in the pool (default: the usable cores; 0: in this process).
    scheduler
        Address of a Dask distributed scheduler (``tcp://HOST:PORT``) to use instead.
    retry_failed
        Retry orders that failed earlier with exactly the same input.
    dry_run
        Validate and plan only; write nothing.
    base_dir
        Folder that relative scan paths resolve against (default: the orders
        file's folder, or the working folder for mappings).
    scan_root
        If given, scans whose real path is outside this folder are refused
        (orders from an untrusted source must not read any file they name).
    progress
        A progress bar on stderr (rich) instead of a log line per order.
    on_result
        Called with each order's result as it is recorded.

    Invalid orders fail alone (reported with their line); the valid ones are
    made. Raises :class:`InputError` only when the orders file itself, the
    output folder or the scheduler is unusable.
    """
    t0 = time.perf_counter()
    _check_backend(workers, scheduler)
    rows, base, source = _rows(orders, base_dir)
    jobs, invalid = validate(rows, base, source, scan_root)
    out_dir = Path(out_dir)
    if invalid:
        log.warning("%s: %d of %d orders invalid", source, len(invalid), len(rows))
    if dry_run:
        previous = Manifest(out_dir).previous if out_dir.is_dir() else {}
        todo, carried = _plan(jobs, previous, out_dir, retry_failed)
        backend = f"dask {scheduler.strip()}" if scheduler else \
            _backend(workers, None, len(todo))[1]
        pending = [OrderResult(j.order.order_id, j.line, "pending", fingerprint=j.fingerprint,
                               scan_sha256=j.scan_sha256, insoles=j.insoles) for j in todo]
        results = sorted([*invalid, *carried, *pending], key=lambda r: r.line or 0)
        return BatchResult(tuple(results), out_dir, time.perf_counter() - t0, backend, source,
                           dry_run=True)

    prepare_dir(out_dir)
    by_line: dict[int, OrderResult] = {}
    with contextlib.ExitStack() as stack:
        stack.enter_context(_locked(out_dir))
        _clean_stale(out_dir)
        manifest = Manifest(out_dir)
        todo, carried = _plan(jobs, manifest.previous, out_dir, retry_failed)
        client = stack.enter_context(dask_client(scheduler.strip())) \
            if scheduler and todo else None
        runner, backend = _backend(workers, client, len(todo))
        if scheduler and client is None:
            backend = f"dask {scheduler.strip()}"
        reporter = _RichProgress(len(rows)) if progress else _LogProgress(len(rows))

        def record(results: list[OrderResult], quiet: bool = False) -> None:
            manifest.append(results)
            for result in results:
                by_line[result.line] = result
                reporter.advance(result, quiet)
                if on_result is not None:
                    on_result(result)

        try:
            record(sorted([*invalid, *carried], key=lambda r: r.line), quiet=True)
            if todo:
                log.info("%s: making %d orders (%s); %d skipped, %d invalid", source, len(todo),
                         backend, len(carried), len(invalid))
                for job, output in runner(todo):
                    record([_result(out_dir, job, output)])
        finally:
            reporter.close()
            manifest.rewrite([by_line[n] for n in sorted(by_line)])
    results = tuple(by_line[n] for n in sorted(by_line))
    return BatchResult(results, out_dir, time.perf_counter() - t0, backend, source)


__all__ = ["BatchResult", "Job", "Manifest", "OrderResult", "Row", "WorkItem", "WorkOutput",
           "dask_client", "fingerprint", "make", "read_orders", "run_batch", "validate",
           "write_order"]
