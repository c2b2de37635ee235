"""Outline files to a closed ring of points in millimetres: CSV, DXF, SVG.

- **CSV**: one ``x, y`` per row (comma, semicolon, tab or spaces), mm unless
  a header says otherwise: columns ``x`` and ``y`` may carry the unit
  (``x_mm``, ``x (in)``, ``X [cm]``), or a ``unit`` column names it per row
  (one unit for the whole file). Lines starting with ``#`` are comments.
- **DXF** (ezdxf): the one closed polyline, spline or ellipse in
  model space, flattened to 0.1 mm; the unit from ``$INSUNITS`` (unitless
  drawings are taken as mm).
- **SVG**: the one ``path``, ``polygon`` or ``polyline``; user units are
  CSS pixels (1/96 in) unless the root's ``width``/``height`` in a physical
  unit and its ``viewBox`` say otherwise; ``transform`` attributes apply.
  Path commands M, L, H, V, C, S, Q, T, Z (either case); arcs are refused.
  The outline is taken as the drawing is seen (SVG's y runs down the page);
  CSV and DXF coordinates have y up.

Each reader returns ``(points (n, 2) mm, report)``; the caller checks the ring.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np

from insolegen.tracing.shape import OutlineError

UNIT_MM = {"mm": 1.0, "cm": 10.0, "in": 25.4, "inch": 25.4, "inches": 25.4, "m": 1000.0,
           "pt": 25.4 / 72, "pc": 25.4 / 6, "px": 25.4 / 96, "millimetre": 1.0,
           "millimeter": 1.0, "millimetres": 1.0, "millimeters": 1.0}
MAX_POINTS = 200_000
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")


def _unit(text: str, what: str) -> float:
    key = text.strip().lower()
    if key not in UNIT_MM:
        raise OutlineError(f"{what}: unit {text!r}; accepted: mm, cm, in, m")
    return UNIT_MM[key]


def _split_row(line: str) -> list[str]:
    """Cells split at commas, semicolons or tabs; at spaces only when there are none."""
    line = line.strip()
    cells = re.split(r"[,;\t]", line) if re.search(r"[,;\t]", line) else line.split()
    return [c.strip() for c in cells if c.strip()]


def read_csv(path: Path, data: bytes) -> tuple[np.ndarray, dict]:
    """x, y rows of an outline CSV (see the module docstring), in mm."""
    what = f"outline = '{path}'"
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise OutlineError(f"{what}: not a text CSV file (not UTF-8)") from None
    rows = [(i, _split_row(line)) for i, line in enumerate(text.splitlines(), start=1)
            if line.strip() and not line.lstrip().startswith("#")]
    if not rows:
        raise OutlineError(f"{what}: no rows; expected x,y in mm per row")
    scale, unit_col, unit_source = 1.0, None, "mm (no unit given)"
    first = rows[0][1]
    if first and not _NUMBER.fullmatch(first[0]):
        names = [c.lower() for c in first]
        cols = []
        for axis in ("x", "y"):
            hit = [k for k, n in enumerate(names) if re.fullmatch(
                rf"{axis}(?:[\s_]*[\(\[]?\s*([a-z]+)\s*[\)\]]?)?", n)]
            if not hit:
                raise OutlineError(f"{what}: header {','.join(first)!r} has no {axis!r} column;"
                                   " expected x,y (mm) or x_<unit>,y_<unit> or x,y,unit")
            cols.append(hit[0])
            suffix = re.fullmatch(rf"{axis}[\s_]*[\(\[]?\s*([a-z]*)\s*[\)\]]?", names[hit[0]])
            if suffix and suffix.group(1):
                scale, unit_source = _unit(suffix.group(1), what), f"{suffix.group(1)} (header)"
        if "unit" in names or "units" in names:
            unit_col = names.index("unit") if "unit" in names else names.index("units")
        rows = rows[1:]
    else:
        cols = [0, 1]
    if len(rows) > MAX_POINTS:
        raise OutlineError(f"{what}: {len(rows)} rows; accepted: at most {MAX_POINTS}")
    units = set()
    xy = np.empty((len(rows), 2))
    for k, (line_no, cells) in enumerate(rows):
        try:
            xy[k] = [float(cells[cols[0]]), float(cells[cols[1]])]
        except (ValueError, IndexError):
            raise OutlineError(f"{what}: line {line_no} {','.join(cells)[:60]!r}: expected two "
                               "numbers x,y") from None
        if unit_col is not None:
            units.add(cells[unit_col].lower() if unit_col < len(cells) else "")
    if unit_col is not None:
        if len(units) != 1:
            raise OutlineError(f"{what}: the unit column holds {sorted(units)}; expected one unit")
        (name,) = units
        scale, unit_source = _unit(name, what), f"{name} (unit column)"
    return xy * scale, {"format": "csv", "units": unit_source}


def read_dxf(path: Path, data: bytes) -> tuple[np.ndarray, dict]:
    """The one closed curve of a DXF drawing's model space, flattened, in mm."""
    import io

    import ezdxf
    from ezdxf import path as dxf_path

    what = f"outline = '{path}'"
    try:
        doc = ezdxf.read(io.StringIO(data.decode("utf-8", errors="replace")))
    except Exception as exc:  # ezdxf raises several kinds on malformed files
        raise OutlineError(f"{what}: not a readable DXF file "
                           f"({type(exc).__name__}: {' '.join(str(exc).split())[:120]})") from None
    insunits = int(doc.header.get("$INSUNITS", 0) or 0)
    scale = {1: 25.4, 2: 304.8, 4: 1.0, 5: 10.0, 6: 1000.0}.get(insunits)
    if scale is None and insunits != 0:
        raise OutlineError(f"{what}: drawing unit $INSUNITS = {insunits}; accepted: "
                           "1 (in), 4 (mm), 5 (cm), 6 (m) or 0 (unitless, taken as mm)")
    rings = []
    for entity in doc.modelspace():
        if entity.dxftype() not in ("LWPOLYLINE", "POLYLINE", "SPLINE", "ELLIPSE"):
            continue
        try:
            points = np.array([(v.x, v.y) for v in dxf_path.make_path(entity).flattening(0.1)])
        except Exception:  # an entity ezdxf cannot make a path of is not an outline
            continue
        if len(points) >= 3 and np.linalg.norm(points[0] - points[-1]) <= 1e-6 + \
                1e-3 * np.ptp(points, axis=0).max():
            rings.append(points)
    if len(rings) != 1:
        raise OutlineError(f"{what}: {len(rings)} closed curves (polyline or spline) in the "
                           "drawing; expected exactly one: the foot's outline")
    return rings[0] * (scale or 1.0), {
        "format": "dxf", "units": {1: "in", 2: "ft", 4: "mm", 5: "cm", 6: "m"}.get(
            insunits, "mm (unitless drawing)") + " ($INSUNITS)"}


def _length_mm(text: str | None) -> float | None:
    m = re.fullmatch(r"\s*([-+]?[\d.]+(?:e[-+]?\d+)?)\s*(mm|cm|in|pt|pc|px|m)?\s*", text or "")
    return None if m is None else float(m.group(1)) * UNIT_MM[m.group(2) or "px"]


def _transform(text: str | None, what: str) -> np.ndarray:
    """The (3, 3) matrix of an SVG ``transform`` attribute."""
    out = np.eye(3)
    for name, args in re.findall(r"(\w+)\s*\(([^)]*)\)", text or ""):
        v = [float(a) for a in _NUMBER.findall(args)]
        if name == "matrix" and len(v) == 6:
            m = np.array([[v[0], v[2], v[4]], [v[1], v[3], v[5]], [0, 0, 1]])
        elif name == "translate" and v:
            m = np.array([[1, 0, v[0]], [0, 1, v[1] if len(v) > 1 else 0], [0, 0, 1]])
        elif name == "scale" and v:
            m = np.diag([v[0], v[1] if len(v) > 1 else v[0], 1.0])
        elif name == "rotate" and v:
            c, s = np.cos(np.radians(v[0])), np.sin(np.radians(v[0]))
            cx, cy = (v[1], v[2]) if len(v) == 3 else (0.0, 0.0)
            m = np.array([[c, -s, cx - c * cx + s * cy], [s, c, cy - s * cx - c * cy], [0, 0, 1]])
        else:
            raise OutlineError(f"{what}: transform {name}({args.strip()}) not understood")
        out = out @ m
    return out


def _bezier(p: np.ndarray, samples: int = 16) -> np.ndarray:
    """Points along a Bezier curve of (k, 2) control points (start excluded)."""
    t = np.linspace(0, 1, samples + 1)[1:, None]
    if len(p) == 3:
        return (1 - t) ** 2 * p[0] + 2 * (1 - t) * t * p[1] + t ** 2 * p[2]
    return ((1 - t) ** 3 * p[0] + 3 * (1 - t) ** 2 * t * p[1] + 3 * (1 - t) * t ** 2 * p[2]
            + t ** 3 * p[3])


def path_points(d: str, what: str) -> list[np.ndarray]:
    """The subpaths of an SVG path's ``d`` as (n, 2) point arrays (Beziers sampled)."""
    tokens = re.findall(r"[MLHVCSQTAZmlhvcsqtaz]|" + _NUMBER.pattern, d)
    subpaths: list[list] = []
    cur = np.zeros(2)
    start = np.zeros(2)
    last_ctrl = None
    cmd = None
    i = 0
    counts = {"M": 2, "L": 2, "H": 1, "V": 1, "C": 6, "S": 4, "Q": 4, "T": 2, "Z": 0}
    while i < len(tokens):
        if tokens[i].isalpha():
            cmd = tokens[i]
            i += 1
        elif cmd is None:
            raise OutlineError(f"{what}: path data starts with a number, not a command")
        up = cmd.upper()
        if up == "A":
            raise OutlineError(f"{what}: path arcs (A) are not accepted; convert the outline "
                               "to Beziers or a polyline")
        n = counts[up]
        if up == "Z":
            if subpaths:
                subpaths[-1].append(start.copy())
            cur, last_ctrl = start.copy(), None
            continue
        args = tokens[i:i + n]
        if len(args) < n or any(a.isalpha() for a in args):
            raise OutlineError(f"{what}: path command {cmd} needs {n} numbers")
        v = np.array([float(a) for a in args])
        i += n
        rel = cmd.islower()
        base = cur if rel else np.zeros(2)
        if up == "M":
            cur = base + v
            start = cur.copy()
            subpaths.append([cur.copy()])
            cmd = "l" if rel else "L"
            last_ctrl = None
            continue
        if not subpaths:
            subpaths.append([cur.copy()])
        if up == "L":
            cur = base + v
            subpaths[-1].append(cur.copy())
            last_ctrl = None
        elif up == "H":
            cur = np.array([v[0] + (cur[0] if rel else 0.0), cur[1]])
            subpaths[-1].append(cur.copy())
            last_ctrl = None
        elif up == "V":
            cur = np.array([cur[0], v[0] + (cur[1] if rel else 0.0)])
            subpaths[-1].append(cur.copy())
            last_ctrl = None
        else:
            pts = v.reshape(-1, 2) + base
            if up in ("S", "T"):
                reflected = 2 * cur - last_ctrl if last_ctrl is not None else cur.copy()
                pts = np.vstack([reflected, pts])
            ctrl = np.vstack([cur, pts])
            subpaths[-1].extend(_bezier(ctrl))
            last_ctrl, cur = ctrl[-2].copy(), ctrl[-1].copy()
    return [np.array(s) for s in subpaths if len(s) >= 3]


def read_svg(path: Path, data: bytes) -> tuple[np.ndarray, dict]:
    """The one closed path / polygon of an SVG drawing, in mm."""
    what = f"outline = '{path}'"
    if b"<!ENTITY" in data or b"<!DOCTYPE" in data:
        raise OutlineError(f"{what}: SVG with a DOCTYPE or entities; accepted: plain SVG")
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise OutlineError(f"{what}: not a readable SVG file ({exc})") from None
    if root.tag.rsplit("}", 1)[-1] != "svg":
        raise OutlineError(f"{what}: not an SVG file (root element {root.tag!r})")
    scale, units = 25.4 / 96, "px (1/96 in, no physical size given)"
    box = [float(v) for v in _NUMBER.findall(root.get("viewBox", ""))]
    width = root.get("width", "")
    width_mm = _length_mm(width)
    if len(box) == 4 and box[2] > 0 and width_mm is not None:
        scale = width_mm / box[2]
        units = f"width {width.strip()} over the viewBox's {box[2]:g}"
    rings = []

    def walk(node: ET.Element, matrix: np.ndarray) -> None:
        here = matrix @ _transform(node.get("transform"), what)
        tag = node.tag.rsplit("}", 1)[-1]
        found: list[np.ndarray] = []
        if tag == "path":
            found = path_points(node.get("d", ""), what)
        elif tag in ("polygon", "polyline"):
            v = np.array([float(a) for a in _NUMBER.findall(node.get("points", ""))])
            if len(v) >= 6:
                pts = v[: len(v) // 2 * 2].reshape(-1, 2)
                found = [np.vstack([pts, pts[:1]]) if tag == "polygon" else pts]
        for pts in found:
            pts = pts @ here[:2, :2].T + here[:2, 2]
            if np.linalg.norm(pts[0] - pts[-1]) <= 1e-3 * np.ptp(pts, axis=0).max():
                rings.append(pts)
        for child in node:
            walk(child, here)

    walk(root, np.eye(3))
    if sum(len(r) for r in rings) > MAX_POINTS:
        raise OutlineError(f"{what}: more than {MAX_POINTS} points")
    if len(rings) != 1:
        raise OutlineError(f"{what}: {len(rings)} closed paths in the drawing; expected exactly "
                           "one: the foot's outline")
    # SVG's y runs down the page; the drawing as seen has +Y up it.
    return rings[0] * [scale, -scale], {"format": "svg", "units": units}
