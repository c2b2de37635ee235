"""One order through the whole pipeline: Foot -> Prescription -> design -> solids -> files.

:func:`generate` is the library's front door for one job; the CLI and the
batch runner call it. It writes nothing until every file of the job is
complete and the written meshes have been measured and found as designed.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from insolegen import __version__
from insolegen.design.model import InsoleDesign, design_insole
from insolegen.core.errors import InsolegenError
from insolegen.output.files import AtomicWriter, json_text
from insolegen.foot.model import Foot
from insolegen.output.formats import parse_stl
from insolegen.geometry.inspection import edge_counts, measure, merge_corners
from insolegen.foot.measurements import foot_from_measurements
from insolegen.mesh.solid import Solid
from insolegen.pipeline.order import Order
from insolegen.output.making import (extra_files, file_kind, making_report, sha256, solids_for,
                               stl_file)
from insolegen.check.compare import compare
from insolegen.check.printability import check_mesh, material, require_fit
from insolegen.prescription.profiles import prescribe
from insolegen.core.tolerances import TOL

log = logging.getLogger("insolegen")


@dataclass(frozen=True)
class Result:
    """What one job wrote: final paths by kind, the design, the measured features, timings (s)."""

    order_id: str
    files: dict[str, Path]
    design: InsoleDesign
    measured: dict[str, dict]
    timings: dict[str, float] = field(default_factory=dict)
    fit: dict | None = None  # the fit check in the order's shoe (insolegen.check.fit)


def foot_for(order: Order) -> Foot:
    """The order's foot, from its scan or its measurements."""
    if order.scan is not None:
        from insolegen.scan.read import foot_from_scan  # scans pull in more; load them only if needed
        return foot_from_scan(Path(order.scan), **order.options.get("scan", {}))
    return foot_from_measurements(order.measurements)


def sides_for(order: Order, foot: Foot) -> tuple[str, ...]:
    """The insoles to make: the order's sides, or the scanned foot's side when the order
    asks for one side and lets the scan decide (``side_from_scan``)."""
    if (order.side != "both" and foot.side is not None
            and order.options.get("scan", {}).get("side_from_scan")):
        return (foot.side,)
    return order.sides


def design_for(order: Order, foot: Foot | None = None) -> InsoleDesign:
    """Resolve the order into a design (no files), shaped to its shoe and carrying its
    additions (:mod:`insolegen.design.shoefit`); ``foot`` stands in for the order's own."""
    from insolegen.design.shoefit import fit_design
    design = design_insole(foot_for(order) if foot is None else foot,
                           prescribe(order.conditions, order.overrides, order.base),
                           order.resolution_mm)
    return fit_design(design, order.shoe, order.additions)


def _self_check(side: str, measured: dict, checks: dict) -> None:
    if not (measured["watertight"] and measured["winding_consistent"]
            and measured["volume_mm3"] > 0 and abs(measured["bottom_z_mm"]) <= TOL.floor_mm):
        raise InsolegenError(f"internal error: the {side} insole as written is not a closed "
                             f"solid on z = 0 ({measured})")
    bad = {k: v for k, v in checks.items() if not v["ok"]}
    if bad:
        raise InsolegenError(f"internal error: the {side} insole as written does not measure "
                             f"as designed: {bad}")


def generate(order: Order, out_dir: Path, force: bool = False, foot: Foot | None = None
             ) -> Result:
    """Make the order's insoles and write ``<id>_<side>.stl`` (and the other ``formats``)
    and ``<id>.json`` into ``out_dir``.

    The files are :func:`render`-ed (built, serialised, read back from their
    bytes, measured and compared with the design), written under temporary
    names, read back from disk and compared byte for byte, and only then
    renamed into place. ``foot`` stands in for the order's own foot (see :func:`render`).
    """
    rendered = render(order, foot)
    t0 = time.perf_counter()
    with AtomicWriter(Path(out_dir), force=force) as writer:
        for name, data in rendered.files.items():
            tmp = writer.bytes(name, data)
            if tmp.read_bytes() != data:
                raise InsolegenError(f"internal error: {name} reads back different from what "
                                     f"was written")
        written = writer.commit()
    timings = {**rendered.timings, "write_s": time.perf_counter() - t0}
    timings["total_s"] = rendered.timings["total_s"] + timings["write_s"]
    files = {file_kind(order.order_id, p.name): p for p in written}
    log.info("%s: wrote %s in %.3f s", order.order_id, ", ".join(p.name for p in written),
             timings["total_s"])
    return Result(order.order_id, files, rendered.design, rendered.measured, timings,
                  rendered.fit)


@dataclass(frozen=True)
class Rendered:
    """An order's files in memory (final file name -> bytes), not yet written anywhere."""

    order_id: str
    files: dict[str, bytes]
    design: InsoleDesign
    measured: dict[str, dict]
    timings: dict[str, float] = field(default_factory=dict)
    sha256: dict[str, str] = field(default_factory=dict)
    fit: dict | None = None


def _distinct(v32: np.ndarray) -> bool:
    """Whether the (n, 3) float32 rows are pairwise distinct (``-0.0`` equals ``0.0``)."""
    bits = (v32 + np.float32(0.0)).view(np.uint32).astype(np.uint64)
    code = np.sort((bits[:, 0] << np.uint64(32)) ^ (bits[:, 1] << np.uint64(13)) ^ bits[:, 2])
    if not np.any(code[1:] == code[:-1]):  # distinct codes: distinct rows
        return True
    merged, _ = merge_corners(v32[:, None, :])
    return len(merged) == len(v32)


def _encoded(vectors: np.ndarray, solid: Solid, problem: str) -> np.ndarray:
    """The solid's float32 vertices, checked to be exactly the file's triangles (m, 3, 3)."""
    v32 = solid.vertices.astype(np.float32) + np.float32(0.0)
    if not np.array_equal(vectors, v32[solid.faces]):
        raise InsolegenError(f"internal error: {problem}")
    return v32


def _as_read(vectors: np.ndarray, solid: Solid) -> tuple[np.ndarray, np.ndarray]:
    """The mesh a reader of the file gets, without merging every corner again.

    The file's triangles must be exactly the solid's float32 vertices by its
    faces, and those vertices pairwise distinct; then merging the file's
    corners gives back this very topology.
    """
    v32 = _encoded(vectors, solid, "STL bytes differ from the solid they encode")
    if not _distinct(v32):
        raise InsolegenError("internal error: distinct vertices collapse in float32")
    return v32.astype(np.float64), solid.faces


def render(order: Order, foot: Foot | None = None) -> Rendered:
    """The exact bytes :func:`generate` would write, self-checked, without touching a disk.

    Each mesh is serialised, parsed back from its own bytes, merged, measured,
    compared with the design and checked for printing (the fast checks of
    :func:`insolegen.check.printability.check_mesh`); unless engraved, the left file is
    the right one's mirrored (:func:`insolegen.output.stl.mirrored_stl`), checked
    corner for corner against the left solid, and measures as the right one.
    The order's ``formats`` add 3MF, OBJ, preview and ticket
    (:mod:`insolegen.output.making`). Batch workers call it and stage or return the
    bytes (:mod:`insolegen.batch.work`). ``foot`` stands in for the order's own foot, e.g. one read from a copy of
    the scan on the worker.
    """
    t0 = time.perf_counter()
    design = design_for(order, foot)
    t1 = time.perf_counter()
    preset = order.printer_preset()
    if preset is not None:  # refused before any mesh is made: the outline is known now
        outline = np.asarray(design.outline.exterior.coords)
        require_fit(f"the {design.insole_length_mm:.1f} mm insole's outline", outline, preset)
    solids, engravings = solids_for(order, design, sides_for(order, design.foot))
    fits = {side: require_fit(f"the {side} insole", solid.vertices, preset)
            for side, solid in solids.items()} if preset is not None else {}
    t2 = time.perf_counter()
    landmarks = {k: tuple(v) for k, v in design.landmarks.items()}
    files: dict[str, bytes] = {}
    names: dict[str, str] = {}
    vectors: dict[str, np.ndarray] = {}
    stl: dict[str, bytes] = {}
    measured: dict[str, dict] = {}
    checks: dict[str, dict] = {}
    printable: dict[str, dict] = {}
    fit = None
    for side in sorted(solids, key=lambda s: s != "right"):  # right first: left mirrors it
        solid = solids[side]
        name = f"{order.order_id}_{side}.stl"
        mirror = side == "left" and "right" in stl and not engravings
        data = stl[side] = stl_file(order, side, solid, stl["right"] if mirror else None)
        if "stl" in order.formats:
            files[name] = data
            names[side] = name
        vectors[side] = parse_stl(data, name)
        if mirror:
            _encoded(vectors[side], solid, "the left insole's file is not the mirror of the "
                                           "right one's")
            # an exact mirror measures and checks exactly as the right one did
            measured[side], checks[side], printable[side] = copy.deepcopy(
                (measured["right"], checks["right"], printable["right"]))
            continue
        vertices, faces = _as_read(vectors[side], solid)
        edges = edge_counts(faces, len(vertices))
        measured[side] = measure(vertices, faces, side, landmarks, design.heel_width_mm,
                                 design.seat_exclusions, edges)
        checks[side] = compare(measured[side], design.expected, design.resolution_mm)
        _self_check(side, measured[side], checks[side])
        printable[side] = check_mesh(vertices, faces, material(order.material), thorough=False,
                                     edges=edges)
        if not printable[side]["printable"]:
            raise InsolegenError(f"internal error: the {side} insole as written is not "
                                 f"printable: {'; '.join(printable[side]['problems'])}")
        if getattr(design, "shoe", None) is not None and fit is None:
            from insolegen.check.fit import fit_report  # an exact mirror fits as this one
            fit = fit_report(vertices, faces, design.shoe, side)
    t3 = time.perf_counter()
    files.update(extra_files(order, design, solids, engravings, measured, files))
    t3x = time.perf_counter()
    hashes = {name: sha256(data) for name, data in files.items()}
    report = {"insolegen_version": __version__, "order": order.to_json(), "files": names,
              "design": design.to_json(), "measured": measured, "checks": checks,
              "making": making_report(order, measured, printable, engravings, hashes)}
    if fit is not None:
        report["fit"] = fit
    if preset is not None:
        report["making"]["printer"] = {**preset.to_json(), "fit": fits}
    files[f"{order.order_id}.json"] = json_text(report).encode("utf-8")
    hashes[f"{order.order_id}.json"] = sha256(files[f"{order.order_id}.json"])
    t4 = time.perf_counter()
    timings = {"design_s": t1 - t0, "mesh_s": t2 - t1, "measure_s": t3 - t2,
               "outputs_s": t3x - t3, "report_s": t4 - t3x, "total_s": t4 - t0}
    return Rendered(order.order_id, files, design, measured, timings, hashes, fit)
