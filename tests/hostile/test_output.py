"""Hostile output: folders that refuse writes, full disks, existing files, symlinks, bad ids,
signals and crashes. Files appear whole or not at all, and only where they were asked for.

Root writes through permission bits, so "read-only" and "full" are real
mounts here (skipped if the sandbox refuses a mount) plus in-process fault
injection that works anywhere.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import trimesh

import insolegen.output.files as export
from insolegen.core.errors import OutputError
from insolegen.output.files import AtomicWriter
from insolegen.pipeline.order import order_from_mapping
from insolegen.pipeline.job import generate

from ._util import (ROOT, TMP_MARK, assert_clean_error, cli_command, enospc, listing,
                    run_cli, temp_leftovers)

pytestmark = pytest.mark.timeout(90)

FIELDS = {"conditions": "neutral", "foot_length_mm": 245, "resolution_mm": 3}
FINALS = ["o1.json", "o1_left.stl", "o1_right.stl"]


def make(out: Path, force: bool = False, **fields):
    return generate(order_from_mapping({"order_id": "o1", **FIELDS, **fields}), out, force=force)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {n: (folder / n).read_bytes() for n in listing(folder)}


def args(out, *extra) -> list[str]:
    return ["generate", "--id", "o1", "--condition", "neutral", "--foot-length", "245",
            "--resolution-mm", "3", *extra, "--out", str(out)]


# ---------------------------------------------------------------- folders that refuse


def test_read_only_mount_is_a_clean_error(tmpfs, cli):
    ro = tmpfs("ro")
    result = run_cli(*args(ro))
    assert_clean_error(result, f"out = '{ro}'", "not a writable folder", "Read-only")
    result = cli(*args(ro / "sub"))
    assert_clean_error(result, f"out = '{ro / 'sub'}'", "not a writable folder")
    assert listing(ro) == []


@pytest.mark.parametrize("kind", ["file-as-folder", "under-a-file", "proc", "too-long",
                                  "dev-null"])
def test_folders_that_cannot_exist(cli, tmp_path, kind):
    blocker = tmp_path / "plain.txt"
    blocker.write_text("x")
    out = {"file-as-folder": blocker, "under-a-file": blocker / "sub",
           "proc": Path("/proc/insolegen-hostile"), "too-long": tmp_path / ("d" * 300),
           "dev-null": Path("/dev/null")}[kind]
    result = cli(*args(out))
    assert_clean_error(result, "out = ", "not a writable folder")
    assert blocker.read_text() == "x"


# ---------------------------------------------------------------- full disks


def test_full_disk_leaves_nothing(tmpfs):
    small = tmpfs("size=64k")
    result = run_cli(*args(small))
    assert_clean_error(result, "cannot be written", "No space left on device")
    assert listing(small) == [], "neither a temporary nor a final file may remain"


def test_full_disk_during_force_keeps_the_old_set(tmpfs):
    """Room for a coarse pair, not for a fine one: the rewrite fails, the old set stays."""
    disk = tmpfs("size=1600k")
    make(disk)
    before = snapshot(disk)
    result = run_cli(*args(disk, "--force", "--resolution-mm", "1.5"))
    assert_clean_error(result, "No space left on device")
    assert snapshot(disk) == before


class FillingFile:
    """A file that takes ``budget`` bytes, then fails as a full disk does."""

    def __init__(self, real, budget: int) -> None:
        self.real, self.budget, self.written = real, budget, 0

    def write(self, data):
        chunk = data if isinstance(data, str) else bytes(data)
        room = self.budget - self.written
        if len(chunk) > room:
            self.real.write(chunk[:room])
            self.real.flush()
            self.written = self.budget
            raise enospc()
        self.written += len(chunk)
        return self.real.write(chunk)

    def seekable(self) -> bool:
        return False

    def fileno(self) -> int:
        return self.real.fileno()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.real.close()


@pytest.mark.parametrize("budget", [0, 84, 10_000])
@pytest.mark.parametrize("victim", [0, 1, 2], ids=["left-stl", "right-stl", "report"])
def test_disk_filling_part_way_through_a_file(tmp_path, monkeypatch, victim, budget):
    out = tmp_path / "out"
    opened: list[Path] = []

    def filling_open(path, mode="r", *a, **k):
        real = open(path, mode, *a, **k)
        if "x" not in mode and "w" not in mode:
            return real
        opened.append(Path(path))
        return FillingFile(real, budget) if len(opened) - 1 == victim else real

    monkeypatch.setattr(export, "open", filling_open, raising=False)
    with pytest.raises(OutputError, match="No space left on device"):
        make(out)
    assert len(opened) == victim + 1
    assert not any(p.exists() for p in opened), "the partial temporary file must be removed"
    assert listing(out) == []


def test_disk_full_at_fsync(tmp_path, monkeypatch):
    """Delayed allocation: the error shows only at fsync. Nothing may be renamed."""
    out = tmp_path / "out"

    def full(fd):
        raise enospc()

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OutputError, match="No space left on device"):
        make(out)
    assert listing(out) == []


@pytest.mark.parametrize("k", range(1, 7))
def test_a_rename_failing_part_way_restores_the_old_set(tmp_path, monkeypatch, k):
    """Replacing a pair: whichever rename fails, the folder ends with the old set, whole."""
    out = tmp_path / "out"
    make(out)
    before = snapshot(out)
    real, calls = os.replace, []

    def flaky(src, dst):
        calls.append((src, dst))
        if len(calls) == k:
            raise enospc()
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OutputError, match="cannot finish writing"):
        make(out, force=True, foot_length_mm=250)
    monkeypatch.undo()
    assert snapshot(out) == before


def test_a_rename_failing_on_a_fresh_folder_leaves_it_empty(tmp_path, monkeypatch):
    out = tmp_path / "out"
    real, calls = os.replace, []

    def flaky(src, dst):
        calls.append(dst)
        if len(calls) == 2:
            raise enospc()
        return real(src, dst)

    monkeypatch.setattr(os, "replace", flaky)
    with pytest.raises(OutputError):
        make(out)
    monkeypatch.undo()
    assert listing(out) == []


# ---------------------------------------------------------------- existing files


@pytest.mark.parametrize("present", [FINALS, ["o1.json"], ["o1_right.stl"]])
def test_existing_files_are_kept_without_force(cli, tmp_path, present):
    out = tmp_path / "out"
    out.mkdir()
    for name in present:
        (out / name).write_bytes(b"precious " + name.encode())
    before = snapshot(out)
    result = cli(*args(out))
    assert_clean_error(result, "already exists", "--force")
    assert snapshot(out) == before, "nothing written, nothing removed"


def test_force_replaces_the_whole_set(tmp_path):
    out = tmp_path / "out"
    make(out)
    old = snapshot(out)
    make(out, force=True, foot_length_mm=250)
    assert listing(out) == FINALS
    new = snapshot(out)
    assert all(new[n] != old[n] for n in FINALS)
    report = json.loads(new["o1.json"])
    assert report["design"]["foot"]["foot_length_mm"] == 250
    for side in ("left", "right"):
        mesh = trimesh.load(out / f"o1_{side}.stl", force="mesh")
        assert mesh.is_watertight
        assert len(mesh.faces) == report["measured"][side]["triangles"]


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("kind", ["symlink-out", "dangling", "directory", "symlink-dir"])
def test_non_regular_files_at_the_final_name_are_never_replaced(cli, tmp_path, kind, force):
    out, outside = tmp_path / "out", tmp_path / "outside"
    out.mkdir()
    outside.mkdir()
    secret = outside / "secret.stl"
    secret.write_bytes(b"not yours")
    victim = out / "o1_left.stl"
    if kind == "symlink-out":
        victim.symlink_to(secret)
    elif kind == "dangling":
        victim.symlink_to(outside / "created-by-us.stl")
    elif kind == "directory":
        victim.mkdir()
    else:
        victim.symlink_to(outside)
    result = cli(*args(out, *(["--force"] if force else [])))
    assert_clean_error(result, str(victim), "not a regular file")
    assert secret.read_bytes() == b"not yours"
    assert listing(outside) == ["secret.stl"]
    assert listing(out) == ["o1_left.stl"]
    assert victim.is_symlink() == kind.startswith(("symlink", "dangling"))


def test_a_planted_symlink_at_the_temporary_name_is_not_followed(tmp_path, monkeypatch):
    """Temporary names are random; even if one is guessed, it is created fresh (O_EXCL)."""
    out, secret = tmp_path / "out", tmp_path / "secret"
    out.mkdir()
    secret.write_bytes(b"not yours")
    monkeypatch.setattr(export.secrets, "token_hex", lambda n: "guessed")
    (out / f"{TMP_MARK}guessed-o1_right.stl").symlink_to(secret)
    with pytest.raises(OutputError):
        make(out, side="right")
    assert secret.read_bytes() == b"not yours"


@pytest.mark.parametrize("name", ["../x.stl", "a/b.stl", "/etc/x.stl", ".hidden", "", "..",
                                  "."])
def test_the_writer_takes_plain_names_only(tmp_path, name):
    with AtomicWriter(tmp_path) as writer:
        with pytest.raises(OutputError, match="not a plain file name"):
            writer.target(name)
        writer.commit()
    assert listing(tmp_path) == []


# ---------------------------------------------------------------- order ids


BAD_IDS = [
    "../x", "../../etc/cron.d/x", "/etc/x", "/tmp/x", "a/b", "a\\b", "..", ".", ".hidden",
    "-rf", "_x", "a..b", "x" * 129, "", " ", "a b", "a:b", "a*b", "a?b", "a\tb", "a\nb",
    "іnsole",  # Cyrillic i
    "ａ1", "a\u200bb", "a\u202eb", "a%2e%2e", "~x", "$HOME", "a;b", "é",
]


@pytest.mark.parametrize("order_id", BAD_IDS, ids=lambda s: repr(s)[:20])
def test_path_tricks_in_order_ids_are_refused(cli, tmp_path, order_id):
    out = tmp_path / "deep" / "out"
    result = cli("generate", f"--id={order_id}", "--condition", "neutral", "--foot-length",
                 "245", "--out", str(out))
    assert_clean_error(result, "order_id = ")
    assert sorted(p.name for p in tmp_path.rglob("*")) == [], "nothing may be created anywhere"


def test_a_nul_in_an_order_id_is_refused():
    with pytest.raises(OutputError.__mro__[1], match="order_id = 'a\\\\x00b'"):
        order_from_mapping({"order_id": "a\x00b", **FIELDS})


@pytest.mark.parametrize("order_id", [1, 1.5, None, ["a"], b"a", True])
def test_non_text_order_ids_are_refused(order_id):
    with pytest.raises(OutputError.__mro__[1], match="order_id = "):
        order_from_mapping({"order_id": order_id, **FIELDS})


def test_a_message_quoting_a_path_with_a_newline_is_still_one_line(cli, tmp_path):
    out = tmp_path / "line one\nline two"
    out.mkdir()
    (out / "o1_left.stl").write_bytes(b"precious")
    line = assert_clean_error(cli(*args(out)), "already exists", "line one\\nline two")
    assert "\n" not in line


@pytest.mark.parametrize("scan", ["x" * 5000, "a\x00b", "/" + "d/" * 3000 + "f.stl"])
def test_unusable_scan_paths_are_bad_input(scan):
    with pytest.raises(OutputError.__mro__[1], match="^scan = .*no such file"):
        order_from_mapping({"order_id": "s1", "conditions": "neutral", "scan": scan})


def test_the_longest_id_is_writable(tmp_path):
    order_id = "x" * 128
    generate(order_from_mapping({"order_id": order_id, **FIELDS}), tmp_path)
    assert listing(tmp_path) == sorted([f"{order_id}.json", f"{order_id}_left.stl",
                                        f"{order_id}_right.stl"])


def test_an_id_in_the_console_script_cannot_escape(tmp_path):
    out = tmp_path / "a" / "b"
    result = run_cli("generate", "--id", "../../escaped", "--condition", "neutral",
                     "--foot-length", "245", "--out", str(out))
    assert_clean_error(result, "order_id = '../../escaped'")
    assert not (tmp_path / "escaped_left.stl").exists() and not out.exists()


# ---------------------------------------------------------------- signals and crashes


def stalled_run(out: Path, marker: Path, stall: str, *extra: str) -> subprocess.Popen:
    """Start the CLI in a subprocess that stalls at ``stall`` once it is reached.

    ``stall`` is ``commit`` (all temporary files written, none renamed) or
    ``write`` (the first 5000 bytes of the first file written).
    """
    script = textwrap.dedent(f"""
        import sys, time
        from pathlib import Path
        import cli
        import insolegen.output.files as ex
        marker = Path({str(marker)!r})
        if {stall!r} == "commit":
            real = ex.AtomicWriter.commit
            def commit(self):
                marker.write_text("stalled")
                time.sleep(60)
                return real(self)
            ex.AtomicWriter.commit = commit
        else:
            class Stalling:
                def __init__(self, fh):
                    self.fh = fh
                def write(self, data):
                    self.fh.write(bytes(data)[:5000])
                    self.fh.flush()
                    marker.write_text("stalled")
                    time.sleep(60)
                def __getattr__(self, name):
                    return getattr(self.fh, name)
                def __enter__(self):
                    return self
                def __exit__(self, *exc):
                    self.fh.close()
            def stalling_open(path, mode="r", *a, **k):
                fh = open(path, mode, *a, **k)
                return Stalling(fh) if "x" in mode or "w" in mode else fh
            ex.open = stalling_open
        sys.exit(cli.main({args(out, *extra)!r}))
    """)
    # Ctrl-C as on a terminal even when the tests run in the background, where a shell
    # starts jobs with SIGINT ignored and a child would inherit that.
    return subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def wait_for(marker: Path, proc: subprocess.Popen, timeout: float = 30) -> None:
    end = time.monotonic() + timeout
    while not marker.exists():
        if proc.poll() is not None:
            raise AssertionError(f"exited early: {proc.communicate()}")
        if time.monotonic() > end:
            proc.kill()
            raise AssertionError("never reached the stall point")
        time.sleep(0.02)


@pytest.mark.parametrize("sig,code,word", [(signal.SIGTERM, 143, "terminated"),
                                           (signal.SIGINT, 130, "interrupted")])
def test_a_signal_before_the_renames_leaves_nothing(tmp_path, sig, code, word):
    out, marker = tmp_path / "out", tmp_path / "marker"
    proc = stalled_run(out, marker, "commit")
    wait_for(marker, proc)
    assert len(temp_leftovers(out)) == 3, "all three files are written under temporary names"
    proc.send_signal(sig)
    stdout, stderr = proc.communicate(timeout=30)
    assert proc.returncode == code, stderr
    assert stderr.splitlines() == [f"insolegen: {word}"]
    assert listing(out) == []


def test_kill_9_never_leaves_a_final_name(tmp_path):
    """SIGKILL cannot be cleaned up after: a temporary file may stay, a final name may not."""
    out, marker = tmp_path / "out", tmp_path / "marker"
    proc = stalled_run(out, marker, "write")
    wait_for(marker, proc)
    proc.kill()
    proc.communicate(timeout=30)
    assert listing(out) and all(n.startswith(TMP_MARK) for n in listing(out))


CRASH_AT_RENAME = textwrap.dedent("""
    import os, sys
    import cli
    k, calls, real = int(sys.argv[1]), [], os.replace
    def crashing(src, dst):
        calls.append(dst)
        if len(calls) == k:
            os._exit(137)
        return real(src, dst)
    os.replace = crashing
    sys.exit(cli.main(sys.argv[2:]))
""")


@pytest.mark.parametrize("k", range(1, 7))
def test_a_crash_between_renames_never_leaves_a_report_with_the_wrong_files(tmp_path, k):
    """The report is the marker: moved aside first, renamed in last. If it is there, the files
    beside it are the ones it describes (here: the triangle counts of two resolutions differ)."""
    out = tmp_path / "out"
    make(out)
    cmd = [sys.executable, "-c", CRASH_AT_RENAME, str(k),
           *args(out, "--force", "--resolution-mm", "2.5")]
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 137, proc.stderr
    names = [n for n in listing(out) if not n.startswith(TMP_MARK)]
    if "o1.json" in names:
        report = json.loads((out / "o1.json").read_text())
        for side, name in report["files"].items():
            assert name in names
            mesh = trimesh.load(out / name, force="mesh")
            assert len(mesh.faces) == report["measured"][side]["triangles"]
    for name in names:  # whatever is under a final name is a whole file
        if name.endswith(".stl"):
            assert trimesh.load(out / name, force="mesh").is_watertight


def test_a_closed_pipe_is_not_an_error(tmp_path):
    """`insolegen profiles NAME | head -1`: the reader leaves early; no traceback, no
    'internal error', the exit status a SIGPIPE would give."""
    command = " ".join(f"'{c}'" for c in cli_command())
    proc = subprocess.run(f"{command} profiles overpronation | true; "
                          "echo ${PIPESTATUS[0]}", shell=True, executable="/bin/bash",
                          capture_output=True, text=True, timeout=60, cwd=ROOT)
    assert proc.stderr == ""
    assert proc.stdout.strip() == "141"
