"""2D nesting: convex footprints placed on rectangular sheets, turned about Z, kept apart.

Bottom-left fill over no-fit polygons. Every footprint is convex
(:func:`insolegen.plates.parts.footprint`), so the no-fit polygon of a
placed part grown by the spacing and a moving part is exactly the convex
hull of the differences of their corners (a Minkowski sum), and the
positions a part may take on a sheet are the inner-fit rectangle less the
union of those polygons, an exact region in which the best corner is
found. Parts go largest first, each onto the first open sheet it fits, at
the turn and corner that keep the sheet's used bounding box smallest (then
lowest, then leftmost); a part that fits no open sheet starts a new one. A
sheet closes when it has no room left for the smallest part or after three
parts could not join it; a part tries the latest six open sheets with room.
Insole outlines nest head to toe: the 180 degree turn is always tried.

Every placement is checked again on the polygons themselves (distance at
least the spacing, inside the rectangle) before it is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import Polygon, box

BASE_TURNS_DEG = (0.0, 180.0, 90.0, 270.0)
_EPS = 1e-6
OPEN_SHEETS_TRIED = 6  # a part tries at most this many of the latest sheets with room
MISSES_TO_CLOSE = 3  # a sheet no part could join this many times is closed


@dataclass(frozen=True)
class Placement:
    """Where one footprint went: sheet number (0-based), turn about Z (degrees,
    counter-clockwise, about the part's own origin) and then translation (mm)."""

    index: int
    sheet: int
    turn_deg: float
    x_mm: float
    y_mm: float


@dataclass
class _Sheet:
    placed: list[Polygon] = field(default_factory=list)
    grown: list[np.ndarray] = field(default_factory=list)
    used_mm2: float = 0.0
    misses: int = 0
    bounds: tuple[float, float, float, float] | None = None


def turned(coords: np.ndarray, turn_deg: float) -> np.ndarray:
    """Points (k, 2) turned counter-clockwise by ``turn_deg`` about the origin."""
    a = np.radians(turn_deg)
    c, s = np.cos(a), np.sin(a)
    return coords @ np.array([[c, s], [-s, c]])


def _corners(poly: Polygon) -> np.ndarray:
    """The corners (k, 2) of a polygon's outline, counter-clockwise, not closed."""
    return np.asarray(shapely.orient_polygons(poly).exterior.coords)[:-1]


def minkowski(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Corners (k, 2) of the Minkowski sum of two convex polygons given by their corners
    (counter-clockwise, not closed): their edges merged by direction, O(n + m)."""
    def edges(p: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        start = int(np.lexsort((p[:, 0], p[:, 1]))[0])  # lowest, then leftmost corner
        p = np.roll(p, -start, axis=0)
        e = np.roll(p, -1, axis=0) - p
        return p[0], e, np.arctan2(e[:, 1], e[:, 0]) % (2 * np.pi)
    a0, ea, ta = edges(a)
    b0, eb, tb = edges(b)
    e = np.concatenate([ea, eb])[np.argsort(np.concatenate([ta, tb]), kind="stable")]
    return a0 + b0 + np.concatenate([[[0.0, 0.0]], np.cumsum(e, axis=0)[:-1]])


def fitting_turns(corners: np.ndarray, width: float, depth: float) -> list[float]:
    """Turns (degrees) at which ``corners`` fit a ``width`` x ``depth`` rectangle: the base
    turns that fit, else the smallest diagonal turn that fits (half-degree steps) and its
    mirror images."""
    fit = []
    for turn in BASE_TURNS_DEG:
        ptp = np.ptp(turned(corners, turn), axis=0)
        if ptp[0] <= width + _EPS and ptp[1] <= depth + _EPS:
            fit.append(turn)
    if fit:
        return fit
    for step in np.arange(0.5, 90.0, 0.5):
        for turn in (step, -step, 90.0 - step, 90.0 + step):
            ptp = np.ptp(turned(corners, turn), axis=0)
            if ptp[0] <= width + _EPS and ptp[1] <= depth + _EPS:
                return [turn, turn + 180.0, -turn, 180.0 - turn]
    return []


def _try_sheet(sheet: _Sheet, corners: np.ndarray, turns: list[float],
               rect: tuple[float, float, float, float], spacing: float
               ) -> tuple[float, float, float] | None:
    """The best (turn, x, y) for the part on ``sheet``, or None."""
    x0, y0, x1, y1 = rect
    best: tuple[tuple, tuple[float, float, float]] | None = None
    for turn in turns:
        pts = turned(corners, turn)
        lo, hi = pts.min(axis=0), pts.max(axis=0)
        ifp = (x0 - lo[0], y0 - lo[1], x1 - hi[0], y1 - hi[1])
        if ifp[2] < ifp[0] - _EPS or ifp[3] < ifp[1] - _EPS:
            continue
        region = box(ifp[0], ifp[1], max(ifp[2], ifp[0]), max(ifp[3], ifp[1]))
        if sheet.grown:
            nfps = [Polygon(minkowski(g, -pts)) for g in sheet.grown]
            region = region.difference(shapely.union_all(nfps))
        if region.is_empty:
            continue
        cand = shapely.get_coordinates(region)
        if sheet.bounds is None:
            area = np.zeros(len(cand))
        else:
            bx0, by0, bx1, by1 = sheet.bounds
            ex = np.maximum(bx1, cand[:, 0] + hi[0]) - np.minimum(bx0, cand[:, 0] + lo[0])
            ey = np.maximum(by1, cand[:, 1] + hi[1]) - np.minimum(by0, cand[:, 1] + lo[1])
            area = ex * ey
        order = np.lexsort((cand[:, 0], cand[:, 1], np.round(area, 3)))
        for k in order[:8]:
            x, y = float(cand[k, 0]), float(cand[k, 1])
            poly = Polygon(pts + (x, y))
            px0, py0, px1, py1 = poly.bounds
            if px0 < x0 - 1e-4 or py0 < y0 - 1e-4 or px1 > x1 + 1e-4 or py1 > y1 + 1e-4:
                continue
            if sheet.placed and float(np.min(shapely.distance(poly, sheet.placed))) \
                    < spacing - 1e-4:
                continue
            key = (round(float(area[k]), 3), y, x)
            if best is None or key < best[0]:
                best = (key, (turn, x, y))
            break
    return None if best is None else best[1]


def nest(footprints: list[Polygon], rect: tuple[float, float, float, float],
         spacing_mm: float) -> list[Placement]:
    """Place every footprint (convex polygons in mm, each in its part's own frame) on as few
    ``rect`` (x0, y0, x1, y1) mm sheets as the fill finds, at least ``spacing_mm`` apart.

    Returns one :class:`Placement` per footprint, in the order given. A footprint that fits
    the rectangle at no turn raises ValueError (callers refuse such parts earlier).
    """
    width, depth = rect[2] - rect[0], rect[3] - rect[1]
    # largest first; mirror images (a left and its right) tie, and stay in the given order
    order = sorted(range(len(footprints)), key=lambda i: (-round(footprints[i].area), i))
    smallest = min((f.area for f in footprints), default=0.0)
    sheets: list[_Sheet] = []
    open_sheets: list[int] = []
    result: dict[int, Placement] = {}
    for i in order:
        corners = _corners(footprints[i])
        turns = fitting_turns(corners, width, depth)
        if not turns:
            raise ValueError(f"footprint {i} fits a {width:g} x {depth:g} mm sheet at no turn")
        area = footprints[i].area
        room = [s for s in open_sheets if rect_area(rect) - sheets[s].used_mm2 >= area]
        spot = None
        for s in room[-OPEN_SHEETS_TRIED:]:
            spot = _try_sheet(sheets[s], corners, turns, rect, spacing_mm)
            if spot is not None:
                break
            sheets[s].misses += 1
            if sheets[s].misses >= MISSES_TO_CLOSE:
                open_sheets.remove(s)
        if spot is None:
            sheets.append(_Sheet())
            s = len(sheets) - 1
            open_sheets.append(s)
            spot = _try_sheet(sheets[s], corners, turns, rect, spacing_mm)
            if spot is None:
                raise ValueError(f"footprint {i} fits no empty sheet")
        turn, x, y = spot
        poly = Polygon(turned(corners, turn) + (x, y))
        sheet = sheets[s]
        sheet.placed.append(poly)
        sheet.grown.append(_corners(poly.buffer(spacing_mm, join_style="mitre")))
        sheet.used_mm2 += poly.area
        b = poly.bounds
        sheet.bounds = b if sheet.bounds is None else (
            min(sheet.bounds[0], b[0]), min(sheet.bounds[1], b[1]),
            max(sheet.bounds[2], b[2]), max(sheet.bounds[3], b[3]))
        if rect_area(rect) - sheet.used_mm2 < smallest:
            open_sheets.remove(s)
        result[i] = Placement(i, s, turn % 360.0, x, y)
    return [result[i] for i in range(len(footprints))]


def rect_area(rect: tuple[float, float, float, float]) -> float:
    """Area (mm^2) of an (x0, y0, x1, y1) rectangle."""
    return (rect[2] - rect[0]) * (rect[3] - rect[1])
