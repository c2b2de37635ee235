"""Hostile orders files for ``insolegen batch``: ids that are paths, duplicates, scans outside
the allowed root, odd CSV, and 100,000 lines. One bad order fails alone (exit 3), a bad
file as a whole is exit 2, nothing is written outside the batch folder.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

batch = pytest.importorskip("insolegen.batch.run", reason="batch (issue 3) not here")

from ._util import ROOT, assert_clean_error, cli_command  # noqa: E402

pytestmark = pytest.mark.timeout(120)

HEADER = "order_id,conditions,foot_length_mm,resolution_mm\n"


def manifest(out: Path) -> dict[str, dict]:
    return {e["order_id"]: e for e in map(json.loads, (out / "manifest.jsonl").read_text()
                                          .splitlines())}


def everything_under(root: Path) -> set[Path]:
    return {p for p in root.rglob("*")}


def run_batch(cli, orders: Path, out: Path, *extra: str):
    return cli("batch", str(orders), "--out", str(out), "--workers", "0", *extra)


BAD_IDS = ["../escaped", "../../escaped", "/tmp/escaped", "a/b", ".hidden", "..", "x" * 129,
           "іd", "a\\b", "manifest.jsonl", " "]


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_path_tricks_in_ids_fail_alone_and_write_nothing_outside(cli, tmp_path, fmt):
    orders = tmp_path / "in" / f"orders.{fmt}"
    orders.parent.mkdir()
    if fmt == "csv":
        lines = [HEADER.strip()] + [f'"{i}",neutral,250,3' for i in BAD_IDS] + ["ok1,neutral,250,3"]
    else:
        lines = [json.dumps({"order_id": i, "conditions": "neutral", "foot_length_mm": 250,
                             "resolution_mm": 3}) for i in [*BAD_IDS, "ok1"]]
    orders.write_text("\n".join(lines) + "\n", encoding="utf-8")
    out = tmp_path / "deep" / "out"
    before = everything_under(tmp_path)
    result = run_batch(cli, orders, out)
    assert result.code == 3, result.err
    assert "Traceback" not in result.err
    entries = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    done = [e for e in entries if e["status"] == "done"]
    assert [e["order_id"] for e in done] == ["ok1"]
    assert len(entries) == len(BAD_IDS) + 1, "every line has its manifest entry"
    created = everything_under(tmp_path) - before
    assert all(p == out or out in p.parents or p == out.parent for p in created), created


def test_duplicate_ids_fail_and_the_rest_goes_on(cli, tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text(HEADER + "a,neutral,250,3\nb,neutral,251,3\na,neutral,252,3\n")
    out = tmp_path / "out"
    result = run_batch(cli, orders, out)
    assert result.code == 3
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    dup = [e for e in lines if e["status"] == "failed"]
    assert dup and all("duplicate" in (e["reason"] or "") + (e["error"] or "") for e in dup)
    assert manifest(out)["b"]["status"] == "done"
    report = json.loads((out / "a" / "a.json").read_text()) if (out / "a").exists() else None
    if report is not None:  # if one "a" was made, it is the first one, never a mix
        assert report["design"]["foot"]["foot_length_mm"] == 250


@pytest.mark.parametrize("name,content,needles", [
    ("semicolons.csv", "order_id;conditions;foot_length_mm\na;neutral;250\n",
     ["order_id", "separated by semicolons; expected commas"]),
    ("tabs.csv", "order_id\tconditions\tfoot_length_mm\na\tneutral\t250\n",
     ["order_id", "separated by tabs"]),
    ("no-header.csv", "a,neutral,250\nb,neutral,260\n", ["order_id", "header"]),
    ("empty.csv", "", ["empty"]),
    ("blank.csv", "\n\n  \n", ["empty"]),
    ("typo.csv", "order_id,conditons,foot_length_mm\na,neutral,250\n",
     ["'conditons'", "did you mean 'conditions'"]),
    ("twice.csv", "order_id,order_id,conditions\na,a,neutral\n", ["given twice"]),
    ("array.jsonl", '[{"order_id": "a"}]\n', ["JSON array"]),
    ("garbage.jsonl", "\x00\x01\x02 not json\n", ["not JSON Lines"]),
    ("latin1.csv", b"order_id,conditions\n\xe9t\xe9,neutral\n", ["not UTF-8"]),
    ("huge-cell.csv", "order_id,conditions\na," + "x" * 200_000 + "\n", ["not readable CSV"]),
])
def test_a_bad_orders_file_as_a_whole_is_exit_2(cli, tmp_path, name, content, needles):
    orders = tmp_path / name
    orders.write_bytes(content if isinstance(content, bytes) else content.encode())
    out = tmp_path / "out"
    assert_clean_error(run_batch(cli, orders, out), "orders = ", name, *needles)
    assert not (out / "manifest.jsonl").exists()


@pytest.mark.parametrize("prefix,encoding", [(b"\xef\xbb\xbf", "utf-8"), (b"", "utf-16")])
def test_byte_order_marks_and_utf16_are_fine(cli, tmp_path, prefix, encoding):
    orders = tmp_path / "orders.csv"
    orders.write_bytes(prefix + (HEADER + "bom1,neutral,250,3\n").encode(encoding))
    out = tmp_path / "out"
    result = run_batch(cli, orders, out)
    assert result.code == 0, result.err
    assert manifest(out)["bom1"]["status"] == "done"


def test_bad_lines_fail_alone(cli, tmp_path):
    orders = tmp_path / "orders.jsonl"
    orders.write_text('{"order_id": "g1", "conditions": "neutral", "foot_length_mm": 250,'
                      ' "resolution_mm": 3}\n'
                      '{"order_id": "b1", "conditions": "neutral", "foot_length_mm": "２５０"}\n'
                      'not json at all\n'
                      '[1, 2, 3]\n'
                      '{"order_id": "b2", "conditions": "neutral", "foot_length_mm": 1e999}\n'
                      '{"order_id": "b3", "conditions": "neutral", "foot_length_mm": '
                      + "9" * 5000 + '}\n'
                      + "[" * 100_000 + "]" * 100_000 + "\n")
    out = tmp_path / "out"
    result = run_batch(cli, orders, out)
    assert result.code == 3 and "Traceback" not in result.err, result.err
    lines = [json.loads(x) for x in (out / "manifest.jsonl").read_text().splitlines()]
    assert len(lines) == 7
    assert [e["status"] for e in lines].count("done") == 1
    assert all(len(e["error"] or "") < 1000 for e in lines), "huge values are shown cut"


# ---------------------------------------------------------------- scans outside the root


def test_scan_paths_outside_the_scan_root_are_refused(tmp_path):
    root, elsewhere = tmp_path / "scans", tmp_path / "private"
    root.mkdir()
    elsewhere.mkdir()
    (elsewhere / "foot.stl").write_bytes(b"solid x\nendsolid x\n")
    (root / "link.stl").symlink_to(elsewhere / "foot.stl")
    orders = root / "orders.jsonl"
    orders.write_text("".join(json.dumps({"order_id": f"s{i}", "conditions": "neutral",
                                          "scan": scan}) + "\n"
                              for i, scan in enumerate([str(elsewhere / "foot.stl"),
                                                        "../private/foot.stl", "link.stl",
                                                        "/etc/passwd"])))
    out = tmp_path / "out"
    proc = subprocess.run([*cli_command(), "batch", str(orders), "--out", str(out),
                           "--workers", "0", "--scan-root", str(root)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3, proc.stderr
    for entry in manifest(out).values():
        assert entry["status"] == "failed" and "scan" in entry["error"]
        assert "root" in entry["error"] or "outside" in entry["error"]


# ---------------------------------------------------------------- 100,000 lines


PEAK_RSS = textwrap.dedent("""
    import resource, subprocess, sys
    proc = subprocess.run(sys.argv[1:], capture_output=True, text=True)
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    print(proc.returncode, peak_kb, len(proc.stderr.splitlines()))
""")


def batch_peak(tmp_path: Path, n: int) -> tuple[int, float, float]:
    """Exit status, peak RSS (MB) and seconds of a dry run over ``n`` invalid orders."""
    orders = tmp_path / f"orders{n}.csv"
    with open(orders, "w") as fh:
        fh.write(HEADER)
        fh.writelines(f"../bad{i},neutral,250,3\n" for i in range(n))
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", PEAK_RSS, *cli_command(), "batch", str(orders),
                           "--out", str(tmp_path / f"out{n}"), "--dry-run"],
                          capture_output=True, text=True, timeout=110, cwd=ROOT)
    code, peak_kb, _ = proc.stdout.split()
    return int(code), int(peak_kb) / 1024, time.perf_counter() - t0


@pytest.fixture(scope="module")
def dry_runs(tmp_path_factory) -> dict[int, tuple[int, float, float]]:
    folder = tmp_path_factory.mktemp("big")
    return {n: batch_peak(folder, n) for n in (1, 100_000)}


def test_a_100k_line_orders_file_is_read_in_bounded_time_and_memory(dry_runs):
    code, peak_mb, seconds = dry_runs[100_000]
    assert code == 3
    assert seconds < 60, f"{seconds:.0f} s for 100,000 refused lines"
    assert peak_mb < 500, f"peak RSS {peak_mb:.0f} MB"


def test_memory_does_not_grow_with_the_number_of_orders(dry_runs):
    small, large = dry_runs[1][1], dry_runs[100_000][1]
    assert large - small < 32, f"1 line: {small:.0f} MB, 100k lines: {large:.0f} MB"


MANIFEST_PEAK = textwrap.dedent("""
    import json, resource, sys
    from pathlib import Path
    from insolegen.batch.manifest import Manifest
    folder = Path(sys.argv[1])
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    manifest = Manifest(folder)
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    entry = manifest.previous["ORDER-077777"]
    print(len(manifest.previous), grown // 1024, entry.files[0]["path"])
""")


def test_a_rerun_over_a_100k_order_manifest_holds_only_where_entries_are(tmp_path):
    """An earlier manifest's entries are read when their order comes up, not all kept."""
    with open(tmp_path / "manifest.jsonl", "w") as fh:
        for i in range(100_000):
            oid = f"ORDER-{i:06d}"
            fh.write(json.dumps({
                "order_id": oid, "line": i + 2, "status": "done",
                "fingerprint": "sha256:" + "d" * 64,
                "files": [{"path": f"{oid}/{oid}_{s}.stl", "sha256": "a" * 64, "bytes": 4726284}
                          for s in ("left", "right")], "insoles": 2,
                "timings": {"mesh_s": 0.05}, "worker": "host:1"}) + "\n")
    proc = subprocess.run([sys.executable, "-c", MANIFEST_PEAK, str(tmp_path)],
                          capture_output=True, text=True, timeout=110, cwd=ROOT)
    count, grown_mb, path = proc.stdout.split()
    assert (int(count), path) == (100_000, "ORDER-077777/ORDER-077777_left.stl"), proc.stderr
    assert int(grown_mb) < 40, f"{grown_mb} MB for 100,000 earlier entries"
