"""Batch orders: reading, validation, the manifest, reruns, and the safety of DIR.

Real orders files on disk through the real pipeline; most runs are in this
process (``workers=0``) at a coarse resolution, where geometry detail does
not matter.
"""

from __future__ import annotations

import fcntl
import json
import os

import pytest

from batchutil import assert_order_valid, manifest, tree, write
from insolegen import __version__
from insolegen.batch.run import (MANIFEST_NAME, OrderResult, read_orders, run_batch, validate,
                             write_order)
from insolegen.batch.folder import publish, stage, staging_dir
from insolegen.core.errors import InputError, OutputError

COARSE = "4"
HEADER = "order_id,side,conditions,foot_length_mm,shoe_size,resolution_mm"


# ---------------------------------------------------------------- reading


def test_csv_columns_in_any_order_with_bom_blanks_and_semicolons(tmp_path):
    orders = write(tmp_path / "o.csv", "\ufeffconditions ,Order_ID,side,set.heel_cup_depth_mm,"
                   "foot_length_mm,shoe_size\r\n"
                   "flat_feet;overpronation,A1,left,17,250,\r\n"
                   "\r\n"
                   "neutral,A2,,,,EU 42\r\n")
    rows = read_orders(orders)
    assert [r.line for r in rows] == [2, 4]
    jobs, failed = validate(rows, tmp_path)
    assert not failed
    a1, a2 = (j.order for j in jobs)
    assert a1.conditions == ("flat_feet", "overpronation") and a1.side == "left"
    assert a1.overrides == {"heel_cup_depth_mm": "17"}
    assert a2.side == "both" and a2.measurements.shoe_size == "EU 42"
    assert a2.overrides == {} and a2.measurements.foot_length_mm is None


def test_csv_line_numbers_count_physical_lines(tmp_path):
    orders = write(tmp_path / "o.csv", 'order_id,conditions,foot_length_mm\n'
                   'A1,"neutral;\nflat_feet",250\n'
                   'A2,bogus,250\n')
    jobs, failed = validate(read_orders(orders), tmp_path)
    assert [j.line for j in jobs] == [2]
    assert [(f.line, f.reason) for f in failed] == [(4, "invalid condition")]


def test_jsonl_orders_use_lists_and_a_set_object(tmp_path):
    orders = write(tmp_path / "o.jsonl",
                   '{"order_id": "J1", "conditions": ["high_arches"], "foot_length_mm": 270, '
                   '"set": {"met_pad": true}}\n\n'
                   '{"order_id": "J2", "conditions": "neutral", \n'
                   '[1, 2]\n')
    jobs, failed = validate(read_orders(orders), tmp_path)
    assert [j.order.order_id for j in jobs] == ["J1"]
    assert jobs[0].order.overrides == {"met_pad": True}
    assert [(f.line, f.reason) for f in failed] == [(3, "unreadable line"),
                                                    (4, "unreadable line")]
    assert "line 3: not valid JSON" in failed[0].error


def test_unknown_field_in_jsonl_fails_that_order(tmp_path):
    orders = write(tmp_path / "o.jsonl",
                   '{"order_id": "J1", "conditions": "neutral", "foot_length_mm": 250}\n'
                   '{"order_id": "J2", "conditions": "neutral", "foot_lenght_mm": 250}\n')
    jobs, failed = validate(read_orders(orders), tmp_path)
    assert len(jobs) == 1 and failed[0].line == 2 and "foot_lenght_mm" in failed[0].error


@pytest.mark.parametrize("name, content, words", [
    ("o.csv", "A1,both,neutral,265\n", "no 'order_id' column"),
    ("o.csv", "", "empty"),
    ("o.csv", "order_id,conditions,colour\n", "'colour': unknown"),
    ("o.csv", "order_id,conditions,foot_lenght_mm\n", "did you mean 'foot_length_mm'"),
    ("o.csv", "order_id,conditions,set.heel_cup_dept_mm\n", "did you mean 'heel_cup_depth_mm'"),
    ("o.csv", "order_id,conditions,order_id\n", "given twice"),
    ("o.jsonl", '[{"order_id": "A1"}]\n', "JSON array"),
    ("o.jsonl", "\x00\x01garbage\nmore garbage\n", "not JSON Lines"),
    ("o.csv", b"order_id\n\xff\xfe\xfa\n", "not UTF-8"),
    ("missing.csv", None, "cannot be read"),
])
def test_an_unusable_orders_file_is_one_error_and_exit_2(tmp_path, name, content, words):
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=words):
        run_batch(path, tmp_path / "out", workers=0)
    assert not (tmp_path / "out").exists()
    from cli import main
    assert main(["batch", str(path), "--out", str(tmp_path / "out")]) == 2


def test_header_only_csv_is_an_empty_batch(tmp_path):
    result = run_batch(write(tmp_path / "o.csv", HEADER + "\n"), tmp_path / "out", workers=0)
    assert result.orders == () and result.exit_code == 0
    assert (tmp_path / "out" / MANIFEST_NAME).read_text() == ""


# ---------------------------------------------------------------- order ids


EVIL_IDS = ["../../etc/x", "a/b", "/abs", "..", ".hidden", "x" * 129, "a\x00b", "a\\b",
            "manifest.jsonl", "MANIFEST.JSONL", "", " A1", "a..b", "~", "a b"]


def test_untrusted_ids_fail_alone_and_nothing_is_written_outside_dir(tmp_path):
    sandbox = tmp_path / "sandbox"
    out = sandbox / "a" / "b" / "out"
    out.mkdir(parents=True)
    orders = [{"order_id": i, "conditions": "neutral", "foot_length_mm": 250,
               "resolution_mm": COARSE} for i in EVIL_IDS]
    orders.append({"order_id": "good", "conditions": "neutral", "foot_length_mm": 250,
                   "resolution_mm": COARSE})
    orders_file = tmp_path / "evil.jsonl"
    orders_file.write_text("".join(json.dumps(o) + "\n" for o in orders), encoding="utf-8")
    before = tree(tmp_path)
    result = run_batch(orders_file, out, workers=0)
    assert result.exit_code == 3
    assert [r.status for r in result.orders] == ["failed"] * len(EVIL_IDS) + ["done"]
    for r in result.orders[:-1]:
        assert r.reason == "invalid order_id", (r.order_id, r.error)
        assert r.files == ()
    added = tree(tmp_path) - before
    assert all(p.startswith("sandbox/a/b/out/") for p in added), added
    assert {p.split("/")[4] for p in added} == {"good", MANIFEST_NAME}  # lock removed at the end (issue 15)
    lines = manifest(out)
    assert [e["order_id"] for e in lines[:len(EVIL_IDS)]] == [i[:200] for i in EVIL_IDS]


def test_duplicate_ids_are_errors_for_the_later_ones_regardless_of_case(tmp_path):
    orders = write(tmp_path / "o.csv", HEADER + "\n"
                   f"D1,left,neutral,250,,{COARSE}\n"
                   f"D2,left,neutral,250,,{COARSE}\n"
                   f"D1,right,flat_feet,260,,{COARSE}\n"
                   f"d1,right,flat_feet,260,,{COARSE}\n")
    result = run_batch(orders, tmp_path / "out", workers=0)
    assert [(r.order_id, r.status) for r in result.orders] == [
        ("D1", "done"), ("D2", "done"), ("D1", "failed"), ("d1", "failed")]
    assert result.orders[2].reason == "duplicate order_id"
    assert "duplicate of the order on line 2" in result.orders[3].error
    # the first D1 is the one on disk
    report = json.loads((tmp_path / "out" / "D1" / "D1.json").read_text())
    assert report["order"]["side"] == "left"


# ---------------------------------------------------------------- writing


def test_write_order_is_whole_or_nothing_and_never_replaces_foreign_folders(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    records = write_order(out, "W1", {"W1_right.stl": b"x" * 100, "W1.json": b"{}"})
    assert [r["path"] for r in records] == ["W1/W1_right.stl", "W1/W1.json"]
    assert sorted(os.listdir(out)) == ["W1"]
    (out / "Docs").mkdir()
    (out / "Docs" / "thesis.txt").write_text("precious")
    with pytest.raises(OutputError, match="not an insolegen order folder"):
        write_order(out, "Docs", {"Docs.json": b"{}"})
    assert (out / "Docs" / "thesis.txt").read_text() == "precious"
    with pytest.raises(OutputError, match="not a file name"):
        write_order(out, "W2", {"../W2.json": b"{}"})
    assert sorted(os.listdir(out)) == ["Docs", "W1"]


def test_a_symlinked_order_folder_is_replaced_not_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / "S1").symlink_to(outside, target_is_directory=True)
    orders = [{"order_id": "S1", "conditions": "neutral", "foot_length_mm": 250,
               "resolution_mm": COARSE}]
    result = run_batch(orders, out, workers=0)
    assert result.orders[0].status == "done"
    assert not (out / "S1").is_symlink() and (out / "S1" / "S1.json").is_file()
    assert list(outside.iterdir()) == []


def test_manifest_symlink_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / MANIFEST_NAME).symlink_to(tmp_path / "elsewhere.jsonl")
    with pytest.raises(OutputError, match="not a regular file"):
        run_batch([], out, workers=0)
    assert not (tmp_path / "elsewhere.jsonl").exists()


def test_a_second_batch_into_the_same_folder_is_refused(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    with open(out / ".insolegen-batch.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        with pytest.raises(OutputError, match="another insolegen batch"):
            run_batch([], out, workers=0)


# ---------------------------------------------------------------- manifest and reruns


def _orders(n: int, **extra) -> list[dict]:
    conditions = ("neutral", "flat_feet", "high_arches", "plantar_fasciitis", "overpronation",
                  "supination")
    return [{"order_id": f"R{i}", "side": ("both", "left", "right")[i % 3],
             "conditions": conditions[i % 6], "foot_length_mm": 230 + 9 * i,
             "resolution_mm": COARSE, **extra} for i in range(n)]


def test_manifest_records_files_hashes_fingerprint_timings_and_version(tmp_path):
    out = tmp_path / "out"
    result = run_batch(_orders(3), out, workers=0)
    lines = manifest(out)
    assert [e["order_id"] for e in lines] == ["R0", "R1", "R2"]
    for entry, r in zip(lines, result.orders):
        assert entry == r.to_json()
        assert entry["status"] == "done" and entry["error"] is None
        assert entry["insolegen_version"] == __version__
        assert entry["fingerprint"].startswith("sha256:")
        assert {"compute_s", "write_s", "design_s", "mesh_s"} <= set(entry["timings"])
        assert_order_valid(out, entry)
    assert [len(e["files"]) for e in lines] == [3, 2, 2]
    assert lines[1]["files"][0]["path"] == "R1/R1_left.stl"


def test_rerun_skips_intact_orders_and_redoes_damaged_changed_and_missing(tmp_path):
    out = tmp_path / "out"
    orders = _orders(6)
    first = run_batch(orders, out, workers=0)
    assert first.counts["done"] == 6
    stat = {p: p.stat().st_mtime_ns for p in out.rglob("*.stl")}
    # R1: a file damaged; R2: its folder gone; R3: the order changed
    stl = out / "R1" / "R1_left.stl"
    data = bytearray(stl.read_bytes())
    data[200] ^= 0xFF
    stl.write_bytes(bytes(data))
    import shutil
    shutil.rmtree(out / "R2")
    orders[3] = {**orders[3], "set": {"heel_cup_depth_mm": 15}}
    second = run_batch(orders, out, workers=0)
    assert [r.status for r in second.orders] == ["skipped", "done", "done", "done", "skipped",
                                                 "skipped"]
    assert second.insoles_made == 1 + 1 + 2
    lines = manifest(out)
    assert len(lines) == 6 and [e["status"] for e in lines] == [r.status for r in second.orders]
    for entry in lines:
        assert_order_valid(out, entry)
    for path in (out / "R0").glob("*.stl"):  # skipped: not rewritten
        assert path.stat().st_mtime_ns == stat[path]
    assert lines[0]["note"].startswith("done earlier")
    third = run_batch(orders, out, workers=0)
    assert {r.status for r in third.orders} == {"skipped"} and third.exit_code == 0


def test_fingerprint_covers_order_parameters_and_version_but_not_timings(tmp_path):
    from insolegen.batch.run import Row
    rows = [Row(1, o) for o in _orders(2)]
    a, _ = validate(rows, tmp_path)
    b, _ = validate(rows, tmp_path)
    assert [j.fingerprint for j in a] == [j.fingerprint for j in b]
    c, _ = validate([Row(1, {**rows[0].fields, "side": "left"})], tmp_path)
    assert c[0].fingerprint != a[0].fingerprint


def test_a_manifest_cut_short_by_a_kill_is_read_and_repaired(tmp_path):
    out = tmp_path / "out"
    run_batch(_orders(2), out, workers=0)
    with open(out / MANIFEST_NAME, "a") as fh:
        fh.write('{"order_id": "R9", "status": "do')
    result = run_batch(_orders(3), out, workers=0)
    assert [r.status for r in result.orders] == ["skipped", "skipped", "done"]
    assert [e["order_id"] for e in manifest(out)] == ["R0", "R1", "R2"]


def test_entries_of_other_orders_files_are_kept(tmp_path):
    out = tmp_path / "out"
    run_batch(_orders(2), out, workers=0)
    other = [{"order_id": "X1", "conditions": "neutral", "foot_length_mm": 250,
              "resolution_mm": COARSE}]
    run_batch(other, out, workers=0)
    assert [e["order_id"] for e in manifest(out)] == ["X1", "R0", "R1"]
    assert [r.status for r in run_batch(_orders(2), out, workers=0).orders] == ["skipped"] * 2


def test_stale_temporaries_of_a_killed_batch_are_removed(tmp_path):
    out = tmp_path / "out"
    run_batch(_orders(1), out, workers=0)
    (out / ".insolegen-tmp-0123456789ab-R5").mkdir()
    (out / ".insolegen-tmp-0123456789ab-R5" / "R5_left.stl").write_bytes(b"half")
    run_batch(_orders(1), out, workers=0)
    assert {p.name for p in out.iterdir()} == {MANIFEST_NAME, "R0"}  # lock removed (issue 15)


def test_dry_run_validates_and_plans_but_writes_nothing(tmp_path):
    out = tmp_path / "out"
    run_batch(_orders(2), out, workers=0)
    before = {p: p.stat().st_mtime_ns for p in out.rglob("*")}
    orders = [*_orders(3), {"order_id": "bad", "conditions": "bogus", "foot_length_mm": 250}]
    result = run_batch(orders, out, dry_run=True)
    assert [r.status for r in result.orders] == ["skipped", "skipped", "pending", "failed"]
    assert result.exit_code == 3 and "dry run" in result.summary()
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*")} == before
    assert run_batch(orders, tmp_path / "new", dry_run=True).counts["pending"] == 3
    assert not (tmp_path / "new").exists()


# ---------------------------------------------------------------- API, CLI, pool


def test_python_api_takes_mappings_and_reports_each_result(tmp_path):
    seen: list[OrderResult] = []
    result = run_batch(_orders(2) + [{"order_id": "neg", "conditions": "neutral",
                                      "foot_length_mm": -250}],
                       tmp_path / "out", workers=0, on_result=seen.append)
    assert sorted(r.line for r in seen) == [1, 2, 3]
    assert [r.status for r in result.orders] == ["done", "done", "failed"]
    assert result.failures_by_reason == {"invalid foot_length_mm": 1}
    assert result.exit_code == 3
    text = result.summary()
    assert "2 done, 1 failed, 0 skipped" in text and "invalid foot_length_mm" in text
    assert "line 3: foot_length_mm = -250" in text


def test_bad_worker_and_scheduler_arguments(tmp_path):
    with pytest.raises(InputError, match="workers = -1"):
        run_batch([], tmp_path / "out", workers=-1)
    with pytest.raises(InputError, match="not both"):
        run_batch([], tmp_path / "out", workers=2, scheduler="tcp://127.0.0.1:1")
    assert not (tmp_path / "out").exists()


def test_cli_batch_writes_summary_and_log_lines(tmp_path):
    from conftest import run_cli
    orders = write(tmp_path / "o.csv", HEADER + "\n"
                   f"C1,both,neutral,250,,{COARSE}\n"
                   f"C2,left,flat_feet,,EU 41,{COARSE}\n"
                   f"C3,left,flat_feet,,EU 99,{COARSE}\n")
    done = run_cli("batch", str(orders), "--out", str(tmp_path / "out"), "--workers", "2")
    assert done.returncode == 3, done.stderr
    assert "3 orders from o.csv: 2 done, 1 failed, 0 skipped" in done.stdout
    assert "line 4: shoe_size = 'EU 99'" in done.stdout
    assert "o.csv line 4: invalid order: shoe_size" in done.stderr
    assert "] C1 done" in done.stderr and "] C2 done" in done.stderr
    again = run_cli("batch", str(orders), "--out", str(tmp_path / "out"))
    assert again.returncode == 3 and "0 done, 1 failed, 2 skipped" in again.stdout


def test_a_killed_worker_process_costs_no_order(tmp_path, caplog):
    """A pool worker killed mid-order (as the OOM killer would): the orders in flight
    are redone in a fresh pool, one at a time, and all succeed."""
    import signal

    import psutil
    killed: list[int] = []

    def kill_a_worker(result: OrderResult) -> None:
        if not killed:
            workers = [p for p in psutil.Process().children(recursive=True)
                       if "spawn_main" in " ".join(p.cmdline())]
            victim = max(workers, key=lambda p: p.cpu_times().user)
            killed.append(victim.pid)
            os.kill(victim.pid, signal.SIGKILL)

    result = run_batch(_orders(12), tmp_path / "out", workers=2, on_result=kill_a_worker)
    assert killed and "a worker process died" in caplog.text
    assert [r.status for r in result.orders] == ["done"] * 12, \
        [(r.order_id, r.error) for r in result.orders if r.error]
    for entry in manifest(tmp_path / "out"):
        assert_order_valid(tmp_path / "out", entry)
    assert not [p for p in (tmp_path / "out").iterdir() if p.name.startswith(".insolegen-tmp")], \
        "what the dead worker had staged is removed"


def test_pool_workers_stage_the_same_bytes_the_batch_process_writes(tmp_path):
    pool = run_batch(_orders(4), tmp_path / "pool", workers=2)
    inline = run_batch(_orders(4), tmp_path / "inline", workers=0)
    assert pool.counts["done"] == inline.counts["done"] == 4
    assert all(r.timings.get("stage_s") is not None for r in pool.orders)
    assert tree(tmp_path / "pool") == tree(tmp_path / "inline")
    assert [r.files for r in pool.orders] == [r.files for r in inline.orders]


def test_publish_refuses_a_staged_folder_that_is_not_what_was_recorded(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    staged = staging_dir(out, "P1")
    records = stage(staged, "P1", {"P1.json": b"{}", "P1_left.stl": b"solid"})
    (staged / "P1_extra.stl").write_bytes(b"planted")
    with pytest.raises(OutputError, match="the staged files are not the ones recorded"):
        publish(out, "P1", staged, records)
    assert sorted(p.name for p in out.iterdir()) == []
    staged = staging_dir(out, "P1")
    records = stage(staged, "P1", {"P1.json": b"{}"})
    (staged / "P1.json").write_bytes(b"{} and more")
    with pytest.raises(OutputError, match="not the ones recorded"):
        publish(out, "P1", staged, records)
    staged = staging_dir(out, "P1")
    publish(out, "P1", staged, stage(staged, "P1", {"P1.json": b"{}"}))
    assert sorted(p.name for p in out.iterdir()) == ["P1"]


def test_results_need_not_be_kept_for_huge_batches(tmp_path):
    orders = _orders(3) + [{"order_id": "bad", "conditions": "bogus", "foot_length_mm": 250}]
    kept = run_batch(orders, tmp_path / "a", workers=0)
    lean = run_batch(orders, tmp_path / "b", workers=0, keep_results=False)
    assert lean.orders == () and len(kept.orders) == 4
    assert lean.counts == kept.counts == {"done": 3, "failed": 1, "skipped": 0}
    assert lean.failures_by_reason == kept.failures_by_reason == {"invalid condition": 1}
    assert lean.insoles_made == kept.insoles_made == 4
    assert lean.summary().replace(str(tmp_path / "b"), "X").splitlines()[2:] == \
        kept.summary().replace(str(tmp_path / "a"), "X").splitlines()[2:]
    assert [e["status"] for e in manifest(tmp_path / "b")] == ["done"] * 3 + ["failed"]


def test_input_failures_are_not_retried_unless_asked_and_a_fixed_scan_is(tmp_path):
    """A corrupt scan fails the same way every time: a rerun carries the failure over
    without making it again; --retry-failed makes it again; a new scan file is new input."""
    from conftest import ROOT
    scan = tmp_path / "foot.stl"
    scan.write_bytes(b"solid foot\n" + bytes(range(256)) * 8)
    orders = [{"order_id": "F1", "side": "left", "conditions": "neutral", "scan": str(scan),
               "resolution_mm": "3"}]
    first = run_batch(orders, tmp_path / "out", workers=0).orders[0]
    assert (first.status, first.reason) == ("failed", "unusable scan")
    assert "compute_s" in first.timings
    second = run_batch(orders, tmp_path / "out", workers=0).orders[0]
    assert (second.status, second.error) == ("failed", first.error)
    assert second.timings == {} and "--retry-failed" in second.note
    third = run_batch(orders, tmp_path / "out", workers=0, retry_failed=True).orders[0]
    assert third.status == "failed" and "compute_s" in third.timings and third.note is None
    import shutil
    shutil.copy(ROOT / "scans" / "dupontgu_left_m.stl", scan)
    fixed = run_batch(orders, tmp_path / "out", workers=0).orders[0]
    assert fixed.status == "done", fixed.error
    assert_order_valid(tmp_path / "out", fixed.to_json())


def test_scan_root_refuses_scans_outside_it_even_through_symlinks(tmp_path):
    from conftest import ROOT
    root = tmp_path / "scans"
    root.mkdir()
    inside = root / "foot.stl"
    inside.write_bytes((ROOT / "scans" / "dupontgu_left_m.stl").read_bytes())
    (root / "link.stl").symlink_to(ROOT / "scans" / "dupontgu_left_m.stl")
    rows = [{"order_id": f"S{i}", "side": "left", "conditions": "neutral", "scan": scan}
            for i, scan in enumerate(["foot.stl", "link.stl", "../scans/../scans/foot.stl",
                                      str(ROOT / "scans" / "dupontgu_left_m.stl")])]
    from insolegen.batch.run import Row
    jobs, failed = validate([Row(i + 1, r) for i, r in enumerate(rows)], root, scan_root=root)
    assert [j.order.order_id for j in jobs] == ["S0", "S2"]
    assert [(f.order_id, f.reason) for f in failed] == [("S1", "invalid scan"),
                                                        ("S3", "invalid scan")]
    assert "outside the scan root" in failed[0].error
    jobs, failed = validate([Row(i + 1, r) for i, r in enumerate(rows)], root)
    assert len(jobs) == 4 and not failed


def test_orders_sharing_a_scan_process_it_once_per_worker(tmp_path, monkeypatch):
    """A worker keeps the feet it scanned: the second order on the same scan file does not
    process the scan again, and makes exactly the files it makes on its own."""
    import shutil

    from conftest import ROOT
    from insolegen.batch import work as batch_work
    from insolegen.pipeline import job as pipeline

    shutil.copy(ROOT / "scans" / "dupontgu_left_m.stl", tmp_path / "left.stl")
    scanned: list[str] = []
    real = pipeline.foot_for

    def counting(order):
        scanned.append(order.order_id)
        return real(order)

    monkeypatch.setattr(pipeline, "foot_for", counting)
    monkeypatch.setattr(batch_work, "_FEET", batch_work.OrderedDict())
    orders = [{"order_id": f"S{i}", "side": "left", "conditions": c, "scan": "left.stl",
               "resolution_mm": COARSE} for i, c in enumerate(["neutral", "flat_feet"])]
    shared = run_batch(orders, tmp_path / "shared", workers=0, base_dir=tmp_path)
    assert shared.counts["done"] == 2 and scanned == ["S0"]
    batch_work._FEET.clear()
    alone = run_batch(orders[1:], tmp_path / "alone", workers=0, base_dir=tmp_path)
    assert scanned == ["S0", "S1"]
    assert shared.orders[1].files == alone.orders[0].files
