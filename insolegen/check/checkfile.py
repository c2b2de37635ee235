"""``insolegen check``: is a mesh file printable, and does an insole measure as designed?

Any STL (binary or ASCII) or 3MF is checked body by body for printability
(:mod:`insolegen.check.printability`). Bodies known to be insoles (side from
``--side``, from the file name ``<id>_left.stl`` or from the 3MF object
name ``<id> left``) are also measured (:mod:`insolegen.geometry.inspection`) and
compared with their design report when there is one (``<id>.json`` beside).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np

from insolegen.core.errors import InputError, ScanError
from insolegen.output.meshread import Body, parse_3mf, parse_stl
from insolegen.geometry.inspection import measure, merge_corners
from insolegen.check.compare import compare
from insolegen.check.printability import DEFAULT_MATERIAL, check_mesh, material, verdict
from insolegen.prescription.printers import Printer

_SIDE = re.compile(r"^(?P<stem>.+)[_ ](?P<side>left|right)$")
MAX_FILE_BYTES = 2**31


def read_bodies(path: Path) -> tuple[str, list[Body]]:
    """The file's format (``stl`` or ``3mf``) and its bodies, equal float32 corners merged."""
    path = Path(path)
    try:
        if not path.is_file():
            raise InputError(f"file = '{path}': no such file")
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ScanError(f"file = '{path}': larger than {MAX_FILE_BYTES} bytes")
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"file = '{path}': cannot be read ({exc.strerror or exc})") from None
    where = f"file = '{path}'"
    if data[:2] == b"PK":
        bodies = []
        for body in parse_3mf(data, where):
            v, f = merge_corners(body.vertices[body.faces].astype(np.float32)) if len(body.faces) \
                else (body.vertices, body.faces)
            bodies.append(Body(body.name, v, glued(f), body.placement))
        return "3mf", bodies
    v, f = merge_corners(parse_stl(data, where))
    return "stl", [Body(path.stem, v, f, np.eye(4))]


def glued(faces: np.ndarray) -> np.ndarray:
    """``faces`` (m, 3) less every pair of one triangle wound both ways: the shared surface
    of parts glued together (a split top cover on its base), inside the body they make."""
    if len(faces) == 0:
        return faces
    key = np.sort(faces, axis=1)
    turn = np.argmin(faces, axis=1)  # the triangle read from its smallest corner
    rolled = faces[np.arange(len(faces))[:, None], (turn[:, None] + np.arange(3)) % 3]
    up = rolled[:, 1] < rolled[:, 2]  # its winding, as one of the two orders of the corners
    _, inverse, counts = np.unique(key, axis=0, return_inverse=True, return_counts=True)
    inverse = inverse.ravel()
    ups = np.bincount(inverse, weights=up, minlength=len(counts))
    pair = (counts == 2) & (ups == 1)  # the same corners once each way
    return faces[~pair[inverse]]


MAX_DESIGN_BYTES = 16 << 20  # a design report is tens of kB
_EXPECTED = ("insole_length_mm", "heel_seat_height_mm", "heel_cup_depth_mm",
             "rearfoot_tilt_deg", "arch_rise_mm", "arch_peak_height_mm", "min_thickness_mm")
_LANDMARKS = ("heel_centre", "arch_apex")


def _finite(value: object, what: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not np.isfinite(value) or abs(value) > 1e6:
        raise ValueError(f"{what} = {str(value)[:40]!r}: expected a finite number")
    return float(value)


def _numbers(value: object, n: int, what: str) -> tuple[float, ...]:
    if not isinstance(value, (list, tuple)) or len(value) != n:
        raise ValueError(f"{what}: expected {n} numbers")
    return tuple(_finite(x, what) for x in value)


def _design(path: Path | None) -> dict | None:
    """The parts of a design report the check uses, each checked for type, shape and
    finiteness (a hostile report is an InputError naming what is wrong)."""
    if path is None:
        return None
    where = f"design = '{path}': not an insolegen design report"
    try:
        if Path(path).stat().st_size > MAX_DESIGN_BYTES:
            raise ValueError(f"larger than {MAX_DESIGN_BYTES} bytes")
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        d = data.get("design", data) if isinstance(data, dict) else None
        if not isinstance(d, dict):
            raise ValueError("expected a JSON object with a 'design' object")
        marks, foot, expected = d.get("landmarks"), d.get("foot"), d.get("expected")
        if not isinstance(marks, dict) or not isinstance(foot, dict) \
                or not isinstance(expected, dict):
            raise ValueError("expected 'landmarks', 'foot' and 'expected' objects")
        if "arch_height_mm" in expected and "arch_rise_mm" not in expected:  # older reports
            expected = {**expected, "arch_rise_mm": expected["arch_height_mm"]}
        missing = [k for k in _LANDMARKS if k not in marks] + \
            [k for k in _EXPECTED if k not in expected]
        if missing:
            raise ValueError(f"missing {', '.join(missing)}")
        heel = _finite(foot.get("heel_width_mm"), "foot.heel_width_mm")
        resolution = _finite(d.get("resolution_mm", 1.0), "resolution_mm")
        if heel <= 0 or resolution <= 0:
            raise ValueError("heel_width_mm and resolution_mm must be positive")
        outline = np.asarray(d.get("outline", []), dtype=float)
        if outline.ndim != 2 or outline.shape[1:] != (2,) or len(outline) < 3 \
                or not np.isfinite(outline).all():
            outline = None
        exclusions = d.get("seat_exclusions", [])
        if not isinstance(exclusions, list) or len(exclusions) > 100:
            raise ValueError("seat_exclusions: expected a list of (x, y, radius)")
        return {"file": str(path),
                "landmarks": {k: _numbers(v, 2, f"landmarks.{str(k)[:40]}")
                              for k, v in marks.items()},
                "heel_width_mm": heel,
                "expected": {k: _finite(expected[k], f"expected.{k}") for k in _EXPECTED},
                "resolution_mm": resolution,
                "seat_exclusions": tuple(_numbers(e, 3, "seat_exclusions") for e in exclusions),
                "plan_centre": None if outline is None else
                (outline.min(axis=0) + outline.max(axis=0)) / 2}
    except RecursionError:
        raise InputError(f"{where} (nested too deep)") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"{where} ({str(exc)[:200]})") from None


def in_design_frame(vertices: np.ndarray, side: str, design: dict) -> np.ndarray:
    """``vertices`` of a 3MF body moved in plan onto the design's frame: a part whose
    vertices were placed on the plate (a 3MF with parts, which PrusaSlicer reads only with
    the placement in the vertices) is measured where its design's landmarks are. The move is
    the one that puts the body's plan box centre on the design outline's (mirrored for the
    left side), mm; none without the outline."""
    centre = design.get("plan_centre")
    if centre is None or len(vertices) == 0:
        return vertices
    want = np.array([centre[0], -centre[1] if side == "left" else centre[1]])
    have = (vertices[:, :2].min(axis=0) + vertices[:, :2].max(axis=0)) / 2
    moved = vertices.copy()
    moved[:, :2] += want - have
    return moved


def _insole(body: Body, side: str, design: dict | None, kind: str = "stl") -> dict:
    """Insole features of ``body`` in its own frame (a 3MF body: in its design's,
    :func:`in_design_frame`), compared with ``design`` if given."""
    out: dict = {"side": side}
    if len(body.faces) == 0:
        return {**out, "error": "no triangles"}
    try:
        if design is not None:
            out["design"] = design["file"]
            v = in_design_frame(body.vertices, side, design) if kind == "3mf" else body.vertices
            out["measured"] = measure(v, body.faces, side, design["landmarks"],
                                      design["heel_width_mm"], design["seat_exclusions"])
            out["checks"] = compare(out["measured"], design["expected"],
                                    design.get("resolution_mm", 1.0))
            out["as_designed"] = all(c["ok"] for c in out["checks"].values())
        else:
            out["landmarks"] = "estimated from the mesh (no design report found)"
            out["measured"] = measure(body.vertices, body.faces, side)
    except (ValueError, IndexError, KeyError, np.linalg.LinAlgError) as exc:
        return {"side": side, "error": f"not measurable as an insole ({str(exc)[:200]})"}
    return out


def check_file(path: Path, side: str | None = None, design: Path | None = None,
               material_name: str = DEFAULT_MATERIAL,
               bed: tuple[float, float, float] | None = None, printer: Printer | None = None
               ) -> dict:
    """Printability and insole features of the mesh file ``path`` (JSON-able).

    ``report["printable"]`` and the one-line ``report["verdict"]`` sum up
    every body; ``report["bodies"]`` holds each body's tests, with ``printer`` (a
    preset or a ``--bed``) whether it fits the printer's usable volume and at which turn
    about Z (the fit is tested on each body alone, in its own frame). A file with a
    single insole body also carries that body's ``side``, ``measured`` and
    (with a design) ``checks`` and ``as_designed`` at the top level.
    """
    path = Path(path)
    mat = material(material_name)
    if printer is not None:
        bed = printer.usable_mm()
    kind, bodies = read_bodies(path)
    stem_match = _SIDE.match(path.stem)
    if design is None:
        stem = stem_match.group("stem") if stem_match else path.stem
        if kind == "3mf":  # <id>_zoned.3mf and <id>_zoned_orca.3mf are <id>'s
            stem = stem.removesuffix("_zoned_orca").removesuffix("_zoned")
        beside = path.with_name(stem + ".json")
        design = beside if kind == "3mf" or stem_match else None
        design = design if design is not None and design.is_file() else None
    known = _design(design)
    report: dict = {"file": str(path), "format": kind,
                    "material": {"name": mat.name, "process": mat.process,
                                 "min_wall_mm": mat.min_wall_mm,
                                 "density_g_cm3": mat.density_g_cm3, "source": mat.source},
                    "bed_mm": list(bed) if bed else None, "bodies": []}
    if printer is not None:
        report["printer"] = printer.to_json()
    for body in bodies:
        v, f = body.placed()
        entry = {"name": body.name, **check_mesh(v, f, mat, bed)}
        match = _SIDE.match(body.name)
        body_side = side if (side and len(bodies) == 1) else (match.group("side") if match
                                                              else None)
        if body_side is not None:
            entry["insole"] = _insole(body, body_side, known, kind)
        report["bodies"].append(entry)
    report["printable"] = all(b["printable"] for b in report["bodies"])
    report["verdict"] = verdict(path.name, report["bodies"], mat)
    insoles = [b["insole"] for b in report["bodies"] if "insole" in b]
    if len(report["bodies"]) == 1 and insoles:
        report.update(insoles[0])
    elif not insoles:
        report["insole"] = ("not measured: side unknown (name the file <id>_left.stl / "
                            "<id>_right.stl or give --side)")
    return report
