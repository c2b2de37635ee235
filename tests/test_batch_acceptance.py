"""Issue 3 acceptance: a 200-order batch with 10 bad orders, and the shipped example.

The 190 good orders are written and valid, the 10 bad ones fail alone with a
clear reason in the manifest, the exit status is 3, and nothing appears
outside the batch folder. The example orders files (CSV and its JSON Lines
twin) run clean.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from batchutil import assert_order_valid, manifest, tree
from conftest import CONDITIONS, ROOT, run_cli
from insolegen.batch.run import read_orders, run_batch, validate

EXAMPLES = ROOT / "examples"
COLUMNS = ["order_id", "side", "conditions", "foot_length_mm", "shoe_size", "scan",
           "resolution_mm", "set.heel_cup_depth_mm"]
SIZES = ("EU 38", "EU 42", "UK 9", "US-W 8", "US-M 11", "Mondopoint 255")


def good_orders(n: int) -> list[dict]:
    """``n`` varied measurement and shoe-size orders, coarse (3 mm) where detail does not matter."""
    rows = []
    for i in range(n):
        row = {"order_id": f"G{i:03d}", "side": ("both", "left", "right")[i % 3],
               "conditions": CONDITIONS[i % len(CONDITIONS)], "resolution_mm": "3"}
        if i % 5 == 4:
            row["shoe_size"] = SIZES[i % len(SIZES)]
        else:
            row["foot_length_mm"] = str(220 + (i * 13) % 90)
        if i % 7 == 3:
            row["conditions"] += ";plantar_fasciitis" if CONDITIONS[i % 6] != "supination" else ""
            row["set.heel_cup_depth_mm"] = "17"
        rows.append(row)
    return rows


BAD = [  # (row, expected reason)
    ({"order_id": "B-condition", "conditions": "bunions", "foot_length_mm": "250"},
     "invalid condition"),
    ({"order_id": "B-negative", "conditions": "neutral", "foot_length_mm": "-265"},
     "invalid foot_length_mm"),
    ({"order_id": "B-missing-scan", "conditions": "neutral", "scan": "scans/nowhere.stl"},
     "invalid scan"),
    ({"order_id": "B-corrupt-scan", "conditions": "neutral", "scan": "scans/corrupt.stl"},
     "unusable scan"),
    ({"order_id": "../../etc/x", "conditions": "neutral", "foot_length_mm": "250"},
     "invalid order_id"),
    ({"order_id": "G005", "conditions": "neutral", "foot_length_mm": "250"},
     "duplicate order_id"),
    ({"order_id": "B" * 129, "conditions": "neutral", "foot_length_mm": "250"},
     "invalid order_id"),
    ({"order_id": "B-side", "side": "middle", "conditions": "neutral", "foot_length_mm": "250"},
     "invalid side"),
    ({"order_id": "B-override", "conditions": "neutral", "foot_length_mm": "250",
      "set.heel_cup_depth_mm": "95"}, "invalid heel_cup_depth_mm"),
    ({"order_id": "B-size", "conditions": "neutral", "shoe_size": "EU 99"},
     "invalid shoe_size"),
]


@pytest.fixture(scope="module")
def big_batch(tmp_path_factory):
    """200 orders, bad ones spread through the file, run through the command line."""
    sandbox = tmp_path_factory.mktemp("sandbox")
    orders_dir = sandbox / "orders"
    (orders_dir / "scans").mkdir(parents=True)
    (orders_dir / "scans" / "corrupt.stl").write_bytes(b"solid x\n" + bytes(range(256)) * 40)
    rows = good_orders(190)
    bad = [{**row, "resolution_mm": "3"} for row, _ in BAD]
    for k, row in enumerate(bad):
        rows.insert(7 + 19 * k, row)
    bad_lines = [next(i for i, r in enumerate(rows) if r is row) + 2 for row in bad]
    path = orders_dir / "orders.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    out = sandbox / "deep" / "deeper" / "out"
    before = tree(sandbox)
    done = run_cli("batch", str(path), "--out", str(out), "--workers", "2", timeout=300)
    return {"sandbox": sandbox, "out": out, "bad_lines": bad_lines, "before": before, "cli": done}


def test_exit_status_3_and_a_summary_by_reason(big_batch):
    done = big_batch["cli"]
    assert done.returncode == 3, done.stderr[-3000:]
    assert "200 orders from orders.csv: 190 done, 10 failed, 0 skipped" in done.stdout
    assert "failures by reason:" in done.stdout and "insoles/s" in done.stdout
    for _, reason in BAD:
        assert reason in done.stdout


def test_the_190_good_orders_are_written_and_valid(big_batch):
    out = big_batch["out"]
    lines = manifest(out)
    assert len(lines) == 200
    done = [e for e in lines if e["status"] == "done"]
    assert sorted(e["order_id"] for e in done) == [f"G{i:03d}" for i in range(190)]
    for entry in done:
        assert_order_valid(out, entry)
    assert {p.name for p in out.iterdir()} == {e["order_id"] for e in done} | {
        "manifest.jsonl"}  # the lock is removed when the batch ends (issue 15)


def test_the_10_bad_orders_fail_alone_with_line_and_reason(big_batch):
    lines = manifest(big_batch["out"])
    failed = [e for e in lines if e["status"] == "failed"]
    assert [(e["order_id"], e["reason"], e["line"]) for e in failed] == \
        [(row["order_id"], reason, line) for (row, reason), line in
         zip(BAD, big_batch["bad_lines"])]
    for entry in failed:
        assert entry["error"] and "\n" not in entry["error"] and entry["files"] == []
    duplicate = next(e for e in failed if e["reason"] == "duplicate order_id")
    assert "duplicate of the order on line" in duplicate["error"]


def test_nothing_appears_outside_the_batch_folder(big_batch):
    added = tree(big_batch["sandbox"]) - big_batch["before"]
    inside = ("deep", "deep/deeper", "deep/deeper/out")
    assert added and all(p.startswith("deep/deeper/out/") or p in inside for p in added), \
        sorted(added)[:10]
    assert not (big_batch["sandbox"] / "deep" / "etc").exists()
    assert not Path("/etc/x").exists()


def test_a_rerun_skips_every_done_order(big_batch):
    done = run_cli("batch", str(big_batch["sandbox"] / "orders" / "orders.csv"), "--out",
                   str(big_batch["out"]), timeout=300)
    assert done.returncode == 3
    assert "0 done, 10 failed, 190 skipped" in done.stdout
    corrupt = next(e for e in manifest(big_batch["out"]) if e["order_id"] == "B-corrupt-scan")
    assert "not retried" in corrupt["note"]


# ---------------------------------------------------------------- the shipped example


def test_example_orders_cover_every_condition_side_and_input():
    rows = read_orders(EXAMPLES / "orders.csv")
    assert len(rows) >= 20
    fields = [r.fields for r in rows]
    conditions = {c for f in fields for c in f["conditions"].split(";")}
    assert set(CONDITIONS) <= conditions | {"pes_planus", "heel_spur"}
    assert {f["side"] for f in fields} == {"left", "right", "both"}
    assert any(f["foot_length_mm"] for f in fields) and any(f["shoe_size"] for f in fields)
    assert {f["scan"] for f in fields if f["scan"]} == {
        "../scans/dupontgu_left_m.stl", "../scans/dupontgu_right_m.stl",
        "../scans/makehuman_left_mm_yup.obj"}


def test_example_jsonl_is_the_csv_twin():
    csv_jobs, csv_bad = validate(read_orders(EXAMPLES / "orders.csv"), EXAMPLES)
    jsonl_jobs, jsonl_bad = validate(read_orders(EXAMPLES / "orders.jsonl"), EXAMPLES)
    assert not csv_bad and not jsonl_bad
    assert len(csv_jobs) == len(jsonl_jobs)
    for a, b in zip(csv_jobs, jsonl_jobs):
        assert (a.order.order_id, a.order.side, a.order.conditions, a.order.scan,
                a.order.formats) == (b.order.order_id, b.order.side, b.order.conditions,
                                     b.order.scan, b.order.formats)
        assert a.parameters_sha256 == b.parameters_sha256
        ma, mb = a.order.measurements, b.order.measurements
        assert (ma is None) == (mb is None)
        if ma is not None:
            for name in ("foot_length_mm", "ball_width_mm", "heel_width_mm", "navicular_height_mm",
                         "plantar_arch_height_mm", "ball_length_mm"):
                va, vb = getattr(ma, name), getattr(mb, name)
                assert (va is None and vb is None) or float(va) == float(vb)
            assert ma.shoe_size == mb.shoe_size


def test_example_orders_run_clean(tmp_path):
    result = run_batch(EXAMPLES / "orders.csv", tmp_path / "out", workers=2)
    assert result.exit_code == 0, result.summary()
    assert result.counts["done"] == len(result.orders) >= 20
    for entry in manifest(tmp_path / "out"):
        assert_order_valid(tmp_path / "out", entry)
