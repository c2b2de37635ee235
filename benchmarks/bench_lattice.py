"""How long and how much memory one lattice insole takes, against the solid insole.

For each foot length: seconds to build the lattice body (voxel field, marching cubes,
cavities joined to the outer solid), its triangles, and the peak resident memory of a
fresh process that builds it; the ratio of the lattice build to building the solid
insole the lattice starts from (the floor, measured in the same run). Target: under
20 s and 2 GB for one insole on the team's 2-core machine.

    python benchmarks/bench_lattice.py [--lengths 220,265,300] [--voxel 0.5]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys

CHILD = """
import json, resource, sys, time
from insolegen.design.model import design_insole
from insolegen.design.zones import apply_zones
from insolegen.foot.measurements import Measurements, foot_from_measurements
from insolegen.mesh.lattice import build_lattice
from insolegen.mesh.solid import build_insole
from insolegen.prescription.profiles import prescribe
length, voxel = float(sys.argv[1]), float(sys.argv[2])
design = apply_zones(design_insole(foot_from_measurements(Measurements(foot_length_mm=length)),
                                   prescribe("plantar_fasciitis")))
t0 = time.perf_counter(); solid = build_insole(design); t1 = time.perf_counter()
lattice = build_lattice(design, solid, 1.0, voxel); t2 = time.perf_counter()
print(json.dumps({"solid_s": t1 - t0, "lattice_s": t2 - t1, "triangles": len(lattice.solid.faces),
                  "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lengths", default="220,265,300")
    parser.add_argument("--voxel", type=float, default=0.5)
    args = parser.parse_args()
    print(f"{'foot mm':>8} {'lattice s':>10} {'solid s':>8} {'ratio':>7} {'triangles':>10} "
          f"{'peak MB':>8}")
    for length in args.lengths.split(","):
        done = subprocess.run([sys.executable, "-c", CHILD, length, str(args.voxel)],
                              capture_output=True, text=True, check=True)
        r = json.loads(done.stdout.strip().splitlines()[-1])
        print(f"{float(length):8.0f} {r['lattice_s']:10.2f} {r['solid_s']:8.3f} "
              f"{r['lattice_s'] / r['solid_s']:7.0f} {r['triangles']:10d} {r['rss_mb']:8.0f}")


if __name__ == "__main__":
    main()
