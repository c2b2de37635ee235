"""Making a batch's orders: the work a worker does, and the process pool that runs it.

A worker gets a :class:`WorkItem` (a validated job) and returns a
:class:`WorkOutput`; it never raises. Pool workers share the batch folder's
disk, so they *stage* the order's files themselves (written and synced into
the temporary folder named in the item) and return only the files' hashes;
the batch process then publishes the folder with one rename
(:mod:`insolegen.batch.folder`). Workers without that disk (a Dask cluster,
:mod:`insolegen.batch.cluster`) return the files' bytes instead.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import socket
import tempfile
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from insolegen import __version__
from insolegen.batch.orders import (Job, ScanChanged, parameters_sha256, read_scan_file, reason,
                                    scan_sha256)
from insolegen.batch.folder import remove, stage, staging_dir
from insolegen.core.errors import InsolegenError, ScanError, shown

log = logging.getLogger("insolegen.batch.run")


@dataclass(frozen=True)
class WorkItem:
    """What a worker gets: the job; the scan's bytes when the worker may not see the file;
    the folder to stage the files in when the worker shares the batch folder's disk."""

    job: Job
    scan_bytes: bytes | None = None
    stage_dir: str | None = None


@dataclass(frozen=True)
class WorkOutput:
    """What a worker returns: the files' bytes by name, or the records of the files it
    staged, or why there are none."""

    files: dict[str, bytes] | None
    error: str | None = None
    reason: str | None = None
    timings: dict = field(default_factory=dict)
    worker: str | None = None
    records: list[dict] | None = None

    @property
    def ok(self) -> bool:
        return self.files is not None or self.records is not None


Runner = Callable[[Iterable[Job]], Iterator[tuple[WorkItem, WorkOutput]]]


def worker_name() -> str:
    """``host:pid`` of this process."""
    return f"{socket.gethostname()}:{os.getpid()}"


def worker_version() -> str:
    """The insolegen version this process runs."""
    return __version__


_FEET: OrderedDict[tuple, object] = OrderedDict()  # this worker's last scanned feet
FEET_CACHED = 4


def _scan_foot(item: WorkItem):
    """The order's foot from its scan: the file itself if this machine sees it unchanged,
    else a private copy of the bytes the client sent. A worker keeps the last few feet it
    scanned, by the scan's SHA-256, file name and options, for orders sharing a scan."""
    from insolegen.pipeline.job import foot_for

    order = item.job.order
    path = Path(order.scan)
    try:
        here = scan_sha256(path, order.scan) == item.job.scan_sha256
    except (OSError, InsolegenError):
        here = False
    if not here and item.scan_bytes is None:
        raise ScanChanged(f"scan = {shown(str(path))}: changed or gone since the batch was "
                          "validated")
    key = (item.job.scan_sha256, path.name,
           json.dumps(order.options.get("scan", {}), sort_keys=True))
    if key in _FEET:
        _FEET.move_to_end(key)
        return _FEET[key]
    if here:
        foot = foot_for(order)
    else:
        with tempfile.TemporaryDirectory(prefix="insolegen-scan-") as folder:
            copy = Path(folder) / path.name
            copy.write_bytes(item.scan_bytes)
            try:
                foot = foot_for(dataclasses.replace(order, scan=str(copy)))
            except ScanError as exc:  # name the order's scan, not this private copy
                raise type(exc)(str(exc).replace(str(copy), str(path))) from None
    _FEET[key] = foot
    while len(_FEET) > FEET_CACHED:
        _FEET.popitem(last=False)
    return foot


def make(item: WorkItem) -> WorkOutput:
    """Make one order's files (runs in a worker; never raises): staged in
    ``item.stage_dir`` when given, else returned as bytes."""
    from insolegen.pipeline.job import render

    t0, cpu0 = time.perf_counter(), time.process_time()
    try:
        foot = _scan_foot(item) if item.job.order.scan is not None else None
        t1 = time.perf_counter()
        rendered = render(item.job.order, foot)
        if parameters_sha256(rendered.design.prescription.parameters) != \
                item.job.parameters_sha256:
            return WorkOutput(None, f"worker {worker_name()}: its condition profiles differ "
                              "from the client's (check INSOLEGEN_PROFILES and the versions)",
                              "profiles differ on worker", worker=worker_name())
        timings = {"scan_s": t1 - t0, **rendered.timings}
        files, records = rendered.files, None
        if item.stage_dir is not None:
            t2 = time.perf_counter()
            records = stage(Path(item.stage_dir), item.job.order.order_id, files,
                            rendered.sha256)
            files, timings["stage_s"] = None, time.perf_counter() - t2
        timings.update(compute_s=time.perf_counter() - t0, cpu_s=time.process_time() - cpu0)
        return WorkOutput(files, timings=timings, worker=worker_name(), records=records)
    except Exception as exc:  # noqa: BLE001 - reported per order; a worker must not die of it
        if isinstance(exc, InsolegenError):
            message = str(exc)
        else:
            log.exception("order %s", item.job.order.order_id)
            message = f"internal error: {type(exc).__name__}: {exc}"
        return WorkOutput(None, message, reason(exc, validating=False),
                          {"compute_s": time.perf_counter() - t0}, worker_name())


def lost(message: str) -> WorkOutput:
    """The output of an order whose worker went away."""
    return WorkOutput(None, message, "worker lost")


def load(job: Job, ship_scan: bool) -> WorkItem | WorkOutput:
    """The work item for ``job``; its scan's bytes when shipped, checked against validation."""
    if not ship_scan or job.order.scan is None:
        return WorkItem(job)
    try:
        data = read_scan_file(Path(job.order.scan), job.order.scan)
    except OSError as exc:
        return WorkOutput(None, f"scan = {shown(job.order.scan)}: cannot be read "
                          f"({exc.strerror or exc})", "scan changed")
    except InsolegenError as exc:
        return WorkOutput(None, str(exc), "scan changed")
    if hashlib.sha256(data).hexdigest() != job.scan_sha256:
        return WorkOutput(None, f"scan = {shown(job.order.scan)}: changed since the batch was "
                          "validated", "scan changed")
    return WorkItem(job, data)


def run_inline(jobs: Iterable[Job]) -> Iterator[tuple[WorkItem, WorkOutput]]:
    """Make jobs one after the other in this process (files come back as bytes)."""
    for job in jobs:
        item = WorkItem(job)
        yield item, make(item)


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
    calling :func:`insolegen.batch.run.run_batch` must do so under
    ``if __name__ == "__main__":``.
    """
    import multiprocessing
    pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker, initargs=(os.getpid(),))
    try:
        pool.submit(worker_version).result()
    except BrokenProcessPool:
        pool.shutdown(wait=False, cancel_futures=True)
        raise InsolegenError("internal error: the batch's worker processes cannot start (run "
                             "from a script? call run_batch under if __name__ == '__main__')") \
            from None
    return pool


def run_pool(jobs: Iterable[Job], workers: int, out_dir: Path
             ) -> Iterator[tuple[WorkItem, WorkOutput]]:
    """Make jobs in a process pool, a window of 2 per worker in flight, each staged by its
    worker in a fresh temporary folder of ``out_dir``.

    If a worker process dies (a crash, the OOM killer), the pool breaks and
    every order then in flight becomes a suspect; suspects are redone one at a
    time in a fresh pool, so only the order that kills a worker fails. A
    folder a dead worker may have half staged is removed.
    """
    source = iter(jobs)
    pushed: deque[Job] = deque()    # taken from the source, never run (the pool broke)
    suspects: deque[Job] = deque()  # in flight when a worker died
    inflight: dict[Future, tuple[WorkItem, bool]] = {}
    pool: ProcessPoolExecutor | None = None
    broken, exhausted = False, False

    def take() -> Job | None:
        nonlocal exhausted
        if pushed:
            return pushed.popleft()
        job = None if exhausted else next(source, None)
        exhausted = job is None
        return job

    def submit(job: Job, solo: bool) -> None:
        nonlocal pool, broken
        if pool is None:  # started for the first job, so a batch with nothing to make has none
            pool = _new_pool(workers)
        item = WorkItem(job, stage_dir=str(staging_dir(out_dir, job.order.order_id)))
        try:
            inflight[pool.submit(make, item)] = (item, solo)
        except BrokenProcessPool:
            broken = True
            (suspects if solo else pushed).appendleft(job)

    try:
        while True:
            if broken and not inflight:
                pool.shutdown(wait=False, cancel_futures=True)
                pool, broken = None, False
            if not broken and not any(solo for _, solo in inflight.values()):
                while not broken and len(inflight) < 2 * workers and (job := take()) is not None:
                    submit(job, False)
                if exhausted and not pushed and suspects and not inflight and not broken:
                    submit(suspects.popleft(), True)
            if not inflight:
                if exhausted and not pushed and not suspects:
                    break
                continue
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            for future in done:
                item, solo = inflight.pop(future)
                try:
                    output = future.result()
                except BrokenProcessPool:
                    remove(Path(item.stage_dir))
                    if not broken:
                        log.warning("a worker process died; the orders it may have been making "
                                    "are redone one at a time")
                    broken = True
                    if solo:
                        yield item, lost("the worker process died making this order")
                    else:
                        suspects.append(item.job)
                    continue
                yield item, output
    finally:
        if pool is not None:
            _stop(pool)
        for item, _ in inflight.values():
            remove(Path(item.stage_dir))


def _stop(pool: ProcessPoolExecutor) -> None:
    """Shut the pool down with its workers gone: a batch ending early (a signal, an error)
    must not leave workers that stage orders after the batch cleaned up."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=30)
