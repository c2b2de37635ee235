"""How fast one insole is made, stage by stage, at the default resolution.

Prints, per condition: triangles; seconds per insole for the model (foot +
prescription + design), the mesh and the STL write; the ratio of the whole
generation to just writing the same triangles with numpy-stl; then the full
`pipeline.generate` of a pair (with read-back and measurement) and a cold
`insolegen generate` command. Medians of several runs, one process, one core.

    python benchmarks/bench_generate.py [--repeat N]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from stl import Mode
from stl.mesh import Mesh

from insolegen.design.model import design_insole
from insolegen.output.files import AtomicWriter
from insolegen.foot.measurements import Measurements, foot_from_measurements
from insolegen.mesh.solid import build_insole
from insolegen.pipeline.order import order_from_mapping
from insolegen.pipeline.job import generate
from insolegen.prescription.profiles import prescribe

CONDITIONS = ("neutral", "flat_feet", "high_arches", "plantar_fasciitis", "overpronation",
              "supination")


def timed(fn, repeat: int) -> tuple[float, object]:
    times, value = [], None
    for _ in range(repeat):
        t = time.perf_counter()
        value = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), value


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    print(f"{'condition':18s} {'triangles':>9s} {'model s':>8s} {'mesh s':>8s} {'write s':>8s} "
          f"{'total s':>8s} {'plain write s':>13s} {'ratio':>6s}")
    for condition in CONDITIONS:
        def model():
            foot = foot_from_measurements(Measurements(foot_length_mm=265))
            return design_insole(foot, prescribe(condition))
        t_model, design = timed(model, args.repeat)
        t_mesh, solid = timed(lambda: build_insole(design), args.repeat)

        def write():
            with AtomicWriter(tmp, force=True) as w:
                w.stl("bench.stl", solid)
                w.commit()
        t_write, _ = timed(write, args.repeat)

        def plain():  # numpy-stl alone, the same triangles
            m = Mesh(np.zeros(len(solid.faces), dtype=Mesh.dtype))
            m.vectors[:] = solid.vertices[solid.faces]
            m.save(str(tmp / "plain.stl"), mode=Mode.BINARY)
        t_plain, _ = timed(plain, args.repeat)
        total = t_model + t_mesh + t_write
        print(f"{condition:18s} {len(solid.faces):9d} {t_model:8.4f} {t_mesh:8.4f} {t_write:8.4f} "
              f"{total:8.4f} {t_plain:13.4f} {total / t_plain:6.2f}")

    order = order_from_mapping({"order_id": "b", "foot_length_mm": 265, "conditions": "flat_feet"})
    t_pair, result = timed(lambda: generate(order, tmp, force=True), args.repeat)
    stages = ", ".join(f"{k} {v:.4f}" for k, v in result.timings.items())
    print(f"\npipeline.generate, pair with read-back and measurement: {t_pair:.3f} s ({stages})")

    cold = []
    for _ in range(3):
        t = time.perf_counter()
        subprocess.run([str(Path(sys.executable).with_name("insolegen")), "generate",
                        "--foot-length", "265", "--condition", "flat_feet", "--force",
                        "--out", str(tmp)], check=True, capture_output=True)
        cold.append(time.perf_counter() - t)
    print(f"cold 'insolegen generate' (pair): {statistics.median(cold):.2f} s")


if __name__ == "__main__":
    main()
