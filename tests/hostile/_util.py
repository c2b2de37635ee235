"""Shared helpers of the hostile suite: run the CLI, judge its error, look at a folder.

Every CLI case ends in one of two ways: the exit status we document and a
single line on stderr that names the problem, or a test failure. Two runners:
:func:`run_cli` (a real subprocess, with a hard time limit, for what only a
real process shows: tracebacks, signals, the console script) and
:func:`cli_inprocess` (``cli.main`` in this process, for the wide matrices).
"""

from __future__ import annotations

import errno
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLI_TIMEOUT_S = 60
TMP_MARK = ".insolegen-tmp-"


@dataclass(frozen=True)
class Outcome:
    """Exit status and the text a CLI run printed."""

    code: int
    out: str
    err: str


def cli_command() -> list[str]:
    """The installed console script beside this interpreter, else ``python -m insolegen``."""
    script = Path(sys.executable).with_name("insolegen")
    return [str(script)] if script.exists() else [sys.executable, "-m", "insolegen"]


def run_cli(*args: str, env: dict | None = None, cwd: Path | None = None,
            timeout: float = CLI_TIMEOUT_S) -> Outcome:
    """Run ``insolegen ARGS`` in a subprocess; a hang fails the test via ``timeout``."""
    full_env = {k: v for k, v in os.environ.items() if k != "INSOLEGEN_PROFILES"}
    full_env.update(env or {})
    proc = subprocess.run([*cli_command(), *args], cwd=cwd or ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)
    return Outcome(proc.returncode, proc.stdout, proc.stderr)


def cli_inprocess(capsys, *args: str) -> Outcome:
    """Run ``cli.main(ARGS)`` here; argparse's own exits count as outcomes too."""
    from insolegen.cli import main as cli
    capsys.readouterr()
    try:
        code = cli.main(list(args))
    except SystemExit as exc:  # argparse usage errors and --help
        code = exc.code if isinstance(exc.code, int) else 1
    captured = capsys.readouterr()
    return Outcome(code, captured.out, captured.err)


def assert_clean_error(result: Outcome, *needles: str, code: int = 2) -> str:
    """Exit ``code``, exactly one line on stderr, no traceback, every needle in that line."""
    lines = result.err.splitlines()
    assert result.code == code, f"exit {result.code}, expected {code}; stderr: {result.err!r}"
    assert len(lines) == 1, f"expected one line on stderr, got {len(lines)}: {result.err!r}"
    assert "Traceback" not in result.err and "internal error" not in result.err, result.err
    for needle in needles:
        assert needle in lines[0], f"{needle!r} not in {lines[0]!r}"
    return lines[0]


def listing(folder: Path) -> list[str]:
    """Names in ``folder`` (sorted, hidden ones too); [] if it does not exist."""
    folder = Path(folder)
    return sorted(os.listdir(folder)) if folder.is_dir() else []


def temp_leftovers(folder: Path) -> list[str]:
    """Temporary files an insolegen writer left in ``folder``."""
    return [n for n in listing(folder) if n.startswith(TMP_MARK)]


def mount_tmpfs(path: Path, *options: str) -> bool:
    """Mount a tmpfs at ``path`` (root only); False if this sandbox does not allow it."""
    path.mkdir(parents=True, exist_ok=True)
    opts = ",".join(("size=64k", *options)) if not any(o.startswith("size=") for o in options) \
        else ",".join(options)
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(path)],
                          capture_output=True, timeout=10)
    return proc.returncode == 0


def unmount(path: Path) -> None:
    """Undo :func:`mount_tmpfs` (lazily, so a stray open file cannot keep it)."""
    subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=10)


def enospc() -> OSError:
    """The error a full disk raises."""
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
