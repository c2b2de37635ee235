"""From a 500k-triangle foot scan to a finished insole pair, stage by stage.

The scan is the real right-foot sample (``scans/dupontgu_right_m.stl``, 12.8k
triangles) subdivided to edges of at most 0.88 mm: 533k triangles, 26 MB of
binary STL in metres. Stages, each timed on its own (median of ``--repeat``
runs, one process): load (read and parse the file), clean (units, floor,
pieces, surface sampling), align (sole, axes, heel/toe, side), measure
(lengths, landmarks, plantar surface, outline), build (design and mesh of the
pair) and write (serialise, read back, measure, compare, write the files).
Peak memory is the process's maximum resident set size.

Target (issue 6): under 3 s for the whole, under 1 GiB.

    python benchmarks/bench_scan.py [--repeat N] [--max-edge-mm MM]
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trimesh

from insolegen.pipeline.order import order_from_mapping
from insolegen.pipeline.job import generate
from insolegen.scan.read import ScanResult, foot_from_result
from insolegen.scan.align import align_scan
from insolegen.scan.clean import clean_scan
from insolegen.scan.load import read_scan
from insolegen.scan.measure import measure_foot_scan

ROOT = Path(__file__).resolve().parents[1]
STAGES = ("load", "clean", "align", "measure", "build", "write")


def big_scan(folder: Path, max_edge_mm: float) -> Path:
    """The sample right foot subdivided to edges of at most ``max_edge_mm``, as binary STL."""
    mesh = trimesh.load(str(ROOT / "scans" / "dupontgu_right_m.stl"), force="mesh")
    vertices, faces = trimesh.remesh.subdivide_to_size(mesh.vertices, mesh.faces,
                                                       max_edge=max_edge_mm / 1000.0)
    path = folder / "big_right_m.stl"
    trimesh.Trimesh(vertices, faces, process=False).export(str(path))
    return path


def once(path: Path, out: Path) -> tuple[dict[str, float], float]:
    """One run from file to files: wall-clock seconds per stage, and CPU seconds in all."""
    t = {}
    cpu = time.process_time()
    start = time.perf_counter()
    raw = read_scan(path)
    t["load"] = time.perf_counter() - start
    start = time.perf_counter()
    clean = clean_scan(raw)
    del raw
    t["clean"] = time.perf_counter() - start
    start = time.perf_counter()
    scan = align_scan(clean)
    del clean
    t["align"] = time.perf_counter() - start
    start = time.perf_counter()
    measured = measure_foot_scan(scan)
    foot = foot_from_result(ScanResult(scan, measured, {}))
    t["measure"] = time.perf_counter() - start
    order = order_from_mapping({"order_id": "bench", "scan": str(path),
                                "conditions": "flat_feet", "side": "both"})
    result = generate(order, out, force=True, foot=foot)
    r = result.timings
    t["build"] = r["design_s"] + r["mesh_s"]
    t["write"] = r["measure_s"] + r["report_s"] + r["write_s"]
    return t, time.process_time() - cpu


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--max-edge-mm", type=float, default=0.88)
    ap.add_argument("--scan", help=argparse.SUPPRESS)  # the measured child process
    args = ap.parse_args()
    if args.scan is None:
        # Make the big scan here, measure in a fresh process: its peak memory is the job's.
        folder = Path(tempfile.mkdtemp())
        path = big_scan(folder, args.max_edge_mm)
        subprocess.run([sys.executable, __file__, "--scan", str(path), "--repeat",
                        str(args.repeat)], check=True)
        return
    path = Path(args.scan)
    n = len(read_scan(path).faces)
    print(f"scan: {path.name}, {n} triangles, {path.stat().st_size / 1e6:.1f} MB")
    runs = [once(path, path.parent / "out") for _ in range(args.repeat)]
    median = {s: statistics.median(r[s] for r, _ in runs) for s in STAGES}
    for stage in STAGES:
        print(f"  {stage:8s} {median[stage]:6.3f} s")
    total = sum(median.values())
    cpu = statistics.median(c for _, c in runs)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # kB -> MiB on Linux
    print(f"  {'total':8s} {total:6.3f} s wall, {cpu:.3f} s CPU (target < 3 s; wall time "
          f"grows when other processes share the cores: load average {os.getloadavg()[0]:.1f})")
    print(f"  peak memory {peak:.0f} MiB, the whole process (target < 1024 MiB)")


if __name__ == "__main__":
    main()
