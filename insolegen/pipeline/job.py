"""One order through the whole pipeline: Foot -> Prescription -> design -> solids -> files.

:func:`generate` is the library's front door for one job; the CLI and the
batch runner call it. It writes nothing until every file of the job is
complete and the written meshes have been measured and found as designed.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from insolegen import __version__
from insolegen.design.model import InsoleDesign, design_insole
from insolegen.design.zones import apply_zones
from insolegen.core.errors import InsolegenError
from insolegen.output.files import AtomicWriter, json_text
from insolegen.foot.model import Foot
from insolegen.output.meshread import parse_stl
from insolegen.geometry.inspection import edge_counts, measure, merge_corners
from insolegen.foot.measurements import foot_from_measurements
from insolegen.mesh.solid import Solid
from insolegen.pipeline.order import Order
from insolegen.output.making import (cover_in_3mf, covers_for, extra_files, file_kind,
                                     making_report, part_files, sha256, solids_for, stl_file)
from insolegen.check.compare import compare
from insolegen.check.foot_fit import foot_fit
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


def foot_for(order: Order) -> Foot | dict[str, Foot]:
    """The order's foot, from its scan, its outline or its measurements; for a scan file
    that holds both feet and an order for both sides (no ``foot`` picked), each side's own
    foot by side."""
    if order.scan is not None:
        from insolegen.scan.read import feet_from_scan, foot_from_scan  # scans pull in more
        options = order.options.get("scan", {})
        if order.side == "both" and options.get("foot") in (None, "both"):
            feet = feet_from_scan(Path(order.scan), options.get("units"),
                                  options.get("foot_length_mm"), options.get("kind"))
            return feet if len(feet) > 1 else next(iter(feet.values()))
        return foot_from_scan(Path(order.scan), **options)
    if "outline" in order.options:
        from insolegen.tracing.read import foot_from_outline
        return foot_from_outline(**order.options["outline"])
    return foot_from_measurements(order.measurements)


def sides_for(order: Order, foot: Foot) -> tuple[str, ...]:
    """The insoles to make: the order's sides, or the scanned foot's side when the order
    asks for one side and lets the scan decide (``side_from_scan``)."""
    if (order.side != "both" and foot.side is not None
            and order.options.get("scan", {}).get("side_from_scan")):
        return (foot.side,)
    return order.sides


def _designed(order: Order, foot: Foot) -> InsoleDesign:
    """One foot's design: shaped to its shoe and carrying its additions
    (:mod:`insolegen.design.shoefit`), then its density zones and what the order's pressure
    map (registered to this foot's outline) changes."""
    from insolegen.design.shoefit import fit_design
    design = design_insole(foot, prescribe(order.conditions, order.overrides, order.base),
                           order.resolution_mm)
    design = fit_design(design, order.shoe, order.additions)
    pressure = None
    if order.pressure is not None:
        from insolegen.foot.pressure import read_pressure, register
        pressure = register(read_pressure(Path(order.pressure)), foot).to_json()
    return apply_zones(design, order.zones, pressure)


def design_for(order: Order, foot: Foot | None = None) -> InsoleDesign:
    """Resolve the order into a design (no files); of a file of both feet, the right one's
    (see :func:`_designed`)."""
    foot = foot_for(order) if foot is None else foot
    return _designed(order, foot["right"] if isinstance(foot, dict) else foot)


def _self_check(side: str, measured: dict, checks: dict) -> None:
    if not (measured["watertight"] and measured["winding_consistent"]
            and measured["volume_mm3"] > 0 and abs(measured["bottom_z_mm"]) <= TOL.floor_mm):
        raise InsolegenError(f"internal error: the {side} insole as written is not a closed "
                             f"solid on z = 0 ({measured})")
    bad = {k: v for k, v in checks.items() if not v["ok"]}
    if bad:
        raise InsolegenError(f"internal error: the {side} insole as written does not measure "
                             f"as designed: {bad}")


def _fit(side: str, vertices: np.ndarray, faces: np.ndarray, design: InsoleDesign) -> dict:
    """The written insole against the scanned foot (output frame), refused past the allowance.

    In a shoe the part's bottom follows the insole board; foot and insole bend with it, so
    the top is measured as on a flat floor (the board's height taken off)."""
    if getattr(design, "shoe", None) is not None:
        vertices = vertices.copy()
        vertices[:, 2] -= design.board(vertices[:, :2])  # the board depends on x alone
    fit = foot_fit(vertices, faces, side, design)
    fit["at_mm"][1] = -fit["at_mm"][1] if side == "left" else fit["at_mm"][1]
    allowance = design.params["heel_compression_mm"]
    if fit["largest_mm"] > allowance + TOL.foot_fit_mm:
        raise InsolegenError(f"internal error: the {side} insole as written cuts "
                             f"{fit['largest_mm']:g} mm into the scanned foot at {fit['at_mm']} "
                             f"mm, more than heel_compression_mm = {allowance:g}")
    return fit


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
        for name in earlier_set(order.order_id, Path(out_dir)):
            writer.retire(name)  # the whole earlier set goes, not only the names made anew
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


MAX_REPORT_BYTES = 16 << 20


def earlier_set(order_id: str, folder: Path) -> list[str]:
    """The file names an earlier job of ``order_id`` may have left in ``folder``: those its
    report lists, and every name a job of that id can have (an unfinished job has no report)."""
    names = [f"{order_id}{end}" for end in ("_right.stl", "_left.stl", ".3mf", "_right.obj",
                                            "_left.obj", ".png", "_ticket.pdf",
                                            "_right_cover.stl", "_right_base.stl",
                                            "_left_cover.stl", "_left_base.stl")]
    report = folder / f"{order_id}.json"
    try:
        if report.is_file() and not report.is_symlink() \
                and report.stat().st_size <= MAX_REPORT_BYTES:
            data = json.loads(report.read_text(encoding="utf-8"))
            listed = [*data.get("files", {}).values(), *data.get("making", {}).get("sha256", {})]
            names += [n for n in listed if isinstance(n, str) and n.startswith(order_id)
                      and Path(n).name == n]
    except (OSError, ValueError, AttributeError, TypeError, RecursionError):
        pass  # not a report of ours: only the names a job can have
    return list(dict.fromkeys(names))


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


def _lattice_check(name: str, data: bytes, material_name: str) -> dict:
    """A lattice file read back from its bytes: closed, on z = 0 and printable, or an
    internal error; what the report records of it."""
    vertices, faces = merge_corners(parse_stl(data, name))
    report = check_mesh(vertices, faces, material(material_name), thorough=False,
                        edges=edge_counts(faces, len(vertices)))
    if not (report["printable"] and report["watertight"]
            and abs(report["bottom_z_mm"]) <= TOL.floor_mm):
        raise InsolegenError(f"internal error: {name} as written is not a closed printable "
                             f"solid on z = 0: {'; '.join(report['problems'])}")
    return {k: report[k] for k in ("watertight", "volume_mm3", "triangles", "printable")}


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
    the scan on the worker; a dict of feet by side (:func:`foot_for` of a file of both
    feet) designs each side on its own foot, the left then not the right's mirror.
    """
    t0 = time.perf_counter()
    foot = foot_for(order) if foot is None else foot
    # A file of both feet: each side designed on its own foot, the right one reported first.
    designs = {side: _designed(order, f)
               for side, f in (foot.items() if isinstance(foot, dict) else [("", foot)])}
    design = designs.get("right", designs.get(""))
    t1 = time.perf_counter()
    preset = order.printer_preset()
    if preset is not None:  # refused before any mesh is made: the outline is known now
        for own in designs.values():
            flare = own.params.get("wall_flare_mm", 0.0)  # the footprint, flared wall and all
            outline = np.asarray((own.outline.buffer(flare, join_style="mitre") if flare > 0
                                  else own.outline).exterior.coords)
            require_fit(f"the {own.insole_length_mm:.1f} mm insole's outline", outline, preset)
    if "" in designs:
        solids, engravings = solids_for(order, design, sides_for(order, design.foot))
    else:
        solids, engravings = {}, {}
        for side, own in designs.items():
            made = solids_for(order, own, (side,))
            solids.update(made[0])
            engravings.update(made[1])
    fits = {side: require_fit(f"the {side} insole", solid.vertices, preset)
            for side, solid in solids.items()} if preset is not None else {}
    covers_3mf = covers_for(order, designs, solids, in_3mf=cover_in_3mf(order, design))
    covers = covers_3mf if order.split_cover else {}  # the STL split too
    cover_files: dict[str, bytes] = {}
    cover_parts: dict[str, dict] = {}
    t2 = time.perf_counter()
    files: dict[str, bytes] = {}
    names: dict[str, str] = {}
    vectors: dict[str, np.ndarray] = {}
    stl: dict[str, bytes] = {}
    measured: dict[str, dict] = {}
    checks: dict[str, dict] = {}
    printable: dict[str, dict] = {}
    on_foot: dict[str, dict] = {}
    fit = None
    for side in sorted(solids, key=lambda s: s != "right"):  # right first: left mirrors it
        solid = solids[side]
        own = designs.get(side, design)
        landmarks = {k: tuple(v) for k, v in own.landmarks.items()}
        name = f"{order.order_id}_{side}.stl"
        mirror = side == "left" and "right" in stl and not engravings and "" in designs
        data = stl[side] = stl_file(order, side, solid, stl["right"] if mirror else None)
        if "stl" in order.formats and not covers:
            files[name] = data
            names[side] = name
        vectors[side] = parse_stl(data, name)
        if mirror:
            _encoded(vectors[side], solid, "the left insole's file is not the mirror of the "
                                           "right one's")
            # an exact mirror measures and checks exactly as the right one did
            measured[side], checks[side], printable[side] = copy.deepcopy(
                (measured["right"], checks["right"], printable["right"]))
            if "right" in on_foot:
                on_foot[side] = {**on_foot["right"], "at_mm": [on_foot["right"]["at_mm"][0],
                                                               -on_foot["right"]["at_mm"][1]]}
            continue
        vertices, faces = _as_read(vectors[side], solid)
        edges = edge_counts(faces, len(vertices))
        measured[side] = measure(vertices, faces, side, landmarks, own.heel_width_mm,
                                 own.seat_exclusions, edges)
        checks[side] = compare(measured[side], own.expected, own.resolution_mm)
        _self_check(side, measured[side], checks[side])
        if own.foot.plantar is not None:
            on_foot[side] = _fit(side, vertices, faces, own)
        printable[side] = check_mesh(vertices, faces, material(order.material), thorough=False,
                                     edges=edges)
        if not printable[side]["printable"]:
            raise InsolegenError(f"internal error: the {side} insole as written is not "
                                 f"printable: {'; '.join(printable[side]['problems'])}")
        if getattr(design, "shoe", None) is not None and fit is None:
            from insolegen.check.fit import fit_report  # an exact mirror fits as this one
            fit = fit_report(vertices, faces, design.shoe, side)
    for side in sorted(covers, key=lambda s: s != "right"):
        made, parts = part_files(order, side, covers[side], measured[side],
                                  cover_files if side == "left" and "" in designs else None)
        cover_files.update(made)
        cover_parts.update(parts)
    if "stl" in order.formats:
        files.update(cover_files)
        names.update({n.removeprefix(f"{order.order_id}_").removesuffix(".stl"): n
                      for n in cover_files})
    t3 = time.perf_counter()
    files.update(extra_files(order, design, solids, engravings, measured, files, covers_3mf))
    lattice = None
    if "lattice-stl" in order.formats:
        from insolegen.output.making import lattice_files
        made, lattice = lattice_files(order, design, solids)
        lattice["as_written"] = {name: _lattice_check(name, data, order.material)
                                 for name, data in made.items()}
        files.update(made)
    t3x = time.perf_counter()
    hashes = {name: sha256(data) for name, data in files.items()}
    report = {"insolegen_version": __version__, "order": order.to_json(), "files": names,
              "design": design.to_json(),
              **({} if "" in designs else {"design_left": designs["left"].to_json()}),
              "measured": measured, "checks": checks,
              "making": making_report(order, measured, printable, engravings, hashes)}
    if lattice is not None:
        report["lattice"] = lattice
    if covers_3mf:
        from insolegen.output.cover3mf import material_names
        base_name, cover_name = material_names(order.material, design.params["cover_material"])
        report["making"]["cover_part"] = {
            "in": sorted(n for n in files if n.endswith(".3mf") or n in cover_files),
            "cover_thickness_mm": design.params["top_cover_thickness_mm"],
            "cover_material": cover_name, "base_material": base_name,
            "interface": "top_cover_thickness_mm below the top where the part is at least "
                         "that plus the material's minimum wall thick; thinner, the base keeps "
                         "that wall and the cover thins, to 0.2 mm at the least"}
    if covers:
        report["making"]["split_cover"] = {**report["making"]["cover_part"],
                                           "parts": cover_parts}
    if on_foot:
        report["foot_fit"] = on_foot
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
