"""A plantar pressure map: read the export, take the peak over frames, register it to the foot.

Two file kinds are read (the loader returns plain data, :class:`PressureMap`):

- a generic CSV grid: a header line ``# pitch_mm = 5.08`` (or ``5.08 x 7.62``:
  along a row, then between rows; optional ``units = kPa``), then one line per
  sensor row of comma-separated values; frames are separated by blank lines;
- Tekscan's ASCII export: ``ROWS``, ``COLS``, ``ROW_SPACING``, ``COL_SPACING``
  (with a unit, ``mm`` or ``cm``) and ``UNITS`` header lines, then frames,
  each a ``Frame N`` line and ROWS lines of COLS values (``B``: a blank
  sensel outside the sensor's shape, read as 0).

Registration (:func:`register`) places the peak-pressure map in the foot
frame (heel at x = 0, toes along +X, +Y medial of a right foot): the loaded
area's principal axes give the long axis; its narrower end is the heel; the
midfoot's contact lies lateral and the toes medial of the heel-ball line,
which tells a left foot's map (mirrored into the right frame) from a right
one's; then a similarity fit (rotation, translation, one scale) of the loaded
area's border to the outline's, by iterative closest points with the
Umeyama least-squares step (Umeyama S, IEEE TPAMI 13(4):376-380, 1991),
leaving out the midfoot, whose medial border is the arch and not the
outline. A map whose fitted scale is far from 1, or whose load mostly falls
outside the outline, is not of this foot and is refused.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from insolegen.core.errors import InputError, shown

MAX_BYTES = 64 << 20
MAX_CELLS = 10_000_000
LOADED_FRACTION = 0.05   # a sensel is loaded above this share of the map's peak
SCALE_RANGE = (0.8, 1.25)
MIN_INSIDE = 0.85        # share of the load that must fall inside the foot's outline
PEAK_FRACTION = 0.75     # a peak: a local maximum above this share of the map's peak
PEAK_SPAN_MM = 15.0      # two peaks are at least this far apart
_UNIT_MM = {"mm": 1.0, "cm": 10.0, "in": 25.4, "inch": 25.4}


@dataclass(frozen=True)
class PressureMap:
    """Frames (f, rows, cols) of pressure, the sensor pitch (mm) along a row and between
    rows, the unit, and the file it came from."""

    frames: np.ndarray
    col_pitch_mm: float
    row_pitch_mm: float
    units: str
    source: str

    @property
    def peak(self) -> np.ndarray:
        """(rows, cols) peak pressure over the frames."""
        return self.frames.max(axis=0)


def _bad(path: Path, what: str) -> InputError:
    return InputError(f"pressure = {shown(str(path))}: {what}")


def _numbers(path: Path, line: str, number: int, cols: int | None) -> list[float]:
    cells = [c.strip() for c in re.split(r"[,;\t]", line.strip())]
    if cells and cells[-1] == "":
        cells = cells[:-1]
    try:
        values = [0.0 if c.upper() == "B" else float(c) for c in cells]
    except ValueError:
        raise _bad(path, f"line {number}: {shown(line.strip()[:40])} is not a row of "
                         f"numbers") from None
    if not all(np.isfinite(values)):
        raise _bad(path, f"line {number}: a value is not a finite number (NaN or inf)")
    if any(v < 0 for v in values):
        raise _bad(path, f"line {number}: a negative pressure")
    if cols is not None and len(values) != cols:
        raise _bad(path, f"line {number}: {len(values)} values, expected {cols} (COLS)")
    return values


def _pitch(path: Path, key: str, text: str) -> float:
    m = re.fullmatch(r"\s*([0-9.eE+-]+)\s*([a-zA-Z]*)\s*", text)
    unit = (m.group(2).lower() or "mm") if m else ""
    if not m or unit not in _UNIT_MM:
        raise _bad(path, f"{key} = {shown(text.strip())}: expected a spacing in mm or cm")
    try:
        value = float(m.group(1)) * _UNIT_MM[unit]
    except ValueError:
        raise _bad(path, f"{key} = {shown(text.strip())}: not a number") from None
    if not 0.5 <= value <= 50.0:
        raise _bad(path, f"{key} = {shown(text.strip())}: out of range, expected 0.5 to 50 mm")
    return value


def _tekscan(path: Path, lines: list[str]) -> PressureMap:
    head: dict[str, str] = {}
    frames: list[list[list[float]]] = []
    rows = cols = None
    for number, line in enumerate(lines, 1):
        text = line.strip()
        if not text:
            continue
        if re.match(r"(?i)^frame\b", text):
            if rows is None or cols is None:
                try:
                    rows, cols = int(head["ROWS"]), int(head["COLS"])
                except (KeyError, ValueError):
                    raise _bad(path, "Tekscan header: ROWS and COLS must be whole numbers "
                                     "before the first frame") from None
                if not (2 <= rows <= 1000 and 2 <= cols <= 1000):
                    raise _bad(path, f"ROWS = {rows}, COLS = {cols}: expected 2 to 1000 each")
            if frames and len(frames[-1]) != rows:
                raise _bad(path, f"frame {len(frames)}: {len(frames[-1])} rows, expected "
                                 f"{rows} (ROWS)")
            frames.append([])
        elif frames:
            if len(frames[-1]) >= rows:
                raise _bad(path, f"line {number}: frame {len(frames)} has more than {rows} "
                                 f"rows (ROWS)")
            frames[-1].append(_numbers(path, text, number, cols))
        else:
            key, _, value = text.partition(" ")
            head[key.strip().upper().rstrip(":")] = value.strip()
    if not frames:
        raise _bad(path, "Tekscan export without frames ('Frame 1' and its rows)")
    if len(frames[-1]) != rows:
        raise _bad(path, f"frame {len(frames)}: {len(frames[-1])} rows, expected {rows} (ROWS)")
    for key in ("ROW_SPACING", "COL_SPACING"):
        if key not in head:
            raise _bad(path, f"Tekscan header: missing {key}")
    return PressureMap(np.array(frames, dtype=float), _pitch(path, "COL_SPACING", head["COL_SPACING"]),
                       _pitch(path, "ROW_SPACING", head["ROW_SPACING"]),
                       head.get("UNITS", "kPa"), path.name)


def _grid(path: Path, lines: list[str]) -> PressureMap:
    header = lines[0].lstrip("#").strip()
    fields = dict((k.strip().lower(), v.strip()) for k, _, v in
                  (f.partition("=") for f in header.split(";")) if _)
    if "pitch_mm" not in fields:
        raise _bad(path, f"header {shown(lines[0].strip()[:60])}: expected '# pitch_mm = "
                         f"5.08' (or '5.08 x 7.62', along a row x between rows)")
    parts = re.split(r"\s*[xX]\s*", fields["pitch_mm"])
    if len(parts) not in (1, 2):
        raise _bad(path, f"pitch_mm = {shown(fields['pitch_mm'])}: expected one or two "
                         f"spacings in mm")
    col = _pitch(path, "pitch_mm", parts[0])
    row = _pitch(path, "pitch_mm", parts[-1])
    frames: list[list[list[float]]] = [[]]
    for number, line in enumerate(lines[1:], 2):
        if not line.strip():
            if frames[-1]:
                frames.append([])
            continue
        if line.lstrip().startswith("#"):
            continue
        cols = len(frames[-1][0]) if frames[-1] else (len(frames[0][0]) if frames[0] else None)
        frames[-1].append(_numbers(path, line, number, cols))
    frames = [f for f in frames if f]
    if not frames:
        raise _bad(path, "no rows of values under the header")
    shapes = {(len(f), len(f[0])) for f in frames}
    if len(shapes) > 1:
        raise _bad(path, f"frames of different sizes: {sorted(shapes)}")
    rows, cols = shapes.pop()
    if rows < 2 or cols < 2:
        raise _bad(path, f"a {rows} x {cols} grid: expected at least 2 x 2 sensels")
    return PressureMap(np.array(frames, dtype=float), col, row, fields.get("units", "kPa"),
                       path.name)


def read_pressure(path: Path) -> PressureMap:
    """Read a pressure export (generic CSV grid or Tekscan ASCII); errors name the file."""
    path = Path(path)
    try:
        if not path.is_file():
            raise _bad(path, "no such file")
        if path.stat().st_size > MAX_BYTES:
            raise _bad(path, f"larger than {MAX_BYTES} bytes")
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise _bad(path, f"cannot be read ({exc})") from None
    lines = text.splitlines()
    if not lines or not lines[0].strip():
        raise _bad(path, "empty, or no header on the first line")
    tekscan = any(re.match(r"(?i)^\s*(ROWS|COLS)\b", line) for line in lines[:200])
    if not tekscan and not lines[0].lstrip().startswith("#"):
        raise _bad(path, f"header {shown(lines[0].strip()[:60])}: expected '# pitch_mm = ...' "
                         f"(CSV grid) or a Tekscan ASCII export (ROWS, COLS, ROW_SPACING ...)")
    pmap = _tekscan(path, lines) if tekscan else _grid(path, lines)
    if pmap.frames.size > MAX_CELLS:
        raise _bad(path, f"{pmap.frames.size} values: more than {MAX_CELLS}")
    if not pmap.peak.max() > 0:
        raise _bad(path, "no sensel is loaded (every value is 0)")
    return pmap


@dataclass(frozen=True)
class Registered:
    """A peak-pressure map in the foot frame: loaded sensel centres (n, 2) mm and their
    peak pressure (n,), the similarity that put them there, and the map's peaks."""

    source: str
    units: str
    points: np.ndarray
    values: np.ndarray
    matrix: np.ndarray       # (2, 3): foot xy = matrix[:, :2] @ (col, -row) pitch + matrix[:, 2]
    scale: float
    rotation_deg: float
    mirrored: bool
    inside: float
    residual_mm: float
    peaks: tuple[dict, ...]

    def to_json(self) -> dict:
        """Plain JSON-able dict (what the design records)."""
        summary = (f"{'mirrored, ' if self.mirrored else ''}turned {self.rotation_deg:.1f} deg, "
                   f"scale {self.scale:.3f}, {self.inside:.0%} of the load inside the outline, "
                   f"border fit {self.residual_mm:.1f} mm rms")
        return {"source": self.source, "units": self.units,
                "registration": {"matrix": np.round(self.matrix, 6).tolist(),
                                 "scale": round(self.scale, 4),
                                 "rotation_deg": round(self.rotation_deg, 2),
                                 "mirrored": self.mirrored, "inside": round(self.inside, 4),
                                 "residual_mm": round(self.residual_mm, 3), "summary": summary},
                "points": np.round(self.points, 2).tolist(),
                "values": np.round(self.values, 2).tolist(), "peaks": list(self.peaks)}


def _umeyama(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Least-squares similarity dst ~ s R src + t (no reflection): s, R (2, 2), t (2,)."""
    mu_s, mu_d = src.mean(axis=0), dst.mean(axis=0)
    a, b = src - mu_s, dst - mu_d
    u, sig, vt = np.linalg.svd(b.T @ a / len(src))
    d = np.diag([1.0, np.sign(np.linalg.det(u @ vt))])
    r = u @ d @ vt
    s = float(np.trace(np.diag(sig) @ d) / max((a ** 2).sum() / len(src), 1e-12))
    return s, r, mu_d - s * r @ mu_s


def _border(mask: np.ndarray) -> np.ndarray:
    """Cells of ``mask`` with an unloaded 4-neighbour (or on the grid's edge)."""
    pad = np.pad(mask, 1)
    inner = pad[:-2, 1:-1] & pad[2:, 1:-1] & pad[1:-1, :-2] & pad[1:-1, 2:]
    return mask & ~inner


def _initial(pts: np.ndarray, w: np.ndarray) -> tuple[np.ndarray, bool]:
    """(2, 2) rotation-or-reflection taking sensor uv to (along from heel, medial), and
    whether it mirrors: principal axes, heel at the narrow end, toes medial, midfoot lateral."""
    c = pts.mean(axis=0)
    _, vecs = np.linalg.eigh(np.cov((pts - c).T))
    e1, e2 = vecs[:, 1], vecs[:, 0]
    s, t = (pts - c) @ e1, (pts - c) @ e2
    length = np.ptp(s)
    lo, hi = s.min(), s.max()

    def width(sel: np.ndarray) -> float:
        return float(np.ptp(t[sel])) if sel.any() else 0.0
    if width(s > hi - 0.3 * length) < width(s < lo + 0.3 * length):  # the heel is the narrow end
        e1, s = -e1, -s
        lo, hi = s.min(), s.max()
    f = (s - lo) / length
    heel, ball = f < 0.2, (f > 0.6) & (f < 0.8)
    line = lambda x: np.interp(x, [0.1, 0.7], [t[heel].mean(), t[ball].mean()])  # noqa: E731
    mid = (f > 0.35) & (f < 0.55)
    toes = f > 0.85
    medial = 0.0
    if mid.any():
        medial -= float(np.average(t[mid] - line(f[mid]), weights=w[mid]))
    if toes.any():
        medial += float(np.average(t[toes] - line(f[toes]), weights=w[toes]))
    if medial < 0:
        e2 = -e2
    m = np.vstack([e1, e2])
    return m, bool(np.linalg.det(m) < 0)


def register(pmap: PressureMap, foot) -> Registered:
    """Place ``pmap``'s peak-pressure map on ``foot``'s outline (a
    :class:`~insolegen.foot.model.Foot`, canonical right frame); refuse a map that is not
    of this foot."""
    from scipy import ndimage
    from scipy.spatial import cKDTree
    import shapely
    from insolegen.foot.outline import resample_ring
    peak = pmap.peak
    where = f"pressure = {shown(pmap.source)}"
    loaded = peak > LOADED_FRACTION * peak.max()
    if loaded.sum() < 20:
        raise InputError(f"{where}: only {int(loaded.sum())} loaded sensels; a foot needs "
                         f"at least 20")
    rows, cols = np.nonzero(loaded)
    # the sensor seen from above as the export prints it: columns to the right, rows down
    uv = np.column_stack([cols * pmap.col_pitch_mm, -rows * pmap.row_pitch_mm])
    w = peak[loaded]
    edge = _border(loaded)[loaded]
    m, mirrored = _initial(uv, w)
    st = uv @ m.T
    outline = foot.outline
    x0, y0, x1, y1 = outline.bounds
    s0 = st[:, 0].min()
    length = float(np.ptp(st[:, 0]))
    scale = foot.foot_length_mm / max(length, 1e-6)
    mid_y = (y0 + y1) / 2
    shift = np.array([-s0 * scale, mid_y - scale * st[:, 1].mean()])
    cur = st * scale + shift  # first guess: heel at x = 0, centred across
    target = cKDTree(resample_ring(outline, 1.0))
    frac = (cur[:, 0] - cur[:, 0].min()) / max(np.ptp(cur[:, 0]), 1e-6)
    use = edge & ((frac < 0.3) | (frac > 0.6))  # the midfoot's medial border is the arch
    total = np.eye(3)
    total[:2, :2] = m * scale
    total[:2, 2] = shift
    src = cur[use]
    for _ in range(40):
        dist, idx = target.query(src)
        keep = dist < max(3.0 * np.median(dist), 2.0)
        s, r, t = _umeyama(src[keep], target.data[idx[keep]])
        step = np.eye(3)
        step[:2, :2] = s * r
        step[:2, 2] = t
        total = step @ total
        src = src @ (s * r).T + t
        if abs(s - 1) < 1e-5 and np.linalg.norm(t) < 1e-3:
            break
    dist, _ = target.query(src)
    dist = dist[dist < max(3.0 * np.median(dist), 2.0)]  # the border points the fit used
    points = uv @ total[:2, :2].T + total[:2, 2]
    scale_total = float(np.sqrt(abs(np.linalg.det(total[:2, :2]))))
    size = scale_total * min(pmap.col_pitch_mm, pmap.row_pitch_mm)  # sensel pitch in the foot
    inside = float(w[shapely.contains_xy(outline.buffer(size), points[:, 0], points[:, 1])].sum()
                   / w.sum())
    if not SCALE_RANGE[0] <= scale_total <= SCALE_RANGE[1] or inside < MIN_INSIDE:
        raise InputError(
            f"{where}: does not overlap the foot: fitted to its outline the map needs scale "
            f"{scale_total:.2f} (accepted {SCALE_RANGE[0]:g} to {SCALE_RANGE[1]:g}) and puts "
            f"{inside:.0%} of the load inside it (accepted {MIN_INSIDE:.0%} or more)")
    lin = total[:2, :2] / scale_total
    if mirrored:
        lin = lin @ np.diag([1.0, -1.0])
    rotation = float(np.degrees(np.arctan2(lin[1, 0], lin[0, 0])))
    span = max(1, int(round(PEAK_SPAN_MM / min(pmap.col_pitch_mm, pmap.row_pitch_mm))))
    local = (peak == ndimage.maximum_filter(peak, size=2 * span + 1, mode="constant"))
    hot = local & (peak >= PEAK_FRACTION * peak.max())
    pr, pc = np.nonzero(hot)
    at = np.column_stack([pc * pmap.col_pitch_mm, -pr * pmap.row_pitch_mm])
    at = at @ total[:2, :2].T + total[:2, 2]
    # the peak's centre: pressure-weighted over its neighbourhood, not the sensel's corner
    peaks = []
    for (r_, c_), xy in sorted(zip(zip(pr, pc), at), key=lambda q: -peak[q[0]]):
        near = np.hypot(*(points - xy).T) < 1.5 * size
        centre = np.average(points[near], axis=0, weights=w[near] ** 2)
        peaks.append({"x_mm": round(float(centre[0]), 2), "y_mm": round(float(centre[1]), 2),
                      "kpa": round(float(peak[r_, c_]), 1),
                      "share": round(float(peak[r_, c_] / peak.max()), 3)})
    return Registered(pmap.source, pmap.units, points, w, total[:2, :], scale_total, rotation,
                      mirrored, inside, float(np.sqrt(np.mean(dist ** 2))), tuple(peaks))
