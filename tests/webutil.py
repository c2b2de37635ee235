"""Helpers shared by the web tests: a real ``insolegen serve`` on a free loopback port."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``insolegen serve`` in a child process, bound to 127.0.0.1."""

    def __init__(self, data: Path, token: str | None = None, env: dict | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = token
        args = [sys.executable, "-m", "insolegen", "serve", "--port", str(self.port),
                "--data", str(data)]
        if token:
            args += ["--token", token]
        self.proc = subprocess.Popen(args, env={**os.environ, **(env or {})},
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 30
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server died: {self.proc.stderr.read().decode()}")
            with contextlib.suppress(OSError):
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)

    def request(self, method: str, path: str, body: object = None, raw: bytes | None = None,
                headers: dict | None = None) -> tuple[int, bytes, dict]:
        """(status, body bytes, headers) of one request; ``body`` is sent as JSON."""
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        if self.token and "Authorization" not in hdrs:
            hdrs["Authorization"] = f"Bearer {self.token}"
        req = urllib.request.Request(self.url + path, data=data, method=method, headers=hdrs)
        try:
            with urllib.request.urlopen(req, timeout=120) as resp:
                return resp.status, resp.read(), dict(resp.headers)
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read(), dict(exc.headers)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()


def cli_files(args: list[str], out: Path) -> dict[str, bytes]:
    """The files ``insolegen generate ARGS --out OUT`` writes (the CLI's own main, in process)."""
    from insolegen.cli.main import main
    assert main(["generate", *args, "--out", str(out)]) == 0
    return {p.name: p.read_bytes() for p in out.iterdir()}


def cli_error(args: list[str], capsys) -> str:
    """The one line ``insolegen generate ARGS`` prints on bad input (exit 2), without its prefix."""
    from insolegen.cli.main import main
    capsys.readouterr()
    assert main(["generate", *args]) == 2
    line = capsys.readouterr().err.strip()
    assert "\n" not in line
    return line.removeprefix("insolegen: error: ")
