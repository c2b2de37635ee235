"""Every ANSUR II subject through the whole model: a good insole for each of 6,068 feet.

For each subject (foot length, ball width, heel width as measured) and a
condition taken in turn from the six profiles, build the right insole at the
default resolution, round it to float32 as an STL stores it, and measure it:
closed, consistently wound, on z = 0, and heel cup / arch / tilt / seat /
thickness as designed. Prints a summary and every failure.

    python benchmarks/ansur_sweep.py [--limit N] [--workers N] [--resolution MM]
"""

from __future__ import annotations

import argparse
import csv
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from insolegen.design.model import design_insole
from insolegen.geometry.inspection import measure, merge_corners
from insolegen.foot.measurements import Measurements, foot_from_measurements
from insolegen.mesh.solid import build_insole
from insolegen.check.compare import compare
from insolegen.prescription.profiles import prescribe

CSV = Path(__file__).resolve().parents[1] / "tests" / "data" / "ansur2_feet.csv"
CONDITIONS = ("neutral", "flat_feet", "high_arches", "plantar_fasciitis", "overpronation",
              "supination")


def one(job: tuple[int, dict, float]) -> tuple[str, str | None]:
    i, row, resolution = job
    condition = CONDITIONS[i % len(CONDITIONS)]
    try:
        foot = foot_from_measurements(Measurements(
            foot_length_mm=row["footlength"], ball_width_mm=row["footbreadthhorizontal"],
            heel_width_mm=row["heelbreadth"]))
        design = design_insole(foot, prescribe(condition), resolution)
        solid = build_insole(design)
        v, f = merge_corners(solid.vertices[solid.faces].astype(np.float32))
        m = measure(v, f, "right", design.landmarks, design.heel_width_mm)
        bad = [k for k, c in compare(m, design.expected).items() if not c["ok"]]
        if not (m["watertight"] and m["winding_consistent"] and m["volume_mm3"] > 0):
            bad.append("not closed")
        return row["subject_id"], (f"{condition}: {', '.join(bad)}" if bad else None)
    except Exception as exc:  # report, don't stop the sweep
        return row["subject_id"], f"{condition}: {type(exc).__name__}: {exc}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    ap.add_argument("--resolution", type=float, default=1.0)
    args = ap.parse_args()
    with open(CSV, encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    if args.limit:
        rows = rows[: args.limit]
    t0 = time.perf_counter()
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(one, [(i, r, args.resolution) for i, r in enumerate(rows)],
                                chunksize=16))
    failures = [(sid, why) for sid, why in results if why]
    dt = time.perf_counter() - t0
    print(f"subjects: {len(rows)}  resolution: {args.resolution} mm  workers: {args.workers}")
    print(f"good insoles: {len(rows) - len(failures)}  failures: {len(failures)}  "
          f"time: {dt:.1f} s ({len(rows) / dt:.1f} insoles/s)")
    for sid, why in failures:
        print(f"  subject {sid}: {why}")


if __name__ == "__main__":
    main()
