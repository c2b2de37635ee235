"""Batch throughput: N measurement orders (2 insoles each) with 1 and 2 pool workers.

    python benchmarks/bench_batch.py [--orders 200] [--resolution-mm MM] [--workers 1 2]

Prints insoles per second for each worker count (wall time of the whole
``run_batch`` call: validation, pool start-up, making, writing, manifest) and
the speed-up over the first count, and the CPU each order costs in a worker
and in the parent, with the throughput that CPU cost allows on idle cores (the
wall-clock figures are only meaningful on an otherwise idle machine).
Targets (issue 3): over 15 insoles/s with 2 workers, and 2 workers at least
1.6x faster than 1.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import tempfile
import time
from pathlib import Path

from insolegen.batch.run import run_batch
from insolegen.design.limits import DEFAULT_RESOLUTION_MM

CONDITIONS = ("neutral", "flat_feet", "high_arches", "plantar_fasciitis", "overpronation",
              "supination")


def write_orders(path: Path, n: int, resolution_mm: float) -> None:
    """``n`` varied measurement orders, both sides each."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        out = csv.writer(fh)
        out.writerow(["order_id", "side", "conditions", "foot_length_mm", "resolution_mm"])
        for i in range(n):
            out.writerow([f"B{i:05d}", "both", CONDITIONS[i % len(CONDITIONS)],
                          225 + (i * 7) % 85, resolution_mm])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=200)
    parser.add_argument("--resolution-mm", type=float, default=DEFAULT_RESOLUTION_MM)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args(argv)
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(f"{args.orders} orders ({2 * args.orders} insoles), resolution {args.resolution_mm} mm, "
          f"{os.cpu_count()} cores, load average {load:.1f} before the run")
    rates: dict[int, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        orders = Path(tmp) / "orders.csv"
        write_orders(orders, args.orders, args.resolution_mm)
        for workers in args.workers:
            parent0 = time.process_time()
            result = run_batch(orders, Path(tmp) / f"out{workers}", workers=workers)
            parent_s = (time.process_time() - parent0) / args.orders
            if result.exit_code:
                print(result.summary())
                return 1
            compute = sorted(r.timings.get("compute_s", 0.0) for r in result.orders)
            cpu = sorted(r.timings.get("cpu_s", 0.0) for r in result.orders)
            write = sorted(r.timings.get("write_s", 0.0) for r in result.orders)
            rates[workers] = result.insoles_per_s
            median = len(compute) // 2
            print(f"workers {workers}: {result.insoles_made} insoles in {result.elapsed_s:.1f} s "
                  f"= {result.insoles_per_s:.1f} insoles/s; per order (median): compute "
                  f"{compute[median]:.3f} s wall, {cpu[median]:.3f} s CPU; write "
                  f"{write[median]:.3f} s; parent CPU {parent_s:.3f} s")
            worker_s = sum(cpu) / len(cpu)
            cores = os.cpu_count() or 1
            bound = 2 * min(cores / (worker_s + parent_s), min(workers, cores) / worker_s)
            print(f"  CPU-bound ceiling on idle cores: {bound:.1f} insoles/s")
    first = args.workers[0]
    for workers in args.workers[1:]:
        print(f"speed-up {workers} vs {first} workers: {rates[workers] / rates[first]:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
