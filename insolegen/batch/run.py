"""Batch jobs for order systems: an orders file in, one folder per order and a manifest out.

Stages, each its own module, data flowing one way:

1. read the orders, a row at a time (:mod:`insolegen.batch.orders_file`);
2. validate every order before any work starts (:mod:`insolegen.batch.orders`);
3. read them again and, per order, plan (skip what an earlier run finished
   with intact files), make (:mod:`insolegen.batch.work`: a process pool;
   :mod:`insolegen.batch.cluster`: a Dask cluster) and write
   (:mod:`insolegen.batch.folder`): each order's folder staged under a
   temporary name and renamed into place whole, each result a synced line
   of ``DIR/manifest.jsonl``.

The orders file is streamed twice, so memory does not grow with its length
(see :func:`run_batch`'s ``keep_results``). Pool workers stage their
order's files on the batch folder's disk themselves; Dask workers send the
bytes back and this process stages them. Every backend writes the same bytes.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import time
from array import array
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from insolegen.batch.cluster import dask_client, run_dask
from insolegen.batch.orders import (MANIFEST_NAME, Job, OrderResult, Validator, fingerprint,
                                    now, reason, validate)
from insolegen.batch.folder import (Guard, clean_stale, intact, locked, publish, remove,
                                    write_order)
from insolegen.batch.manifest import Manifest
from insolegen.batch.report import BatchResult, Tally, _LogProgress, _RichProgress
from insolegen.batch.work import WorkItem, WorkOutput, make, run_inline, run_pool
from insolegen.core.errors import InputError, InsolegenError, OutputError
from insolegen.output.files import prepare_dir, signals_held
from insolegen.batch.orders_file import Row, iter_orders, read_orders

log = logging.getLogger("insolegen.batch.run")

DETERMINISTIC_PREFIXES = ("invalid ", "unusable scan")  # same input, same failure: not retried
CACHED_OUTCOMES = 2_000  # validated orders kept from the first pass (the rest are re-validated)


# ---------------------------------------------------------------- the batch


@dataclass
class _Orders:
    """Where the rows come from, readable more than once, and how to tell it changed."""

    rows: Callable[[], Iterator[Row]]
    base_dir: Path
    source: str
    path: Path | None = None

    def stamp(self) -> tuple | None:
        if self.path is None:
            return None
        try:
            st = self.path.stat()
        except OSError:
            return None
        return st.st_size, st.st_mtime_ns, st.st_ino


def _orders(orders: Path | str | Iterable[Mapping], base_dir: Path | None) -> _Orders:
    if isinstance(orders, (str, os.PathLike)):
        path = Path(orders)
        return _Orders(lambda: iter_orders(path),
                       Path(base_dir) if base_dir else path.resolve().parent, path.name, path)
    rows = [Row(n, dict(o)) if isinstance(o, Mapping) else
            Row(n, {}, f"order {n}: expected a mapping of field to value, got {type(o).__name__}")
            for n, o in enumerate(orders, start=1)]
    return _Orders(lambda: iter(rows), Path(base_dir) if base_dir else Path.cwd(),
                   "the given orders")


def _carried(job: Job, previous: Mapping[str, OrderResult], out_dir: Path,
             retry_failed: bool) -> OrderResult | None:
    """The result an earlier run already has for ``job`` (same fingerprint): done with
    intact files, or failed for a reason that would fail again; else None (make it)."""
    prev = previous.get(job.order.order_id)
    if prev is None or prev.fingerprint != job.fingerprint:
        return None
    if prev.status in ("done", "skipped") and intact(out_dir, prev):
        return dataclasses.replace(prev, line=job.line, status="skipped", error=None,
                                   reason=None, timings={}, finished_at=now(),
                                   note="done earlier with the same input; files intact")
    if prev.status == "failed" and not retry_failed and prev.reason \
            and prev.reason.startswith(DETERMINISTIC_PREFIXES):
        return dataclasses.replace(prev, line=job.line, timings={}, finished_at=now(),
                                   note="failed earlier with the same input; not retried "
                                        "(--retry-failed retries it)")
    return None


def _result(out_dir: Path, item: WorkItem, output: WorkOutput, guard: Guard | None = None
            ) -> OrderResult:
    """Publish (or write) an order's files and say how it went; a failure removes what the
    worker may have staged."""
    job = item.job
    timings = {k: round(v, 4) for k, v in output.timings.items()}
    base = OrderResult(job.order.order_id, job.line, "failed", fingerprint=job.fingerprint,
                       scan_sha256=job.scan_sha256, worker=output.worker)
    t0 = time.perf_counter()
    try:
        if output.records is not None:
            records = output.records
            publish(out_dir, job.order.order_id, Path(item.stage_dir), records, guard)
        elif output.files is not None:
            records = write_order(out_dir, job.order.order_id, output.files, guard)
        else:
            if item.stage_dir is not None:
                remove(Path(item.stage_dir))
            return dataclasses.replace(base, error=output.error, reason=output.reason,
                                       timings=timings, finished_at=now())
    except InsolegenError as exc:
        return dataclasses.replace(base, error=str(exc), reason=reason(exc, False),
                                   timings=timings, finished_at=now())
    timings["write_s"] = round(time.perf_counter() - t0 + timings.get("stage_s", 0.0), 4)
    return dataclasses.replace(base, status="done", files=tuple(records), insoles=job.insoles,
                               timings=timings, finished_at=now())


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


def _pool_size(workers: int | None, n_jobs: int) -> int:
    if workers is None:
        workers = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") \
            else (os.cpu_count() or 1)
    return workers if workers == 0 else max(1, min(workers, n_jobs))


def _backend_label(workers: int, scheduler: str | None) -> str:
    if scheduler:
        return f"dask {scheduler.strip()}"
    if workers == 0:
        return "in process"
    return f"process pool, {workers} worker{'s' if workers > 1 else ''}"


def run_batch(orders: Path | str | Iterable[Mapping], out_dir: Path | str, *,
              workers: int | None = None, scheduler: str | None = None,
              retry_failed: bool = False, dry_run: bool = False,
              base_dir: Path | None = None, scan_root: Path | None = None,
              progress: bool = False, keep_results: bool = True,
              on_result: Callable[[OrderResult], None] | None = None,
              defaults: Mapping | None = None) -> BatchResult:
    """Make every order into ``out_dir/<order_id>/`` and record it in ``out_dir/manifest.jsonl``.

    Parameters
    ----------
    orders
        A CSV / JSON Lines file (read twice, a row at a time), or mappings of
        field to value (one per order).
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
    keep_results
        Keep every order's result for :attr:`BatchResult.orders`; without it
        memory does not grow with the number of orders (counts and the first
        failures are still kept; the manifest has every result).
    on_result
        Called with each order's result as it is recorded.
    defaults
        Order fields (e.g. ``printer``) for every order that leaves them blank.

    Invalid orders fail alone (reported with their line); the valid ones are
    made. Raises :class:`InputError` only when the orders file itself, the
    output folder or the scheduler is unusable.
    """
    t0 = time.perf_counter()
    _check_backend(workers, scheduler)
    src = _orders(orders, base_dir)
    out_dir = Path(out_dir)
    stamp = src.stamp()

    # First pass: every order validated (and every invalid one logged) before any work.
    validator = Validator(src.base_dir, src.source, scan_root, defaults=defaults)
    cache: dict[int, tuple[Row, Job | OrderResult]] = {}
    n_rows = n_valid = 0
    lines = array("q")  # every row's line, to find the ones the second pass does not reach
    for row in src.rows():
        outcome = validator.check(row)
        n_rows += 1
        n_valid += isinstance(outcome, Job)
        lines.append(row.line)
        if len(cache) < CACHED_OUTCOMES:
            cache[row.line] = (row, outcome)
    reached = bytearray(len(lines))
    if n_rows - n_valid:
        log.warning("%s: %d of %d orders invalid", src.source, n_rows - n_valid, n_rows)
    validator.quiet = True
    size = _pool_size(workers, n_valid) if not scheduler else 0
    backend = _backend_label(size, scheduler)

    kept: list[OrderResult] = []
    tally = Tally()

    def outcomes() -> Iterator[Job | OrderResult]:
        """Second pass: the same orders, validated again unless cached."""
        if src.stamp() != stamp:
            raise InputError(f"orders = '{src.path}': changed while the batch was reading it; "
                             "run the batch again on a file that stays put")
        for row in src.rows():
            at = bisect_left(lines, row.line)
            if at < len(lines) and lines[at] == row.line:
                reached[at] = 1
            cached = cache.get(row.line)
            # the cached outcome only for the very row it was made from (the file may change)
            yield cached[1] if cached is not None and cached[0] == row else validator.check(row)

    def not_reached() -> Iterator[OrderResult]:
        """A failed result for every row of the first pass that the second did not read
        (the orders file was cut short or rewritten meanwhile)."""
        missing = {lines[i] for i in range(len(lines)) if not reached[i]}
        if not missing:
            return
        ids = {line: validator.spelled.get(key, key) for key, line in
               validator.first_line.items() if line in missing}
        for line in sorted(missing):
            yield OrderResult(ids.get(line), line, "failed",
                              f"line {line}: not made: the orders file changed while the batch "
                              "was reading it and this line was not there the second time; "
                              "run the batch again on a file that stays put",
                              "not reached", finished_at=now())

    if dry_run:
        previous = Manifest(out_dir, write=False).previous if out_dir.is_dir() else {}
        for outcome in outcomes():
            if isinstance(outcome, Job):
                outcome = _carried(outcome, previous, out_dir, retry_failed) or OrderResult(
                    outcome.order.order_id, outcome.line, "pending",
                    fingerprint=outcome.fingerprint, scan_sha256=outcome.scan_sha256,
                    insoles=outcome.insoles)
            tally.add(outcome)
            if keep_results:
                kept.append(outcome)
        return BatchResult(tuple(kept), out_dir, time.perf_counter() - t0, backend, src.source,
                           dry_run=True, tally=tally)

    prepare_dir(out_dir)
    with contextlib.ExitStack() as stack:
        guard = Guard(out_dir)
        stack.callback(guard.close)
        stack.enter_context(locked(out_dir))
        clean_stale(out_dir)

        def sweep() -> None:
            """Whatever a worker staged after the pool stopped: removed (the lock is held,
            so every temporary here is this batch's); never through a swapped folder."""
            with contextlib.suppress(OutputError):
                guard.check()
                clean_stale(out_dir)
        stack.callback(sweep)
        manifest = Manifest(out_dir, guard)
        twins = {i.casefold(): i for i in manifest.previous}
        # connect before recording anything: an unusable cluster leaves the folder as it was
        client = stack.enter_context(dask_client(scheduler.strip())) \
            if scheduler and n_valid else None
        reporter = _RichProgress(n_rows) if progress else _LogProgress(n_rows)
        stack.callback(manifest.rewrite)
        stack.callback(reporter.close)

        def record(result: OrderResult, quiet: bool = False) -> None:
            manifest.append([result])
            tally.add(result)
            if keep_results:
                kept.append(result)
            reporter.advance(result, quiet)
            if on_result is not None:
                on_result(result)

        def jobs() -> Iterator[Job]:
            """The orders to make; the others are recorded on the way."""
            for outcome in outcomes():
                if isinstance(outcome, Job):
                    twin = twins.get(outcome.order.order_id.casefold(), outcome.order.order_id)
                    if twin != outcome.order.order_id:
                        record(OrderResult(
                            outcome.order.order_id, outcome.line, "failed",
                            f"order_id = {outcome.order.order_id!r}: differs only in case from "
                            f"order {twin!r}, already in {out_dir} (kept); ids are compared "
                            "without regard to case: choose another id or another --out",
                            "invalid order_id", fingerprint=outcome.fingerprint,
                            finished_at=now()))
                        continue
                    carried = _carried(outcome, manifest.previous, out_dir, retry_failed)
                    if carried is None:
                        yield outcome
                        continue
                    outcome = carried
                record(outcome, quiet=True)

        if n_valid:
            log.info("%s: %d valid orders of %d (%s)", src.source, n_valid, n_rows, backend)
        if scheduler:
            made = run_dask(jobs(), client) if client is not None else run_inline(jobs())
        elif size == 0:
            made = run_inline(jobs())
        else:
            made = run_pool(jobs(), size, out_dir)
        # closed first on the way out (a signal, a full disk): the pool's workers stop and
        # their staged folders go before the manifest is rewritten and the lock let go
        stack.enter_context(contextlib.closing(made))
        for item, output in made:
            with signals_held():  # a folder published is in the manifest before a signal acts
                record(_result(out_dir, item, output, guard))
        for result in not_reached():
            record(result)
    results = tuple(sorted(kept, key=lambda r: r.line or 0))
    return BatchResult(results, out_dir, time.perf_counter() - t0, backend, src.source,
                       tally=tally)


__all__ = ["MANIFEST_NAME", "BatchResult", "Job", "Manifest", "OrderResult", "Row", "Tally", "WorkItem",
           "WorkOutput", "dask_client", "fingerprint", "make", "read_orders", "run_batch",
           "validate", "write_order"]
