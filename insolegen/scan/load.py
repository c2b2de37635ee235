"""Reading a foot scan: STL (binary or ASCII), OBJ and PLY meshes, PLY and XYZ point clouds.

Files are parsed by trimesh; before trimesh sees a byte, the file is checked
at the door: its size against :func:`max_scan_bytes` (``os.stat``, before
reading), a binary STL's triangle count against the file's size and
:data:`MAX_ELEMENTS` (before anything is allocated), a PLY header's element
counts against :data:`MAX_ELEMENTS`. After parsing, every coordinate must be
finite and there must be at least :data:`MIN_POINTS` points.

The loader knows nothing of feet: it returns the vertices (and faces, for a
mesh) in the file's own units and axes, centred on the origin. :func:`detect_units` then picks the
unit from the object's size.
"""

from __future__ import annotations

import io
import logging
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from insolegen.core.errors import InputError, ScanError
from insolegen.core.points import dot, principal_axes

log = logging.getLogger("insolegen")

MAX_SCAN_MB_DEFAULT = 100.0
MAX_SCAN_MB_ENV = "INSOLEGEN_MAX_SCAN_MB"
MAX_ELEMENTS = 3_000_000   # triangles or points; 3M triangles is ~150 MB of binary STL
MIN_POINTS = 500           # fewer is no scan of a foot, whatever its shape
FORMATS = {".stl": "stl", ".obj": "obj", ".ply": "ply", ".xyz": "xyz"}

# Unit name -> millimetres per unit. Aliases map what people type to these names.
UNITS = {"mm": 1.0, "cm": 10.0, "in": 25.4, "m": 1000.0}
UNIT_ALIASES = {"millimetre": "mm", "millimeter": "mm", "millimetres": "mm", "millimeters": "mm",
                "centimetre": "cm", "centimeter": "cm", "centimetres": "cm", "centimeters": "cm",
                "inch": "in", "inches": "in", '"': "in", "metre": "m", "meter": "m",
                "metres": "m", "meters": "m"}
# A foot scan's longest extent (mm): heel to toe, perhaps with a little leg or a
# floor patch. Of the units that put it in this range, the one nearest the
# typical size wins (in ratio): 10.5 units is 105 mm in cm but 267 mm in inches.
UNIT_EXTENT_RANGE_MM = (90.0, 800.0)
TYPICAL_EXTENT_MM = 270.0


@dataclass(frozen=True)
class RawScan:
    """A scan as read: ``vertices`` (n, 3) float64 in the file's units and frame,
    ``faces`` (m, 3) int64 for a mesh or ``None`` for a point cloud; the vertices are
    translated so that their bounding box is centred on the origin, by ``-offset``."""

    path: str
    file_format: str
    vertices: np.ndarray
    faces: np.ndarray | None
    offset: np.ndarray | None = None  # (3,) file units: the file's coordinates = vertices + offset

    @property
    def kind(self) -> str:
        return "point cloud" if self.faces is None else "mesh"


def max_scan_bytes() -> int:
    """The largest scan file accepted (bytes): ``$INSOLEGEN_MAX_SCAN_MB`` MB, default 100."""
    text = os.environ.get(MAX_SCAN_MB_ENV, "").strip()
    if not text:
        return int(MAX_SCAN_MB_DEFAULT * 1e6)
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not (np.isfinite(value) and value > 0):
        raise InputError(f"{MAX_SCAN_MB_ENV} = {text!r}: expected a positive number of "
                         f"megabytes (default {MAX_SCAN_MB_DEFAULT:g})")
    return int(value * 1e6)


def parse_units(text: object) -> str:
    """Canonical unit name (``mm``, ``cm``, ``in``, ``m``) for what a user typed."""
    key = str(text).strip().lower() if isinstance(text, str) else None
    key = UNIT_ALIASES.get(key, key)
    if key not in UNITS:
        raise InputError(f"scan_units = {text!r}: expected mm, cm, in or m")
    return key


FAR_FROM_ORIGIN = 100.0  # a scan this many of its sizes from its origin is centred as read


def scan_extent(vertices: np.ndarray) -> float:
    """The object's length along its first principal axis, in file units (0.5th to 99.5th
    percentile, so a few stray points do not count)."""
    sample = vertices[:: max(1, len(vertices) // 20000)]
    lo, hi = np.percentile(dot(sample, principal_axes(sample)[:, -1]), [0.5, 99.5])
    return float(hi - lo)


def unit_fits(extent: float) -> list[str]:
    """The units that make ``extent`` (file units) a foot scan's size, nearest typical first."""
    low, high = UNIT_EXTENT_RANGE_MM
    fits = [u for u, k in UNITS.items() if low <= extent * k <= high]
    return sorted(fits, key=lambda u: abs(np.log(extent * UNITS[u] / TYPICAL_EXTENT_MM)))


def units_confidence(extent: float, unit: str) -> dict:
    """How sure the size makes the unit: ``high`` when no other unit fits, ``medium`` when
    the others give a size at least twice as far (in ratio) from the typical, else ``low``;
    with the size each other fitting unit would give (mm)."""
    fits = unit_fits(extent)
    others = {u: round(extent * UNITS[u], 1) for u in fits if u != unit}
    far = [abs(np.log(extent * UNITS[u] / TYPICAL_EXTENT_MM)) for u in (unit, *others)]
    level = "high" if not others else "medium" if min(far[1:]) >= 2 * far[0] + 0.1 else "low"
    return {"confidence": level, "other_units_that_fit_mm": others}


def wrong_units(extent: float, units: str) -> str | None:
    """Why ``units`` cannot be this scan's unit (its size in them is no foot's), or None."""
    low, high = UNIT_EXTENT_RANGE_MM
    size = extent * UNITS[units]
    if low <= size <= high:
        return None
    fits = unit_fits(extent)
    hint = f"; in {fits[0]} it is {extent * UNITS[fits[0]]:.0f} mm: give --scan-units " \
           f"{fits[0]}" if fits else ""
    return (f"scan_units = {units!r}: the scan comes out {size:.4g} mm long in {units}; a foot "
            f"scan is {low:g}-{high:g} mm{hint}, or --foot-length MM to scale an unscaled scan")


def detect_units(vertices: np.ndarray) -> tuple[str, float]:
    """The unit that makes this object the size of a foot scan, and its extent in mm.

    The extent is :func:`scan_extent`; of the units that fit, the one nearest the
    typical size (in ratio) wins.

    Raises
    ------
    ScanError
        No unit of :data:`UNITS` puts the extent in :data:`UNIT_EXTENT_RANGE_MM`.
    """
    extent = scan_extent(vertices)
    low, high = UNIT_EXTENT_RANGE_MM
    fits = unit_fits(extent)
    if not fits:
        sizes = ", ".join(f"{extent * k:.4g} mm in {u}" for u, k in UNITS.items())
        raise ScanError(
            f"scan: length {extent:.4g} (file units) fits no unit ({sizes}); a foot scan is "
            f"{low:g}-{high:g} mm: give --scan-units if one of these is right, or "
            "--foot-length MM to scale an unscaled scan")
    unit = min(fits, key=lambda u: abs(np.log(extent * UNITS[u] / TYPICAL_EXTENT_MM)))
    return unit, extent * UNITS[unit]


def _binary_stl_count(head: bytes, size: int, path: Path) -> int | None:
    """Triangle count of a binary STL, checked against the file size and
    :data:`MAX_ELEMENTS` before anything is read; ``None`` for an ASCII STL."""
    count = struct.unpack("<I", head[80:84])[0] if len(head) >= 84 else None
    exact = count is not None and size == 84 + 50 * count
    text = head[:1024].lstrip()
    if not exact and text[:5].lower() == b"solid" and (b"facet" in text or b"endsolid" in text
                                                       or len(text) < 1024):
        return None
    if count is None:
        raise ScanError(f"scan = '{path}': {size} bytes, too short for a binary STL "
                        "(84 bytes of header at least) and not an ASCII STL")
    if count > MAX_ELEMENTS:
        raise ScanError(f"scan = '{path}': binary STL header claims {count} triangles; "
                        f"accepted: at most {MAX_ELEMENTS}")
    held = (size - 84) // 50
    if held < count:
        raise ScanError(f"scan = '{path}': binary STL header claims {count} triangles but "
                        f"the file holds {held} ({size} bytes; truncated?)")
    if not exact:
        log.warning("scan %s: %d bytes after the %d triangles the header counts; ignored",
                    path.name, size - 84 - 50 * count, count)
    return count


def _ply_counts(head: bytes, path: Path) -> None:
    """Refuse a PLY whose header declares more elements than accepted."""
    end = head.find(b"end_header")
    if not head.startswith(b"ply") or end < 0:
        raise ScanError(f"scan = '{path}': not a PLY file (no 'ply ... end_header' header "
                        "in its first 64 kB)")
    for line in head[:end].decode("ascii", "replace").splitlines():
        words = line.split()
        if len(words) == 3 and words[0] == "element" and words[1] in ("vertex", "face"):
            if not words[2].isdigit() or int(words[2]) > MAX_ELEMENTS:
                raise ScanError(f"scan = '{path}': PLY header declares {words[2]} "
                                f"{words[1]} elements; accepted: at most {MAX_ELEMENTS}")


def _parse(data: bytes, file_type: str, path: Path):
    import trimesh
    try:
        loaded = trimesh.load(io.BytesIO(data), file_type=file_type, process=False)
    except Exception as exc:  # trimesh raises many kinds on malformed files
        reason = " ".join(str(exc).split())[:120]  # one line, whatever trimesh says
        raise ScanError(f"scan = '{path}': not a readable {file_type.upper()} file "
                        f"({type(exc).__name__}: {reason})") from None
    if isinstance(loaded, trimesh.Scene):
        geometry = [g for g in loaded.dump() if hasattr(g, "vertices")] if loaded.geometry else []
        if not geometry:
            return np.empty((0, 3)), None
        loaded = trimesh.util.concatenate(geometry)
    # Fresh aligned copies: trimesh's arrays can be unaligned views of the file's bytes,
    # on which every later numpy operation is many times slower.
    vertices = np.array(loaded.vertices, dtype=np.float64, order="C")
    faces = getattr(loaded, "faces", None)
    faces = None if faces is None or len(faces) == 0 else np.array(faces, dtype=np.int64,
                                                                     order="C")
    return vertices, faces


def read_scan(path: Path | str) -> RawScan:
    """Read a scan file into plain arrays, checked at the door (see the module docstring).

    Parameters
    ----------
    path : Path
        ``.stl``, ``.obj``, ``.ply`` or ``.xyz``.

    Returns
    -------
    RawScan
        Vertices in the file's units; faces for a mesh, ``None`` for a point cloud.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in FORMATS:
        raise ScanError(f"scan = '{path}': unsupported file type {ext or '(none)'!r}; "
                        f"accepted: {', '.join(FORMATS)}")
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise ScanError(f"scan = '{path}': cannot be read ({exc.strerror or exc})") from None
    limit = max_scan_bytes()
    if size > limit:
        raise ScanError(f"scan = '{path}': {size / 1e6:.1f} MB; accepted: at most "
                        f"{limit / 1e6:g} MB (set {MAX_SCAN_MB_ENV} to change)")
    if size == 0:
        raise ScanError(f"scan = '{path}': empty file (0 bytes)")
    try:
        with open(path, "rb") as fh:
            head = fh.read(65536)
            file_type = FORMATS[ext]
            if file_type == "stl":
                count = _binary_stl_count(head, size, path)
                file_type = "stl" if count is not None else "stl_ascii"
                if count is not None:  # the counted triangles only: trailing bytes unread
                    need = 84 + 50 * count
                    data = (head + fh.read(max(0, need - len(head))))[:need]
                else:
                    data = head + fh.read()
            else:
                if file_type == "ply":
                    _ply_counts(head, path)
                data = head + fh.read()
    except OSError as exc:
        raise ScanError(f"scan = '{path}': cannot be read ({exc.strerror or exc})") from None
    if file_type == "stl" and len(data) == 84:
        raise ScanError(f"scan = '{path}': binary STL with 0 triangles")
    vertices, faces = _parse(data, file_type, path)
    del data
    n_elements = len(faces) if faces is not None else len(vertices)
    if n_elements > MAX_ELEMENTS or len(vertices) > 3 * MAX_ELEMENTS:
        raise ScanError(f"scan = '{path}': {n_elements} "
                        f"{'triangles' if faces is not None else 'points'}; accepted: at most "
                        f"{MAX_ELEMENTS}")
    if vertices.ndim != 2 or vertices.shape[1] != 3 or len(vertices) == 0:
        raise ScanError(f"scan = '{path}': no vertices found")
    bad = ~np.isfinite(vertices).all(axis=1)
    if bad.any():
        raise ScanError(f"scan = '{path}': {int(bad.sum())} of {len(vertices)} vertices are "
                        "not finite numbers (NaN or infinite); accepted: finite coordinates")
    if faces is not None and (faces.min() < 0 or faces.max() >= len(vertices)):
        raise ScanError(f"scan = '{path}': faces refer to vertices that do not exist")
    # Counting distinct points is only worth its sort when the answer could be "too few".
    n_points = len(np.unique(vertices, axis=0)) if len(vertices) < 20 * MIN_POINTS \
        else len(vertices)
    if n_points < MIN_POINTS:
        raise ScanError(f"scan = '{path}': {n_points} distinct points; a foot scan has at "
                        f"least {MIN_POINTS}")
    # A scan's frame is arbitrary (later stages align it): one far from its origin (1e9 m
    # away) is centred here, where the subtraction is exact, so that it meshes as well as one
    # near it. Scans near their origin are left as they are, bit for bit.
    offset = (vertices.min(axis=0) + vertices.max(axis=0)) / 2
    size = float(np.max(vertices.max(axis=0) - vertices.min(axis=0)))
    if float(np.max(np.abs(offset))) > FAR_FROM_ORIGIN * max(size, 1e-300):
        vertices -= offset
    else:
        offset = None
    log.info("scan %s: %s, %d vertices%s", path.name, file_type, len(vertices),
             "" if faces is None else f", {len(faces)} triangles")
    return RawScan(str(path), file_type, vertices, faces, offset)
