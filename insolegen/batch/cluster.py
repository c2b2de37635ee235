"""Running a batch's jobs on a Dask distributed cluster.

Workers need insolegen (the same version) but no shared storage: a scan's
bytes travel with its job, and each order's files come back to the batch
process as bytes, which writes them into the batch folder
(:mod:`insolegen.batch.folder`). The same code serves a
``LocalCluster`` and a remote scheduler.
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Iterable, Iterator

from insolegen import __version__
from insolegen.batch.orders import Job
from insolegen.batch.work import WorkItem, WorkOutput, load, lost, make, worker_version
from insolegen.core.errors import InputError

CONNECT_TIMEOUT_S = 20.0
WORKERS_TIMEOUT_S = 60.0


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
            versions = client.run(worker_version)
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


def run_dask(jobs: Iterable[Job], client) -> Iterator[tuple[WorkItem, WorkOutput]]:
    """Make jobs on the cluster of ``client``, a window of 2 per worker thread in flight;
    results (bytes) come back to this process."""
    from distributed import as_completed

    window = 2 * max(1, sum(client.nthreads().values()))
    source = iter(jobs)
    pending: dict[str, tuple[WorkItem, object]] = {}  # task key: (item, future)
    running = as_completed(loop=client.loop)

    def submit() -> Iterator[tuple[WorkItem, WorkOutput]]:
        while len(pending) < window and (job := next(source, None)) is not None:
            item = load(job, ship_scan=True)
            if isinstance(item, WorkOutput):
                yield WorkItem(job), item
                continue
            key = f"insolegen-{job.order.order_id}-{secrets.token_hex(4)}"
            future = client.submit(make, item, key=key, pure=False)
            pending[future.key] = (item, future)
            running.add(future)

    try:
        yield from submit()
        for future in running:
            item, _ = pending.pop(future.key)
            try:
                output = future.result()
            except Exception as exc:  # noqa: BLE001 - KilledWorker, lost connection, ...
                output = lost(f"the Dask task failed: {type(exc).__name__}: {exc}")
            future.release()
            yield WorkItem(item.job), output
            yield from submit()
    finally:
        if pending:  # the batch is ending early: its queued work is not wanted
            client.cancel([future for _, future in pending.values()])
