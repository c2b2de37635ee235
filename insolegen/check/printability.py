"""Can this mesh be made as it is? Closed, consistently wound, clean, thick enough, fits.

:func:`check_mesh` validates one body (any triangle mesh in mm) against a
material and optionally a build volume, and returns a JSON-able report with
one reason per problem. ``insolegen check`` runs it on every body of an STL
or 3MF; ``generate`` runs the fast part of it on every file it writes.

Minimum thickness is measured along Z: from the centroid of every face
that looks up or down (within 60 degrees of level) a ray goes straight
into the part and stops at the first face it meets. For a part printed
flat that is the thinnest layer stack; for an insole it is the height of
the top surface above the bottom, or above the ceiling of an engraved
recess. Thin walls seen only sideways
(a knife edge at a rim, the flank of a round part) are not measured.
"""

from __future__ import annotations

import numpy as np

from insolegen.geometry.inspection import edge_counts, face_volumes_areas
from insolegen.geometry.query import TooDense, crossing_pairs, vertical_thickness
from insolegen.prescription.materials import DEFAULT_MATERIAL, MATERIALS, Material, material  # noqa: F401
from insolegen.core.errors import InputError
from insolegen.prescription.printers import Printer, parse_bed  # noqa: F401
from insolegen.core.tolerances import TOL


MAX_TRIANGLES = 2_000_000  # above this, slicers slow down badly: a warning, not a failure


def _faces_report(area2: np.ndarray, faces: np.ndarray, n: int, scale: float
                  ) -> dict[str, int]:
    """Degenerate faces (a repeated corner or no area) and duplicate faces (same corners),
    from the faces' doubled areas (m,)."""
    f0, f1, f2 = (faces[:, i].astype(np.int64) for i in range(3))
    degenerate = (f0 == f1) | (f1 == f2) | (f0 == f2) | (area2 <= 1e-10 * scale * scale)
    lo, hi = np.minimum(np.minimum(f0, f1), f2), np.maximum(np.maximum(f0, f1), f2)
    key = np.column_stack([lo, f0 + f1 + f2 - lo - hi, hi])  # each face's corners, sorted
    if n < 2**21:  # three indices fit one int64
        code = np.sort((key[:, 0] * n + key[:, 1]) * n + key[:, 2])
        same = code[1:] == code[:-1]
    else:
        order = np.lexsort(key.T[::-1])
        same = np.all(key[order][1:] == key[order][:-1], axis=1)
    return {"degenerate_faces": int(degenerate.sum()), "duplicate_faces": int(same.sum())}


def _shells(faces: np.ndarray, n: int, signed: np.ndarray) -> tuple[int, int]:
    """Number of connected shells and how many of them enclose negative volume,
    from the faces' signed volumes (m,)."""
    a = np.concatenate([faces[:, 0], faces[:, 1], faces[:, 2]])
    b = np.concatenate([faces[:, 1], faces[:, 2], faces[:, 0]])
    from scipy.sparse import coo_matrix  # only the thorough check counts shells
    from scipy.sparse.csgraph import connected_components

    graph = coo_matrix((np.ones(len(a), np.int8), (a, b)), shape=(n, n))
    count, label = connected_components(graph, directed=False)
    per_shell = np.bincount(label[faces[:, 0]], weights=signed, minlength=count)
    used = np.bincount(label[faces[:, 0]], minlength=count) > 0
    return int(used.sum()), int(np.sum(used & (per_shell < 0)))


def bed_fit(xy: np.ndarray, height: float, bed: tuple[float, float, float]
            ) -> tuple[bool, float | None]:
    """Does a footprint (k, 2) of ``height`` fit the bed, turned about Z if need be?

    Returns (fits, the smallest turn in degrees that fits, or None).
    """
    if height > bed[2]:
        return False, None
    from scipy.spatial import ConvexHull, QhullError
    try:
        pts = xy[ConvexHull(xy).vertices]
    except (QhullError, ValueError):
        pts = xy
    angles = np.radians(np.r_[0.0, np.arange(0.5, 90.0, 0.5), -np.arange(0.5, 90.0, 0.5)])
    angles = angles[np.argsort(np.abs(angles), kind="stable")]
    c, s = np.cos(angles)[:, None], np.sin(angles)[:, None]
    u = pts[:, 0] * c - pts[:, 1] * s
    v = pts[:, 0] * s + pts[:, 1] * c
    ex, ey = np.ptp(u, axis=1), np.ptp(v, axis=1)
    fits = (ex <= bed[0]) & (ey <= bed[1])
    if not fits.any():
        return False, None
    return True, round(float(np.degrees(angles[np.argmax(fits)])), 1)


def check_mesh(vertices: np.ndarray, faces: np.ndarray, mat: Material,
               bed: tuple[float, float, float] | None = None, thorough: bool = True,
               edges: dict[str, int] | None = None) -> dict:
    """Printability of one body: vertices (n, 3) float mm, faces (m, 3) int.

    ``thorough`` False skips the costly tests (self-intersections, thickness
    by rays, counting shells), for parts correct by construction; they are
    then reported as ``None`` and the whole body's volume must be positive. ``edges``: the
    faces' :func:`~insolegen.geometry.inspection.edge_counts` when already known. The report's
    ``problems`` lists one clear reason per failed test; the body is printable when it is empty.
    """
    problems: list[str] = []
    warnings: list[str] = []
    report: dict = {"triangles": int(len(faces)), "vertices": int(len(vertices))}
    if len(faces) == 0:
        report.update(printable=False, problems=["no triangles: nothing to print"], warnings=[])
        return report
    n = len(vertices)
    edges = edge_counts(faces, n) if edges is None else edges
    closed = edges["open_edges"] == 0 and edges["nonmanifold_edges"] == 0
    signed, area2 = face_volumes_areas(vertices, faces)
    volume = float(signed.sum())
    # Shells cost a graph search: only when thorough; else the whole body's volume decides.
    shells, inverted = _shells(faces, n, signed) if thorough else (None, int(volume < 0))
    lo, hi = vertices.T.min(axis=1), vertices.T.max(axis=1)
    report.update(edges)
    report.update(_faces_report(area2, faces, n, float((hi - lo).max())))
    report.update(watertight=closed, winding_consistent=closed and edges["flipped_edges"] == 0,
                  shells=shells, inside_out_shells=inverted,
                  volume_mm3=round(volume, 1),
                  size_mm=[round(float(d), 3) for d in hi - lo],
                  bottom_z_mm=round(float(lo[2]), 4))
    if edges["open_edges"]:
        problems.append(f"open mesh: {edges['open_edges']} edges border a hole (not watertight)")
    if edges["nonmanifold_edges"]:
        problems.append(f"non-manifold: {edges['nonmanifold_edges']} edges are shared by more "
                        "than two faces")
    if edges["flipped_edges"]:
        problems.append(f"inconsistent winding: {edges['flipped_edges']} edges run the same way "
                        "in both their faces (some faces are flipped)")
    if closed and edges["flipped_edges"] == 0 and inverted:
        problems.append(f"inside out: {inverted} of {shells or 1} shells enclose negative "
                        "volume (faces wound inward)")
    if report["degenerate_faces"]:
        problems.append(f"degenerate faces: {report['degenerate_faces']} faces have no area")
    if report["duplicate_faces"]:
        problems.append(f"duplicate faces: {report['duplicate_faces']} faces repeat another "
                        "face's corners")
    if len(faces) > MAX_TRIANGLES:
        warnings.append(f"{len(faces)} triangles: more than {MAX_TRIANGLES}; slicers get slow")

    report["material"] = mat.name
    report["min_wall_mm"] = mat.min_wall_mm
    report["self_intersections"] = None
    report["min_thickness_mm"] = None
    if thorough:
        try:
            pairs = crossing_pairs(vertices, faces)
            report["self_intersections"] = int(len(pairs))
            if len(pairs):
                where = vertices[faces[pairs[0, 0]]].mean(axis=0)
                problems.append(f"self-intersecting: {len(pairs)} pairs of faces cut into each "
                                f"other (one near x={where[0]:.1f} y={where[1]:.1f} "
                                f"z={where[2]:.1f} mm)")
            face, thick = vertical_thickness(vertices, faces)
            finite = np.isfinite(thick)
            if finite.any():
                k = int(np.argmin(np.where(finite, thick, np.inf)))
                report["min_thickness_mm"] = round(float(thick[k]), 3)
                at = vertices[faces[face[k]]].mean(axis=0)
                report["thinnest_at_mm"] = [round(float(c), 1) for c in at]
                if thick[k] < mat.min_wall_mm - TOL.thickness_mm:
                    problems.append(
                        f"too thin for {mat.name}: {thick[k]:.2f} mm at x={at[0]:.1f} "
                        f"y={at[1]:.1f} mm, the minimum wall is {mat.min_wall_mm:g} mm")
        except TooDense as exc:
            problems.append(f"too dense to test for self-intersections and thickness ({exc}): "
                            "many faces crowd the same place")
    if bed is not None:
        fits, turn = bed_fit(vertices[:, :2], float(hi[2] - lo[2]), bed)
        report["bed_mm"] = list(bed)
        report["fits_bed"] = fits
        report["bed_turn_deg"] = turn
        if not fits:
            size = " x ".join(f"{d:.1f}" for d in hi - lo)
            problems.append(f"larger than the bed: {size} mm does not fit "
                            f"{bed[0]:g} x {bed[1]:g} x {bed[2]:g} mm at any turn about Z")
    report["printable"] = not problems
    report["problems"] = problems
    report["warnings"] = warnings
    return report


def verdict(name: str, bodies: list[dict], mat: Material) -> str:
    """One line: printable or not, and why."""
    problems = [f"{b['name']}: {p}" for b in bodies for p in b["problems"]]
    if problems:
        return f"NOT printable in {mat.name}: " + "; ".join(problems)
    thin = [b["min_thickness_mm"] for b in bodies if b.get("min_thickness_mm") is not None]
    parts = [f"{len(bodies)} bod{'y' if len(bodies) == 1 else 'ies'}",
             f"{sum(b['triangles'] for b in bodies)} triangles", "watertight"]
    if thin:
        parts.append(f"thinnest {min(thin):.2f} mm >= {mat.min_wall_mm:g} mm")
    turns = [b["bed_turn_deg"] for b in bodies if b.get("fits_bed")]
    if turns:
        bed = bodies[0]["bed_mm"]
        turn = max(turns, key=abs)
        parts.append(f"fits {bed[0]:g}x{bed[1]:g}x{bed[2]:g}"
                     + (f" turned {turn:g} deg" if turn else ""))
    return f"printable in {mat.name}: {name}: " + ", ".join(parts)


def printer_fit(vertices: np.ndarray, printer: Printer) -> dict:
    """Does a part (vertices (n, 3) mm, or (n, 2) with its height unknown) fit the printer's
    usable volume (its bed inside the margins), and at which turn about Z? JSON-able."""
    usable = printer.usable_mm()
    height = float(np.ptp(vertices[:, 2])) if vertices.shape[1] == 3 else 0.0
    fits, turn = bed_fit(vertices[:, :2], height, usable)
    return {"printer": printer.name, "bed_mm": list(printer.bed_mm),
            "usable_mm": list(usable), "fits": fits, "turn_deg": turn}


def require_fit(what: str, vertices: np.ndarray, printer: Printer) -> dict:
    """:func:`printer_fit`, or InputError naming the part's size and the bed when it fits no
    plate of the printer."""
    fit = printer_fit(vertices, printer)
    if not fit["fits"]:
        size = np.ptp(vertices, axis=0)
        ux, uy, uz = printer.usable_mm()
        bx, by, bz = printer.bed_mm
        shown = " x ".join(f"{d:.1f}" for d in size)
        field = (f"bed = '{bx:g}x{by:g}x{bz:g}'" if printer.name == "custom"
                 else f"printer = {printer.name!r}")
        room = (f"usable {ux:g} x {uy:g} x {uz:g} mm inside its {printer.margin_mm:g} mm "
                "margins" if printer.margin_mm else "used whole")
        raise InputError(f"{field}: {what}, {shown} mm, fits no plate of it (bed {bx:g} x "
                         f"{by:g} x {bz:g} mm, {room}) at any turn about Z")
    return fit
