"""Order id, side and size engraved into the bottom face: a shallow recess, built exactly.

The text (DejaVu Sans Bold outlines from matplotlib, as shapely polygons) is
placed in an area that bears no load: under the arch on the medial half of
the midfoot, or under the front of a 3/4-length insole; on a shell, whose
bottom is on the floor only under the rearfoot post, under the post. It is mirrored so
that it reads right when the part is turned over, and placed only where
the material left above the recess is at least ``keep_mm``.

The recess is cut by rebuilding the bottom, not by a boolean: the flat
bottom face is re-triangulated (constrained Delaunay, no new points) as the
outline with the letters as holes, the letters get vertical walls and a
ceiling ``depth_mm`` up, and the top surface and side walls stay as they
were, vertex for vertex. The solid stays closed by construction, and the
top surface (all that :func:`insolegen.geometry.inspection.measure` reads) is
untouched.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import reduce

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon, box
from shapely.geometry.polygon import orient
from shapely.ops import polylabel

from insolegen.core.errors import InputError, InsolegenError
from insolegen.geometry.inspection import edge_report
from insolegen.design.ends import CUT_TAPER_MM
from insolegen.foot.outline import half_plane
from insolegen.mesh.solid import Solid

DEPTH_MM = 0.6            # default recess depth
DEPTH_RANGE_MM = (0.2, 2.0)
CAP_HEIGHTS_MM = (6.0, 5.5, 5.0, 4.5, 4.0, 3.5)  # tried in turn; 3.5 mm gives ~0.85 mm strokes
EDGE_MARGIN_MM = 6.0      # keep clear of the border (edge raises, flanges, the side wall)
_CAP_EM = 0.729           # DejaVu Sans cap height / em
_FONT_UNITS = 100.0       # glyphs are flattened at this size, then scaled to mm


@dataclass(frozen=True)
class Engraving:
    """What was engraved on one insole: text lines, letter (cap) height and depth (mm),
    and the recess outline in that insole's output frame."""

    lines: tuple[str, ...]
    cap_height_mm: float
    depth_mm: float
    shape: MultiPolygon

    def to_json(self) -> dict:
        c = self.shape.centroid
        x0, y0, x1, y1 = self.shape.bounds
        return {"text": list(self.lines), "cap_height_mm": self.cap_height_mm,
                "depth_mm": self.depth_mm, "centre_mm": [round(c.x, 2), round(c.y, 2)],
                "extent_mm": [round(x1 - x0, 2), round(y1 - y0, 2)],
                "area_mm2": round(self.shape.area, 1)}


def text_shape(lines: tuple[str, ...], cap_mm: float) -> MultiPolygon:
    """Text as polygons (mm) read along +u, lines stacked down, centred on the origin."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import TextPath
    prop = FontProperties(family="DejaVu Sans", weight="bold")
    pieces = []
    for row, line in enumerate(lines):
        path = TextPath((0.0, 0.0), line, size=_FONT_UNITS, prop=prop)
        rings = [Polygon(r) for r in path.to_polygons(closed_only=True) if len(r) >= 4]
        glyphs = reduce(lambda a, b: a.symmetric_difference(b), rings)  # even-odd fill
        x0, _, x1, _ = glyphs.bounds
        pieces.append(shapely.affinity.translate(glyphs, -(x0 + x1) / 2,
                                                 -row * 1.45 * _CAP_EM * _FONT_UNITS))
    text = shapely.union_all(pieces)
    scale = cap_mm / (_CAP_EM * _FONT_UNITS)
    text = shapely.affinity.scale(text, scale, scale, origin=(0, 0))
    x0, y0, x1, y1 = text.bounds
    text = shapely.affinity.translate(text, -(x0 + x1) / 2, -(y0 + y1) / 2)
    text = shapely.make_valid(text.simplify(0.02))
    polys = [g for g in getattr(text, "geoms", [text]) if isinstance(g, Polygon) and g.area > 0]
    return MultiPolygon([orient(p, 1.0) for p in polys])


def region(design, side: str) -> Polygon:
    """Where text may go on the ``side`` insole's bottom (output frame, mm)."""
    L = design.foot_length_mm
    inner = design.outline.buffer(-EDGE_MARGIN_MM)
    if design.params["shell"]:  # only the rearfoot post rests on the floor: text under it
        area = inner.intersection(box(EDGE_MARGIN_MM, -1e3, design.post_end_mm - 2.0, 1e3))
    elif design.params["insole_length"] == "three_quarter":
        nx, ny, e = design.end_line  # before the end taper, behind the oblique cut
        area = inner.intersection(box(0.45 * L, -1e3, 1e3, 1e3)).intersection(
            half_plane(nx, ny, e - CUT_TAPER_MM - EDGE_MARGIN_MM))
    else:  # medial half of the midfoot, between heel cup and metatarsal heads
        xs = np.linspace(0.28 * L, 0.56 * L, 60)
        lat, med = design.plan.borders(xs)
        half = Polygon(np.vstack([np.column_stack([xs, (lat + med) / 2]),
                                  [[xs[-1], 1e3], [xs[0], 1e3]]]))
        area = inner.intersection(half)
    if side == "left":
        area = shapely.affinity.scale(area, 1.0, -1.0, origin=(0, 0))
    return area


def _fits(text: MultiPolygon, area, top, depth: float, keep: float) -> bool:
    if not area.contains(text):
        return False
    x0, y0, x1, y1 = text.bounds
    gx, gy = np.meshgrid(np.arange(x0, x1, 0.7), np.arange(y0, y1, 0.7))
    pts = np.column_stack([gx.ravel(), gy.ravel()])
    pts = np.vstack([pts[shapely.contains_xy(text, pts[:, 0], pts[:, 1])],
                     shapely.get_coordinates(text)])
    return bool(np.min(top(pts)) - depth >= keep)


def place(design, side: str, lines: tuple[str, ...], depth_mm: float, keep_mm: float
          ) -> Engraving:
    """Largest text that fits the side's engraving region, mirrored for reading from below."""
    area = region(design, side)
    sign = -1.0 if side == "left" else 1.0
    top = (lambda xy: design.top(xy * np.array([1.0, sign])))
    if area.is_empty:
        raise InputError(f"engrave: no room on the {side} insole's bottom for text")
    shapely.prepare(area)
    pole = polylabel(area, 0.5) if isinstance(area, Polygon) else area.centroid
    x0, y0, x1, y1 = area.bounds
    gx, gy = np.meshgrid(np.arange(x0, x1, 2.0), np.arange(y0, y1, 2.0))
    spots = np.column_stack([gx.ravel(), gy.ravel()])
    spots = spots[np.argsort(np.hypot(spots[:, 0] - pole.x, spots[:, 1] - pole.y),
                             kind="stable")][:150]
    spots = np.vstack([[pole.x, pole.y], spots])
    for cap in CAP_HEIGHTS_MM:
        upright = text_shape(lines, cap)
        # Mirror across the reading line (v -> -v): reads right from below.
        mirrored = shapely.affinity.scale(upright, 1.0, -1.0, origin=(0, 0))
        for turn in (0.0, 90.0):
            shape = shapely.affinity.rotate(mirrored, turn, origin=(0, 0))
            sx0, sy0, sx1, sy1 = shape.bounds
            if sx1 - sx0 > x1 - x0 or sy1 - sy0 > y1 - y0:
                continue  # longer than the whole region
            for cx, cy in spots:
                placed = shapely.affinity.translate(shape, cx, cy)
                if _fits(placed, area, top, depth_mm, keep_mm):
                    return Engraving(tuple(lines), cap, depth_mm, placed)
    raise InputError(
        f"engrave: {' / '.join(lines)!r} does not fit under the {side} insole with letters "
        f"{CAP_HEIGHTS_MM[-1]:g} mm high and {keep_mm:g} mm of material left above a "
        f"{depth_mm:g} mm recess; use a shorter order_id or a smaller engrave_depth_mm")


def _loops(faces: np.ndarray, n: int) -> list[np.ndarray]:
    """Border loops (vertex indices, in order) of a set of faces (k, 3)."""
    a, b = faces.ravel().astype(np.int64), faces[:, [1, 2, 0]].ravel().astype(np.int64)
    border = ~np.isin(a * n + b, b * n + a)
    nxt = dict(zip(a[border].tolist(), b[border].tolist()))
    if len(nxt) != int(border.sum()):
        return []  # a vertex where the border touches itself: not simple
    loops, seen = [], set()
    for start in sorted(nxt):
        if start in seen:
            continue
        loop = [start]
        while nxt[loop[-1]] != start and len(loop) <= len(nxt):
            loop.append(nxt[loop[-1]])
        seen.update(loop)
        loops.append(np.array(loop))
    return loops


def _patch(v: np.ndarray, bottom: np.ndarray, shape: MultiPolygon) -> tuple[np.ndarray, Polygon]:
    """Bottom faces to re-triangulate around ``shape`` (mask over ``bottom``) and their region.

    Only the faces near the text are replaced, so the rest of the bottom keeps
    its small, even triangles; the whole bottom is the fallback.
    """
    edge = np.linalg.norm(v[bottom[:, 1]] - v[bottom[:, 0]], axis=1)
    margin = 2.0 * float(np.median(edge))
    x0, y0, x1, y1 = shape.bounds
    xy = v[bottom][:, :, :2]
    near = ((xy[:, :, 0].max(1) >= x0 - margin) & (xy[:, :, 0].min(1) <= x1 + margin)
            & (xy[:, :, 1].max(1) >= y0 - margin) & (xy[:, :, 1].min(1) <= y1 + margin))
    for mask in (near, np.ones(len(bottom), bool)):
        loops = _loops(bottom[mask], len(v))
        if not loops:
            continue
        rings = sorted(loops, key=lambda r: -abs(Polygon(v[r, :2]).area))
        region = Polygon(v[rings[0], :2], [v[r, :2] for r in rings[1:]])
        if region.is_valid and region.buffer(-0.3).contains(shape):
            return mask, region
    raise InsolegenError("internal error: the engraving does not fit inside the bottom face")


def _triangulate(poly: Polygon) -> np.ndarray:
    """(k, 3, 2) triangles of a polygon with holes, using only its own corners."""
    tris = shapely.constrained_delaunay_triangles(poly)
    return shapely.get_coordinates(tris).reshape(-1, 4, 2)[:, :3]


def _index(points: np.ndarray, known: np.ndarray, base: int) -> np.ndarray:
    """Indices (base + row of ``known``) of ``points`` (k, 2), matched bit for bit."""
    allp = np.ascontiguousarray(np.vstack([known, points]) + 0.0)
    keys = allp.view(np.dtype((np.void, 16))).ravel()
    _, first, inverse = np.unique(keys, return_index=True, return_inverse=True)
    row = first[inverse[len(known):]]
    if np.any(row >= len(known)):
        raise InsolegenError("internal error: engraving triangulation moved a corner")
    return base + row


def _facing_down(tri_idx: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    p = vertices[tri_idx][:, :, :2]
    area2 = (p[:, 1, 0] - p[:, 0, 0]) * (p[:, 2, 1] - p[:, 0, 1]) \
        - (p[:, 1, 1] - p[:, 0, 1]) * (p[:, 2, 0] - p[:, 0, 0])
    return np.where((area2 > 0)[:, None], tri_idx[:, ::-1], tri_idx)


def engrave_solid(solid: Solid, shape: MultiPolygon, depth_mm: float) -> Solid:
    """``solid`` (flat bottom on z = 0) with ``shape`` (plan polygons, mm, inside the bottom)
    cut ``depth_mm`` deep into its bottom."""
    v, f = solid.vertices, solid.faces
    on_floor = (v[f][:, :, 2] == 0.0).all(axis=1)
    replace, region = _patch(v, f[on_floor], shape)
    polys = [orient(p, 1.0) for p in shape.geoms]
    rings = [np.asarray(r.coords)[:-1] for p in polys for r in (p.exterior, *p.interiors)]
    text_xy = np.vstack(rings)
    nt = len(text_xy)
    floor_base, ceil_base = len(v), len(v) + nt
    vertices = np.vstack([v, np.column_stack([text_xy, np.zeros(nt)]),
                          np.column_stack([text_xy, np.full(nt, depth_mm)])])

    border = np.unique(f[on_floor][replace])
    floor_known = np.vstack([v[border, :2], text_xy])
    floor_ids = np.concatenate([border, floor_base + np.arange(nt)])
    floor_polys = [Polygon(region.exterior.coords, [*(r.coords for r in region.interiors),
                                                    *(p.exterior.coords for p in polys)])]
    floor_polys += [Polygon(hole) for p in polys for hole in p.interiors]  # letter counters
    floor_tri = np.vstack([_triangulate(p) for p in floor_polys])
    floor = floor_ids[_index(floor_tri.reshape(-1, 2), floor_known, 0)].reshape(-1, 3)
    ceil_tri = np.vstack([_triangulate(p) for p in polys])
    ceiling = _index(ceil_tri.reshape(-1, 2), text_xy, ceil_base).reshape(-1, 3)

    walls = []
    start = 0
    for r in rings:  # void (the recess) on the left of every ring as oriented
        k = np.arange(len(r)) + start
        a0, b0 = floor_base + k, floor_base + np.roll(k, -1)
        a1, b1 = a0 + nt, b0 + nt
        walls += [np.column_stack([a0, a1, b1]), np.column_stack([a0, b1, b0])]
        start += len(r)
    kept = np.ones(len(f), bool)
    kept[np.flatnonzero(on_floor)[replace]] = False
    faces = np.vstack([f[kept], _facing_down(floor, vertices), _facing_down(ceiling, vertices),
                       *walls])
    used = np.zeros(len(vertices), bool)
    used[faces.ravel()] = True
    renumber = np.cumsum(used) - 1
    out = Solid(vertices[used], renumber[faces])
    closed = edge_report(out.faces)
    if not (closed["watertight"] and closed["winding_consistent"]):
        raise InsolegenError(f"internal error: the engraved insole is not closed ({closed})")
    return out


def engrave_pair(design, solids: dict[str, Solid], order_id: str, size_label: str,
                 depth_mm: float, keep_mm: float) -> tuple[dict[str, Solid], dict[str, Engraving]]:
    """Engrave ``<id>`` / ``<side letter> <size>`` under each insole of ``solids``."""
    out, info = {}, {}
    for side, solid in solids.items():
        lines = (order_id, f"{side[0].upper()}  {size_label}")
        info[side] = place(design, side, lines, depth_mm, keep_mm)
        out[side] = engrave_solid(solid, info[side].shape, depth_mm)
    return out, info
