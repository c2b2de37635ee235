"""Issue 3 acceptance: the same batch on a real Dask cluster (LocalCluster on loopback,
two worker processes) writes byte-identical files to the process-pool run.

Workers return the files' bytes and the client writes them, so the same path
serves a remote cluster without shared storage; a scan travels with its job.
"""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import numpy as np
import pytest
from stl.mesh import Mesh

from batchutil import assert_order_valid, manifest
from conftest import CONDITIONS, ROOT, run_cli
from insolegen.batch import cluster as batch_dask
from insolegen.batch.run import Row, WorkItem, make, run_batch, validate
from insolegen.core.errors import InputError

distributed = pytest.importorskip("distributed")

SCANS = ROOT / "scans"


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def orders(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("orders")
    shutil.copy(SCANS / "dupontgu_right_m.stl", folder / "right.stl")
    path = folder / "orders.csv"
    with open(path, "w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(["order_id", "side", "conditions", "foot_length_mm", "shoe_size", "scan",
                         "resolution_mm", "formats"])
        for i in range(8):
            writer.writerow([f"Q{i:02d}", ("both", "left", "right")[i % 3], CONDITIONS[i % 6],
                             "" if i % 4 == 3 else 230 + 7 * i, "EU 41" if i % 4 == 3 else "",
                             "", "3", "stl;3mf" if i == 5 else ""])
        writer.writerow(["Q-scan", "right", "flat_feet", "", "", "right.stl", "3", ""])
        writer.writerow(["Q-bad", "both", "neutral", "-1", "", "", "3", ""])
    return path


def files_of(out: Path) -> dict[str, bytes]:
    return {str(p.relative_to(out)): p.read_bytes() for p in sorted(out.rglob("*"))
            if p.is_file() and p.parent != out}


def test_dask_cluster_writes_the_same_bytes_as_the_process_pool(cluster, orders, tmp_path):
    pool = run_batch(orders, tmp_path / "pool", workers=2)
    dask = run_cli("batch", str(orders), "--out", str(tmp_path / "dask"), "--scheduler",
                   cluster.scheduler_address, timeout=300)
    assert pool.exit_code == dask.returncode == 3, dask.stderr[-2000:]
    assert "9 done, 1 failed" in dask.stdout and f"dask {cluster.scheduler_address}" in \
        dask.stdout
    a, b = files_of(tmp_path / "pool"), files_of(tmp_path / "dask")
    pool_lines, dask_lines = manifest(tmp_path / "pool"), manifest(tmp_path / "dask")
    assert a.keys() == b.keys() and len(a) == sum(len(e["files"]) for e in pool_lines) >= 22
    for name in a:
        assert a[name] == b[name], name
    for p, d in zip(pool_lines, dask_lines):
        assert (p["order_id"], p["status"], p["files"], p["fingerprint"], p["error"]) == \
            (d["order_id"], d["status"], d["files"], d["fingerprint"], d["error"])
        if d["status"] == "done":
            assert_order_valid(tmp_path / "dask", d)
    workers = {e["worker"] for e in dask_lines if e["status"] == "done"}
    assert len(workers) == 2, "both Dask workers took orders"
    # a rerun through the cluster skips everything done by the pool
    again = run_batch(orders, tmp_path / "pool", scheduler=cluster.scheduler_address)
    assert again.counts == {"done": 0, "failed": 1, "skipped": 9}


def test_a_worker_without_the_scan_file_uses_the_bytes_it_was_sent(tmp_path):
    """What a remote worker without shared storage does: the scan is gone from the path
    the order names, so the worker reads the copy of the bytes that came with the job."""
    scan = tmp_path / "left.stl"
    shutil.copy(SCANS / "dupontgu_left_m.stl", scan)
    (job,), failed = validate([Row(1, {"order_id": "S", "side": "left", "conditions": "neutral",
                                       "scan": "left.stl", "resolution_mm": "3"})], tmp_path)
    assert not failed
    here = make(WorkItem(job))
    data = scan.read_bytes()
    scan.unlink()
    there = make(WorkItem(job, data))
    assert here.error is None and there.error is None, (here.error, there.error)
    assert there.files == here.files
    assert make(WorkItem(job)).reason == "scan changed"


def test_an_unreachable_scheduler_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(batch_dask, "CONNECT_TIMEOUT_S", 2.0)
    orders = [{"order_id": "U1", "conditions": "neutral", "foot_length_mm": 250}]
    with pytest.raises(InputError, match="scheduler = 'tcp://127.0.0.1:9': cannot connect"):
        run_batch(orders, tmp_path / "out", scheduler="tcp://127.0.0.1:9")
    assert not (tmp_path / "out" / "U1").exists()
    assert not (tmp_path / "out" / "manifest.jsonl").exists()


def test_an_unusable_scan_sent_as_bytes_is_named_by_the_orders_path(tmp_path):
    """A worker reading the bytes it was sent reports the order's scan path, never the
    private copy it made."""
    scan = tmp_path / "plate.stl"
    plate = np.array([[[0, 0, 0], [260, 0, 0], [260, 100, 0]], [[0, 0, 0], [260, 100, 0],
                                                                 [0, 100, 0]]], np.float32)
    mesh = Mesh(np.zeros(len(plate), dtype=Mesh.dtype))
    mesh.vectors[:] = plate
    mesh.save(str(scan))
    (job,), _ = validate([Row(1, {"order_id": "P", "side": "left", "conditions": "neutral",
                                  "scan": "plate.stl"})], tmp_path)
    data = scan.read_bytes()
    scan.unlink()
    out = make(WorkItem(job, data))
    assert out.reason == "unusable scan", out
    assert out.error.startswith(f"scan = '{scan}':"), out.error
    assert "insolegen-scan-" not in out.error
