"""Density zones of an insole: heel, arch, forefoot, under the metatarsal heads, at reliefs.

The zones partition the insole's plan (no overlaps, no gaps): bands along the
foot (heel, arch, forefoot), then disks under the metatarsal heads and at the
reliefs taken out of the bands. Each gets the infill density its
``zone_<name>_infill_pct`` parameter says (profiles set them per condition,
``--set`` overrides them). A registered pressure map
(:mod:`insolegen.foot.pressure`) adds reliefs under forefoot pressure peaks
and softens the zone under every peak. The result fills
:attr:`insolegen.design.model.InsoleDesign.infill`, which the zoned 3MF
(:mod:`insolegen.output.zones3mf`) and the lattice body
(:mod:`insolegen.mesh.lattice`) are made from.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import shapely
from shapely.geometry import Point, Polygon

from insolegen.core.errors import InputError, shown
from insolegen.design.model import InfillRegion, InsoleDesign

ZONE_MODES = ("auto", "none")
HEEL_END = 0.30          # heel zone ends here, fraction of foot length
ARCH_END = 0.62          # arch zone ends here (5th metatarsal head ~0.62-0.65)
MET_HEAD_RADIUS = 0.035  # disk under each metatarsal head, fraction of foot length (as the reliefs)
SKIN_MM = 1.0            # solid skin around a lattice zone
CELL_MM = 6.0            # gyroid cell of a lattice zone
PEAK_FRACTION = 0.75     # a pressure peak: a local maximum above this share of the map's peak
PEAK_SOFTEN = 0.6        # a zone under a pressure peak keeps this share of its density
RELIEF_DEPTH_MM = 1.5    # recess under a forefoot pressure peak
RELIEF_RADIUS = 0.035    # its radius, fraction of foot length (as the metatarsal reliefs)


def check_zones(value: object) -> str:
    """Validate the ``zones`` order field: ``auto`` (default) or ``none``."""
    word = "auto" if value is None else str(value).strip().lower()
    if word not in ZONE_MODES:
        raise InputError(f"zones = {shown(value)}: expected one of {', '.join(ZONE_MODES)}")
    return word


def _ring(shape) -> list[Polygon]:
    """The polygons of ``shape`` without holes (a polygon with a hole is cut in two across
    it), empty pieces and slivers under 5 mm^2 dropped."""
    out = []
    for part in getattr(shape, "geoms", [shape]):
        if not isinstance(part, Polygon) or part.area <= 5.0:
            continue
        if not part.interiors:
            out.append(part)
            continue
        x = Polygon(part.interiors[0]).centroid.x
        x0, y0, x1, y1 = part.bounds
        halves = [Polygon([(a, y0 - 1), (b, y0 - 1), (b, y1 + 1), (a, y1 + 1)])
                  for a, b in ((x0 - 1, x), (x, x1 + 1))]
        out.extend(_ring(shapely.union_all([shapely.intersection(part, h) for h in halves[:1]])))
        out.extend(_ring(shapely.intersection(part, halves[1])))
    return out


def _coords(poly: Polygon) -> tuple[tuple[float, float], ...]:
    ring = np.round(np.asarray(poly.exterior.coords)[:-1], 4)
    return tuple(map(tuple, ring.tolist()))


def _relief_disks(design: InsoleDesign, reliefs: tuple) -> list[tuple[str, Polygon]]:
    """Disks of every recess the design cuts: heel spur, metatarsal and pressure reliefs."""
    p, L, marks = design.params, design.foot_length_mm, design.landmarks
    disks = []
    if p["heel_spur_relief"] and p["heel_recess_depth_mm"] > 0:
        disks.append(("heel spur recess",
                      Point(design.heel_recess_centre).buffer(p["heel_recess_diameter_mm"] / 2)))
    for i in range(1, 6):
        if p[f"mth{i}_relief_mm"]:
            disks.append((f"MTH{i} relief", Point(marks[f"mth{i}"]).buffer(0.035 * L)))
    if p["met5_base_relief_mm"]:
        disks.append(("5th met base relief", Point(marks["met5_base"]).buffer(0.03 * L)))
    for x, y, r, _ in reliefs:
        disks.append((f"pressure relief at ({x:.0f}, {y:.0f})", Point(x, y).buffer(r)))
    return disks


def pressure_reliefs(design: InsoleDesign, peaks: list[dict]) -> tuple[tuple, list[str]]:
    """Recesses ``(x, y, radius, depth)`` (mm) under the forefoot's pressure peaks, and why.

    A peak in front of the arch zone (``x > ARCH_END * L``) gets a relief of
    ``RELIEF_DEPTH_MM``, less where the stack is thinner (the design never goes
    below ``min_thickness_mm``); heel and arch peaks only soften their zone.
    """
    p, L = design.params, design.foot_length_mm
    room = p["base_thickness_mm"] + p["top_cover_thickness_mm"] - p["min_thickness_mm"]
    depth = round(min(RELIEF_DEPTH_MM, room), 2)
    out, why = [], []
    for peak in peaks:
        x, y = peak["x_mm"], peak["y_mm"]
        if x <= ARCH_END * L or depth <= 0:
            continue
        out.append((round(x, 3), round(y, 3), round(RELIEF_RADIUS * L, 3), depth))
        why.append(f"pressure relief {depth:g} mm deep at ({x:.1f}, {y:.1f}) mm: peak "
                   f"{peak['kpa']:.0f} kPa ({peak['share']:.0%} of the map's maximum) "
                   f"in the forefoot")
    return tuple(out), why


def zone_regions(design: InsoleDesign, reliefs: tuple = (),
                 peaks: list[dict] | None = None) -> tuple[tuple[InfillRegion, ...], list[str]]:
    """The density zones of ``design`` (a partition of its outline) and notes on the pressure."""
    p, L, marks = design.params, design.foot_length_mm, design.landmarks
    outline = design.outline
    xmax = outline.bounds[2] + 1.0
    yb = (outline.bounds[1] - 1.0, outline.bounds[3] + 1.0)

    def band(x0: float, x1: float) -> Polygon:
        return Polygon([(x0, yb[0]), (x1, yb[0]), (x1, yb[1]), (x0, yb[1])])

    pieces: list[tuple[str, object, float, str]] = [
        ("heel", band(-1.0, HEEL_END * L), p["zone_heel_infill_pct"], "rearfoot"),
        ("arch", band(HEEL_END * L, ARCH_END * L), p["zone_arch_infill_pct"], "midfoot support"),
        ("forefoot", band(ARCH_END * L, xmax), p["zone_forefoot_infill_pct"], "forefoot"),
    ]
    heads = shapely.union_all([Point(marks[f"mth{i}"]).buffer(MET_HEAD_RADIUS * L)
                               for i in range(1, 6)])
    disks = _relief_disks(design, reliefs)
    relief = shapely.union_all([d for _, d in disks]) if disks else Polygon()
    taken = shapely.union(heads, relief)
    shapes = [(n, shapely.difference(shapely.intersection(b, outline), taken), pct, why)
              for n, b, pct, why in pieces]
    shapes.append(("met_heads", shapely.intersection(shapely.difference(heads, relief), outline),
                   p["zone_met_heads_infill_pct"], "under the metatarsal heads"))
    if disks:
        shapes.append(("relief", shapely.intersection(relief, outline),
                       p["zone_relief_infill_pct"], "at " + ", ".join(n for n, _ in disks)))
    notes: list[str] = []
    hot = [Point(k["x_mm"], k["y_mm"]) for k in (peaks or [])]
    regions = []
    for name, shape, pct, why in shapes:
        polys = _ring(shape)
        soft = [h for h in hot if any(q.covers(h) for q in polys)]
        if soft and name != "relief":
            new = round(max(5.0, pct * PEAK_SOFTEN), 1)
            notes.append(f"zone {name} softened from {pct:g} to {new:g} % infill: "
                         f"{len(soft)} pressure peak(s) under it")
            why, pct = f"{why}; softened under a pressure peak", new
        for k, poly in enumerate(polys):
            label = name if len(polys) == 1 else f"{name}_{k + 1}"
            regions.append(InfillRegion(label, _coords(poly), round(pct / 100.0, 4),
                                        "gyroid", SKIN_MM, CELL_MM, why))
    return tuple(regions), notes


def apply_zones(design: InsoleDesign, mode: str = "auto", pressure: dict | None = None
                ) -> InsoleDesign:
    """``design`` with its density zones (``mode`` ``auto``) or none (a uniform part), and
    the reliefs and softened zones a registered ``pressure`` map asks for.

    ``pressure`` is :meth:`insolegen.foot.pressure.Registered.to_json`'s dict.
    """
    mode = check_zones(mode)
    notes = list(design.notes)
    reliefs: tuple = ()
    peaks = pressure["peaks"] if pressure else []
    if pressure:
        reliefs, why = pressure_reliefs(design, peaks)
        notes.append(f"pressure map {pressure['source']} registered to the foot outline "
                     f"({pressure['registration']['summary']})")
        notes.extend(why)
    placed = dataclasses.replace(design, reliefs=reliefs, pressure=pressure)
    if mode == "none":
        return dataclasses.replace(placed, infill=(), notes=tuple(notes))
    regions, soft = zone_regions(placed, reliefs, peaks)
    return dataclasses.replace(placed, infill=regions, notes=tuple(notes + soft))
