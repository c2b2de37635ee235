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
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from insolegen.batch.cluster import dask_client, run_dask
from insolegen.batch.orders import (MANIFEST_NAME, STATUSES, Job, OrderResult, Validator,
                                    fingerprint, now, reason, validate)
from insolegen.batch.folder import (Manifest, clean_stale, intact, locked, publish, remove,
                                    write_order)
from insolegen.batch.work import WorkItem, WorkOutput, make, run_inline, run_pool
from insolegen.core.errors import InputError, InsolegenError
from insolegen.output.files import prepare_dir
from insolegen.batch.orders_file import Row, iter_orders, read_orders

log = logging.getLogger("insolegen.batch.run")

DETERMINISTIC_PREFIXES = ("invalid ", "unusable scan")  # same input, same failure: not retried
SHOWN_FAILURES = 20
CACHED_OUTCOMES = 2_000  # validated orders kept from the first pass (the rest are re-validated)


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


# ---------------------------------------------------------------- results


@dataclass
class Tally:
    """Running counts of a batch's results, and its first failures (in the order met)."""

    statuses: Counter = field(default_factory=Counter)
    reasons: Counter = field(default_factory=Counter)
    first_failures: list[OrderResult] = field(default_factory=list)
    insoles_made: int = 0

    def add(self, result: OrderResult) -> None:
        self.statuses[result.status] += 1
        if result.status == "failed":
            self.reasons[result.reason or "unknown"] += 1
            if len(self.first_failures) < SHOWN_FAILURES:
                self.first_failures.append(result)
        elif result.status == "done":
            self.insoles_made += result.insoles


@dataclass(frozen=True)
class BatchResult:
    """How the batch went; every order's result (in file order) unless not kept."""

    orders: tuple[OrderResult, ...]
    out_dir: Path
    elapsed_s: float
    backend: str
    source: str = "orders"
    dry_run: bool = False
    tally: Tally | None = None

    def __post_init__(self) -> None:
        if self.tally is None:
            tally = Tally()
            for result in self.orders:
                tally.add(result)
            object.__setattr__(self, "tally", tally)

    @property
    def manifest(self) -> Path:
        return self.out_dir / MANIFEST_NAME

    @property
    def total(self) -> int:
        return sum(self.tally.statuses.values())

    @property
    def counts(self) -> dict[str, int]:
        """Orders by status: done, failed, skipped (and pending in a dry run)."""
        c = self.tally.statuses
        return {s: c[s] for s in (*STATUSES, "pending") if c[s] or s in STATUSES}

    @property
    def failures_by_reason(self) -> dict[str, int]:
        return dict(self.tally.reasons.most_common())

    @property
    def insoles_made(self) -> int:
        return self.tally.insoles_made

    @property
    def insoles_per_s(self) -> float:
        return self.insoles_made / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def exit_code(self) -> int:
        """0 when no order failed, 3 when some did."""
        return 3 if self.tally.statuses["failed"] else 0

    def summary(self) -> str:
        """A few lines for a person: counts, throughput, failures by reason."""
        c = self.tally.statuses
        if self.dry_run:
            counts = f"{c['pending']} to make, {c['skipped']} to skip, {c['failed']} failed"
        else:
            counts = ", ".join(f"{n} {s}" for s, n in self.counts.items())
        lines = [f"{'dry run: ' if self.dry_run else ''}{self.total} orders from "
                 f"{self.source}: {counts}"]
        if not self.dry_run and self.insoles_made:
            lines.append(f"{self.insoles_made} insoles in {self.elapsed_s:.1f} s: "
                         f"{self.insoles_per_s:.1f} insoles/s ({self.backend})")
        elif not self.dry_run:
            lines.append(f"nothing to make; {self.elapsed_s:.1f} s")
        if self.failures_by_reason:
            lines.append("failures by reason:")
            lines += [f"  {n:5d}  {r}" for r, n in self.failures_by_reason.items()]
            failed = sorted(self.tally.first_failures, key=lambda r: r.line or 0)
            lines.append("failed orders:")
            lines += [f"  line {r.line}: {r.error}" for r in failed]
            if c["failed"] > len(failed):
                lines.append(f"  ... and {c['failed'] - len(failed)} more"
                             + ("" if self.dry_run else " (see the manifest)"))
        if not self.dry_run:
            lines.append(f"manifest: {self.manifest}")
        return "\n".join(lines)


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


def _result(out_dir: Path, item: WorkItem, output: WorkOutput) -> OrderResult:
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
            publish(out_dir, job.order.order_id, Path(item.stage_dir), records)
        elif output.files is not None:
            records = write_order(out_dir, job.order.order_id, output.files)
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
    cache: dict[int, Job | OrderResult] = {}
    n_rows = n_valid = 0
    for row in src.rows():
        outcome = validator.check(row)
        n_rows += 1
        n_valid += isinstance(outcome, Job)
        if len(cache) < CACHED_OUTCOMES:
            cache[row.line] = outcome
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
            yield cache.get(row.line) or validator.check(row)

    if dry_run:
        previous = Manifest(out_dir).previous if out_dir.is_dir() else {}
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
        stack.enter_context(locked(out_dir))
        clean_stale(out_dir)
        manifest = Manifest(out_dir)
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
        for item, output in made:
            record(_result(out_dir, item, output))
    results = tuple(sorted(kept, key=lambda r: r.line or 0))
    return BatchResult(results, out_dir, time.perf_counter() - t0, backend, src.source,
                       tally=tally)


__all__ = ["BatchResult", "Job", "Manifest", "OrderResult", "Row", "Tally", "WorkItem",
           "WorkOutput", "dask_client", "fingerprint", "make", "read_orders", "run_batch",
           "validate", "write_order"]
