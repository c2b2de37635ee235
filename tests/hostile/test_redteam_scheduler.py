"""Issue 15 item 10 and "Also": addresses that are not a Dask scheduler. Fake schedulers
are real TCP servers on 127.0.0.1 that stay silent or send garbage; the real one is a
LocalCluster on loopback. Each case: exit 2, one line, in seconds, no lock left."""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from pathlib import Path

import pytest

from ._util import assert_clean_error, listing, run_cli

distributed = pytest.importorskip("distributed")


class FakeServer:
    """A TCP server on 127.0.0.1 that answers each connection with ``reply`` (or nothing)
    and then holds it open until stopped."""

    def __init__(self, reply: bytes | None) -> None:
        self.reply = reply
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(8)
        self.address = f"tcp://127.0.0.1:{self.sock.getsockname()[1]}"
        self.open: list[socket.socket] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.open.append(conn)
            if self.reply:
                try:
                    conn.sendall(self.reply)
                except OSError:
                    pass

    def close(self) -> None:
        self.sock.close()
        for conn in self.open:
            conn.close()


REPLIES = {
    "silent": None,
    "garbage": bytes(range(256)) * 4,                      # a header of ~ 3 EiB
    "huge-frame": struct.pack("<Q", 1 << 40) + b"\0" * 64,  # asks for a TiB
    "http": b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n",
    "small-not-dask": struct.pack("<Q", 16) + os.urandom(16),
}


@pytest.fixture
def orders(tmp_path) -> Path:
    path = tmp_path / "o.csv"
    path.write_text("order_id,conditions,foot_length_mm,resolution_mm\nD1,neutral,250,4\n")
    return path


@pytest.mark.parametrize("kind", list(REPLIES))
def test_item10_a_server_that_is_not_a_scheduler_is_refused_in_seconds(orders, tmp_path, kind):
    """A silent server hung the batch past 150 s; garbage ended in MemoryError ("Unable to
    allocate 3.07 EiB") or a struct error, exit 1; the lock stayed behind."""
    server = FakeServer(REPLIES[kind])
    try:
        t0 = time.monotonic()
        result = run_cli("batch", str(orders), "--out", str(tmp_path / "out"), "--scheduler",
                         server.address, timeout=60)
        elapsed = time.monotonic() - t0
    finally:
        server.close()
    assert_clean_error(result, f"scheduler = '{server.address}'",
                       "expected the address of a running Dask scheduler")
    assert elapsed < 20, elapsed
    assert listing(tmp_path / "out") == []


@pytest.mark.parametrize("address, needle", [
    ("tcp://127.0.0.1:1", "cannot connect"),
    ("tcp://127.0.0.1", "HOST:PORT"),
    ("tcp://127.0.0.1:99999", "HOST:PORT"),
    ("http://127.0.0.1:8787", "scheme 'http'"),
    ("tcp://no-such-host.invalid:8786", "cannot connect"),
    ("127.0.0.1:0", "HOST:PORT"),
])
def test_also_bad_scheduler_addresses_are_one_line_at_once(orders, tmp_path, address, needle):
    """Six such addresses took about 41 s and printed 10 lines (a Client.__del__
    traceback) before their exit 2."""
    t0 = time.monotonic()
    result = run_cli("batch", str(orders), "--out", str(tmp_path / "out"), "--scheduler",
                     address, timeout=60)
    assert_clean_error(result, needle)
    assert time.monotonic() - t0 < 15
    assert listing(tmp_path / "out") == []


def test_item10_a_real_scheduler_passes_the_probe_and_makes_the_order(orders, tmp_path):
    with distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        result = run_cli("batch", str(orders), "--out", str(tmp_path / "out"), "--scheduler",
                         cluster.scheduler_address, timeout=120)
    assert result.code == 0, result.err
    assert "1 done" in result.out
    assert sorted(listing(tmp_path / "out")) == ["D1", "manifest.jsonl"]
