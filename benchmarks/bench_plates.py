"""How fast a batch's insoles are nested onto plates, against floors measured in the same run.

Makes a real batch (``--orders`` orders, foot lengths spread over
200-265 mm, both sides, at ``--resolution``), then for each printer:

- read: the parts read back and hashed (:func:`insolegen.plates.parts.batch_parts`);
- nest: placing them (:func:`insolegen.plates.pack.place`);
- shelf floor: the naive floor any nester beats on quality: every part's
  bounding rectangle, straight, on shelves (first fit by rows), in numpy;
- write: the plate 3MF files and plates.json.

Prints seconds, parts per second, nest / shelf-floor time ratio, and the
utilisation of both (footprint area over usable bed area; for powder, the
share of each layer), so speed and quality are read together.

    python benchmarks/bench_plates.py [--orders N] [--resolution MM] [--workers N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from insolegen.batch.run import run_batch
from insolegen.plates.pack import place
from insolegen.plates.parts import batch_parts
from insolegen.plates.plate import make_plates
from insolegen.prescription.printers import printer


def shelf(sizes: np.ndarray, width: float, depth: float, spacing: float) -> tuple[int, int]:
    """Sheets used by straight bounding rectangles (k, 2) on shelves, first fit by rows, and
    the number of parts it cannot place at all (they fit only turned diagonally)."""
    sheets: list[list[list[float]]] = []  # per sheet: shelves [y, height, x used]
    unplaced = 0
    for w, d in sizes[np.argsort(-sizes[:, 1], kind="stable")]:
        if w > width or d > depth:  # a long part lies across the bed, if it can
            w, d = d, w
        if w > width or d > depth:
            unplaced += 1
            continue
        placed = False
        for sheet in sheets:
            for row in sheet:
                if row[2] + w <= width and d <= row[1]:
                    row[2] += w + spacing
                    placed = True
                    break
            if not placed:
                top = sheet[-1][0] + sheet[-1][1] + spacing
                if top + d <= depth:
                    sheet.append([top, d, w + spacing])
                    placed = True
            if placed:
                break
        if not placed:
            sheets.append([[0.0, d, w + spacing]])
    return len(sheets), unplaced


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--orders", type=int, default=200)
    ap.add_argument("--resolution", type=float, default=2.0)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    feet = np.linspace(200, 265, args.orders).round()
    orders = [{"order_id": f"o{i:04d}", "foot_length_mm": str(f), "conditions": "flat_feet",
               "resolution_mm": str(args.resolution)} for i, f in enumerate(feet)]
    t = time.perf_counter()
    run_batch(orders, tmp / "batch", workers=args.workers, keep_results=False)
    print(f"batch: {args.orders} orders, {2 * args.orders} insoles at {args.resolution:g} mm "
          f"in {time.perf_counter() - t:.1f} s")
    print(f"{'printer':14s} {'read s':>7s} {'nest s':>7s} {'parts/s':>8s} {'shelf s':>8s} "
          f"{'ratio':>7s} {'plates':>6s} {'shelf':>6s} {'unplaced':>9s} {'util':>6s} "
          f"{'write s':>8s}")
    for name in ("prusa_mk4", "prusa_xl", "hp_mjf_5200", "eos_p396"):
        p = printer(name)
        t0 = time.perf_counter()
        parts = batch_parts(tmp / "batch")
        t1 = time.perf_counter()
        spots = place(parts, p)
        t2 = time.perf_counter()
        ux, uy, _ = p.usable_mm()
        sizes = np.array([np.ptp(part.vertices[:, :2], axis=0) for part in parts])
        t3 = time.perf_counter()
        shelf_sheets, unplaced = shelf(sizes, ux, uy, p.spacing_mm)
        t4 = time.perf_counter()
        manifest = make_plates(tmp / "batch", p, tmp / f"plates_{name}")
        sheets = len({(s.plate, s.layer) for s in spots})
        used = sum(part.footprint.area for part in parts) / (ux * uy * sheets)
        floor = max(t4 - t3, 1e-6)
        print(f"{name:14s} {t1 - t0:7.3f} {t2 - t1:7.3f} {len(parts) / (t2 - t1):8.0f} "
              f"{floor:8.4f} {(t2 - t1) / floor:7.0f} {sheets:6d} {shelf_sheets:6d} {unplaced:9d} "
              f"{used:6.1%} {manifest['timings']['write_s']:8.3f}")
    print("plates / shelf: sheets (beds, or layers of a powder build) used by the nesting and "
          "by the shelf floor; unplaced: parts the shelf cannot place (they fit only turned); "
          "util: footprints / usable area over the nesting's sheets")


if __name__ == "__main__":
    main()
