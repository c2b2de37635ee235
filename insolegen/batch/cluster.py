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
from insolegen.core.errors import InputError, shown

CONNECT_TIMEOUT_S = 20.0
WORKERS_TIMEOUT_S = 60.0
PROBE_TIMEOUT_S = 5.0
MAX_HANDSHAKE_BYTES = 1 << 16


def _refuse(scheduler: str, why: str) -> InputError:
    return InputError(f"scheduler = {shown(scheduler)}: {why}; expected the address of a "
                      "running Dask scheduler, e.g. tcp://10.0.0.5:8786")


def _address(scheduler: str) -> tuple[str, str, int]:
    """Scheme, host and port of ``[tcp://|tls://]HOST:PORT``, or InputError."""
    scheme, sep, rest = scheduler.strip().partition("://")
    if not sep:
        scheme, rest = "tcp", scheduler.strip()
    if scheme not in ("tcp", "tls"):
        raise _refuse(scheduler, f"scheme {scheme!r} is not tcp:// or tls://")
    host, colon, port = rest.rstrip("/").rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    if not colon or not host or not port.isascii() or not port.isdigit() \
            or not 0 < int(port) < 65536 or any(c in host for c in "/@ []"):
        raise _refuse(scheduler, "not HOST:PORT with a port from 1 to 65535")
    return scheme, host, int(port)


def probe(scheduler: str, timeout_s: float = PROBE_TIMEOUT_S) -> None:
    """Refuse, within ``timeout_s`` and reading at most :data:`MAX_HANDSHAKE_BYTES`, an
    address where no Dask scheduler answers: nothing listening, a server that stays silent,
    or one that sends anything but a Dask handshake. (A scheduler speaks first: its
    handshake, a length-prefixed message of a few hundred bytes; it gets its own back.)"""
    import socket
    import struct

    scheme, host, port = _address(scheduler)
    if scheme != "tcp":  # TLS: left to the client (with its time limit)
        return
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock:
            sock.settimeout(timeout_s)
            head = _recv(sock, 8)
            (size,) = struct.unpack("<Q", head)
            if not 0 < size <= MAX_HANDSHAKE_BYTES:
                raise _refuse(scheduler, f"it answered with a message header of {size} bytes, "
                                         "not a Dask handshake")
            body = _recv(sock, size)
            _handshake(body, scheduler)
            sock.sendall(head + body)  # a handshake back, so that the scheduler ends quietly
    except socket.timeout:
        raise _refuse(scheduler, f"no answer within {timeout_s:g} s") from None
    except (OSError, EOFError) as exc:
        raise _refuse(scheduler, f"cannot connect ({exc.strerror or exc or 'closed'})") \
            from None


def _recv(sock, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise EOFError("the server closed the connection")
        data += chunk
    return data


def _handshake(body: bytes, scheduler: str) -> None:
    """Refuse ``body`` unless it decodes as a Dask handshake (a dict with its keys)."""
    try:
        from distributed.protocol import loads
        from distributed.protocol.utils import unpack_frames
        message = loads(unpack_frames(body), deserialize=False)
    except Exception:  # noqa: BLE001 - anything that does not decode is not Dask's
        message = None
    if not isinstance(message, dict) or "compression" not in message:
        raise _refuse(scheduler, "it answered, but not with a Dask handshake")


@contextlib.contextmanager
def dask_client(scheduler: str) -> Iterator:
    """A client of the Dask scheduler at ``scheduler``, checked to have usable workers
    running this insolegen version; :class:`InputError` if not."""
    try:
        from distributed import Client
    except ImportError:
        raise InputError(f"scheduler = {scheduler!r}: needs dask.distributed; install it with "
                         "pip install 'insolegen[dask]'") from None
    probe(scheduler)
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
