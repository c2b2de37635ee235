"""One order through the whole pipeline: Foot -> Prescription -> design -> solids -> files.

:func:`generate` is the library's front door for one job; the CLI and the
batch runner call it. It writes nothing until every file of the job is
complete and the written meshes have been measured and found as designed.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from insolegen import __version__
from insolegen.design import InsoleDesign, design_insole
from insolegen.errors import InsolegenError
from insolegen.export import AtomicWriter
from insolegen.foot import Foot
from insolegen.inspection import measure, read_stl
from insolegen.measurements import foot_from_measurements
from insolegen.mesh import Solid, build_insole
from insolegen.order import Order
from insolegen.profiles import prescribe
from insolegen.tolerances import TOL

log = logging.getLogger("insolegen")


@dataclass(frozen=True)
class Result:
    """What one job wrote: final paths by kind, the design, the measured features, timings (s)."""

    order_id: str
    files: dict[str, Path]
    design: InsoleDesign
    measured: dict[str, dict]
    timings: dict[str, float] = field(default_factory=dict)


def foot_for(order: Order) -> Foot:
    """The order's foot, from its scan or its measurements."""
    if order.scan is not None:
        from insolegen.scan import foot_from_scan  # scans pull in more; load them only if needed
        return foot_from_scan(Path(order.scan), **order.options.get("scan", {}))
    return foot_from_measurements(order.measurements)


def design_for(order: Order) -> InsoleDesign:
    """Resolve the order into a design (no files)."""
    return design_insole(foot_for(order), prescribe(order.conditions, order.overrides),
                         order.resolution_mm)


def compare(measured: dict, expected: dict) -> dict[str, dict]:
    """Per feature: expected, measured, tolerance and whether it holds."""
    tol = {"insole_length_mm": ("length_mm", TOL.length_mm),
           "heel_seat_height_mm": ("heel_seat_height_mm", TOL.heel_seat_height_mm),
           "heel_cup_depth_mm": ("heel_cup_depth_mm", TOL.heel_cup_depth_mm),
           "rearfoot_tilt_deg": ("rearfoot_tilt_deg", TOL.rearfoot_tilt_deg),
           "arch_height_mm": ("arch_height_mm", TOL.arch_height_mm),
           "arch_peak_height_mm": ("arch_peak_height_mm", TOL.arch_height_mm)}
    out = {}
    for key, (mkey, t) in tol.items():
        diff = measured[mkey] - expected[key]
        out[key] = {"expected": expected[key], "measured": measured[mkey], "tolerance": t,
                    "ok": bool(abs(diff) <= t)}
    t_min = expected["min_thickness_mm"]
    out["min_thickness_mm"] = {"expected": t_min, "measured": measured["min_thickness_mm"],
                               "tolerance": TOL.thickness_mm,
                               "ok": bool(measured["min_thickness_mm"] >= t_min - TOL.thickness_mm)}
    return out


def _self_check(side: str, measured: dict, checks: dict) -> None:
    if not (measured["watertight"] and measured["winding_consistent"]
            and measured["volume_mm3"] > 0 and abs(measured["bottom_z_mm"]) <= TOL.floor_mm):
        raise InsolegenError(f"internal error: the {side} insole as written is not a closed "
                             f"solid on z = 0 ({measured})")
    bad = {k: v for k, v in checks.items() if not v["ok"]}
    if bad:
        raise InsolegenError(f"internal error: the {side} insole as written does not measure "
                             f"as designed: {bad}")


def generate(order: Order, out_dir: Path, force: bool = False) -> Result:
    """Make the order's insoles and write ``<id>_<side>.stl`` and ``<id>.json`` into ``out_dir``."""
    t0 = time.perf_counter()
    design = design_for(order)
    t1 = time.perf_counter()
    right = build_insole(design, "right")
    solids: dict[str, Solid] = {s: (right if s == "right" else right.mirrored())
                                for s in order.sides}
    t2 = time.perf_counter()
    landmarks = {k: tuple(v) for k, v in design.landmarks.items()}
    measured: dict[str, dict] = {}
    checks: dict[str, dict] = {}
    with AtomicWriter(Path(out_dir), force=force) as writer:
        names = {}
        for side, solid in solids.items():
            name = f"{order.order_id}_{side}.stl"
            header = f"insolegen {__version__} {order.order_id} {side} mm"
            tmp = writer.stl(name, solid, header)
            names[side] = name
            vertices, faces = read_stl(tmp)
            measured[side] = measure(vertices, faces, side, landmarks, design.heel_width_mm)
            checks[side] = compare(measured[side], design.expected)
            _self_check(side, measured[side], checks[side])
        if set(solids) == {"left", "right"}:
            _check_mirror(writer, names)
        t3 = time.perf_counter()
        report = {
            "insolegen_version": __version__,
            "order": order.to_json(),
            "files": names,
            "design": design.to_json(),
            "measured": measured,
            "checks": checks,
        }
        writer.json(f"{order.order_id}.json", report)
        written = writer.commit()
    t4 = time.perf_counter()
    files = {p.name.removeprefix(order.order_id + "_").removesuffix(".stl")
             if p.suffix == ".stl" else "report": p for p in written}
    timings = {"design_s": t1 - t0, "mesh_s": t2 - t1, "write_measure_s": t3 - t2,
               "report_s": t4 - t3, "total_s": t4 - t0}
    log.info("%s: wrote %s in %.3f s", order.order_id, ", ".join(p.name for p in written), t4 - t0)
    return Result(order.order_id, files, design, measured, timings)


def _check_mirror(writer: AtomicWriter, names: dict[str, str]) -> None:
    """The left file must be the right one mirrored in Y, corner for corner."""
    tmp = {final.name: tmp for tmp, final in writer.pending}
    raw = {s: np.fromfile(tmp[n], dtype=np.uint8) for s, n in names.items()}
    from stl.mesh import Mesh
    vec = {s: np.frombuffer(raw[s][84:].tobytes(), dtype=Mesh.dtype)["vectors"] for s in raw}
    mirrored = vec["right"][:, ::-1] * np.array([1, -1, 1], dtype=np.float32)
    if not np.array_equal(mirrored, vec["left"]):
        raise InsolegenError("internal error: the left insole is not the mirror of the right")
