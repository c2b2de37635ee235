"""A design made to go into a shoe and to carry the lab's additions.

The shoe (:mod:`insolegen.prescription.shoes`) changes two things:

- **the outline**: a full-length device is shaped to the shoe's liner, less
  the shoe's ``clearance_mm`` all round; a sulcus or three-quarter device is
  the foot's outline trimmed to that same line. Either way the foot's
  contact area (:func:`contact_area`, as far as the device reaches) must lie
  inside, or the shoe is refused as too small, naming the
  shortfall. The device's heel sits ``clearance_mm`` ahead of the liner's.
- **the bottom**: it follows the insole board, raised over the heel seat by
  the shoe's heel pitch and curving down through the shank to the flat
  forefoot, under the base's own bottom (flat, or a shell's); the top is raised
  with it, so the thickness is the design's.
  The file keeps the shoe's frame: the board's lowest part under the device
  (its flat forefoot, or the front end of a device that stops on the shank)
  is z = 0, and the heel stands ``heel_pitch_mm`` up. Nothing is rotated, so
  the device sits in the shoe as written; see the README for printing it.

Additions (:mod:`insolegen.design.additions`) are added to the top.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon, box

from insolegen.core.errors import InputError
from insolegen.design.additions import addition_height, check_additions
from insolegen.design.model import InsoleDesign
from insolegen.foot.outline import foot_outline, insole_outline, resample_ring
from insolegen.prescription.shoes import SIZED, Shoe

RECESSES = ("soft_plug", "kinetic_wedge", "first_ray_cutout")
CONTACT_MARGIN_MM = 4.0   # the foot's outline less this is the area it stands on (lab convention)
CONTACT_HEIGHT_MM = 4.0   # a scanned sole this close to the floor bears (lab convention)


def liner_polygon(shoe: Shoe) -> Polygon:
    """The shoe's liner outline (mm, right foot frame, heel at x = 0): as read (or as
    :func:`sized_liner` made it), or the foot template at the shoe's ball and heel width
    for the foot its last is made for (inside length less ``length_allowance_mm``), its
    toes stretched to the inside length."""
    if shoe.outline:
        poly = shapely.make_valid(Polygon(shoe.outline)).buffer(0)
        if poly.geom_type != "Polygon" or poly.area < 1000.0:
            raise InputError(f"shoe {shoe.name!r}: the liner outline is not one simple "
                             "closed shape")
        return poly
    heel = shoe.heel_width_mm or round(0.69 * shoe.inside_width_mm, 2)
    room = min(shoe.length_allowance_mm, 0.5 * shoe.inside_length_mm)
    nominal = shoe.inside_length_mm - room  # the foot the last is made for
    return insole_outline(foot_outline(nominal, shoe.inside_width_mm, heel), nominal, "full",
                          room)


def _region(x: float, length: float) -> str:
    f = x / length
    return "heel" if f < 0.3 else "arch" if f < 0.6 else "ball" if f < 0.82 else "toes"


def _pieces(removed, length: float, kept: Polygon) -> list[dict]:
    """Each trimmed piece: where, how much area, how deep (mm)."""
    out = []
    for g in sorted(getattr(removed, "geoms", [removed]), key=lambda g: -g.area):
        if g.is_empty or g.area < 0.5:
            continue
        ring = np.asarray(g.exterior.coords)
        depth = float(np.max(shapely.distance(kept.exterior, shapely.points(ring))))
        c = g.centroid
        out.append({"where": _region(c.x, length) + (" medial" if c.y > 0 else " lateral")
                    if _region(c.x, length) != "toes" else "toes",
                    "x_mm": [round(g.bounds[0], 1), round(g.bounds[2], 1)],
                    "area_mm2": round(g.area, 1), "depth_mm": round(depth, 2)})
    return out[:8]


def sized_liner(shoe: Shoe, foot) -> Shoe:
    """A catalogue type the foot wears: its liner is the foot's own outline, narrowed by
    the type's ``heel_ratio`` at the heel and ``width_ratio`` from the ball on (about the
    heel's midline), its toes stretched by ``length_allowance_mm``."""
    L = foot.foot_length_mm
    xy = np.asarray(foot.outline.exterior.coords)[:-1].copy()
    hy = foot.landmarks["heel_centre"][1]
    t = np.clip((xy[:, 0] / L - 0.25) / 0.25, 0.0, 1.0)
    xy[:, 1] = hy + (xy[:, 1] - hy) * (shoe.heel_ratio + (shoe.width_ratio - shoe.heel_ratio) * t)
    stretched = insole_outline(Polygon(xy), L, "full", shoe.length_allowance_mm)
    liner = shapely.simplify(stretched, 0.02)
    pts = np.asarray(liner.exterior.coords)[:-1]
    pts[:, 0] -= pts[:, 0].min()
    x0, y0, x1, y1 = shapely.Polygon(pts).bounds
    return dataclasses.replace(shoe, outline=tuple(map(tuple, np.round(pts, 4))),
                               inside_length_mm=round(x1 - x0, 3),
                               inside_width_mm=round(y1 - y0, 3))


def contact_area(foot) -> Polygon:
    """What the foot stands on (mm): its outline less ``CONTACT_MARGIN_MM``, and on a scan
    only where the sole is within ``CONTACT_HEIGHT_MM`` of the floor (not the arch)."""
    if foot.plantar is None:
        return foot.outline.buffer(-CONTACT_MARGIN_MM)
    ps = foot.plantar
    rows, cols = np.nonzero(np.nan_to_num(ps.grid, nan=np.inf) <= CONTACT_HEIGHT_MM)
    x, y = ps.x0 + cols * ps.step_mm, ps.y0 + rows * ps.step_mm
    h = ps.step_mm / 2
    cells = shapely.box(x - h, y - h, x + h, y + h)
    area = shapely.coverage_union_all(cells).intersection(
        foot.outline.buffer(-CONTACT_MARGIN_MM))
    return max(getattr(area, "geoms", [area]), key=lambda g: g.area)


def shape_to_shoe(design: InsoleDesign, shoe: Shoe) -> tuple[Polygon, float, dict]:
    """The device outline in ``shoe``, the x (mm) of the device's heel from the liner's,
    and the trim report; raises :class:`InputError` when the shoe is too small."""
    foot = design.foot
    c = shoe.clearance_mm
    liner = liner_polygon(shoe)
    allowed = shapely.affinity.translate(liner, -c, 0.0).buffer(-c, quad_segs=16)
    allowed = max(getattr(allowed, "geoms", [allowed]), key=lambda g: g.area)
    reach = design.insole_length_mm
    contact = contact_area(foot).intersection(box(-1, -1e3, reach, 1e3))
    outside = contact.difference(allowed.buffer(0.05))
    if not outside.is_empty and outside.area > 0.5:
        ring = np.asarray(shapely.get_coordinates(outside))
        dist = shapely.distance(allowed, shapely.points(ring))
        worst = ring[int(np.argmax(dist))]
        where = _region(float(worst[0]), foot.foot_length_mm)
        raise InputError(
            f"shoe {shoe.name!r}: too small for this foot: at the {where} the liner (less its "
            f"{c:g} mm clearance) falls {float(dist.max()):.1f} mm short of the foot's contact "
            f"area; the shoe is "
            f"{shoe.inside_length_mm:g} mm long and {shoe.inside_width_mm:g} mm wide inside, "
            f"the foot {foot.foot_length_mm:g} mm long and {foot.ball_width_mm:g} mm wide")
    full = design.params["insole_length"] == "full"
    shaped = allowed if full else design.outline.intersection(allowed)
    shaped = max(getattr(shaped, "geoms", [shaped]), key=lambda g: g.area)
    shaped = shapely.simplify(shaped, 0.01)
    x0 = shaped.bounds[0]
    shaped = shapely.affinity.translate(shaped, -x0, 0.0)
    trimmed = design.outline.difference(shaped)
    added = shaped.difference(design.outline)
    report = {
        "mode": "shaped to the liner" if full else "trimmed to the liner",
        "clearance_mm": c, "heel_from_liner_heel_mm": round(c + x0, 3),
        "length_mm": [round(design.insole_length_mm, 2), round(shaped.bounds[2], 2)],
        "width_mm": [round(design.outline.bounds[3] - design.outline.bounds[1], 2),
                     round(shaped.bounds[3] - shaped.bounds[1], 2)],
        "trimmed_area_mm2": round(trimmed.area, 1),
        "trimmed": _pieces(trimmed, foot.foot_length_mm, shaped),
        "added_area_mm2": round(added.area, 1) if full else 0.0,
    }
    return shaped, c + x0, report


@dataclass(frozen=True)
class FittedDesign(InsoleDesign):
    """An :class:`InsoleDesign` for a shoe and/or with additions: the outline as shaped to
    the shoe, the bottom on the shoe's insole board, the additions on the top (mm)."""

    shoe: Shoe | None = None
    additions: tuple = ()
    heel_offset_mm: float = 0.0   # the device's heel from the liner's heel, along x
    board_floor_mm: float = 0.0   # the board's height at the device's front end
    shoe_fit: dict = dataclasses.field(default_factory=dict)

    def board(self, xy: np.ndarray) -> np.ndarray:
        """The shoe's insole board under (n, 2) points (mm), its lowest point under the
        device at 0; 0 without a shoe."""
        xy = np.asarray(xy, dtype=float)
        if self.shoe is None:
            return np.zeros(len(xy))
        return self.shoe.board_height(xy[:, 0] + self.heel_offset_mm) - self.board_floor_mm

    def thickness(self, xy: np.ndarray, with_recesses: bool = True, fitted: bool = True
                  ) -> np.ndarray:
        """The top as on a flat floor: the condition's surface plus the additions (mm);
        ``fitted`` as for :meth:`InsoleDesign.top`."""
        xy = np.asarray(xy, dtype=float)
        z = super().top(xy, with_recesses, fitted)
        if self.additions:
            z = z + addition_height(self, xy, self.additions if with_recesses else tuple(
                a for a in self.additions if a[0] not in RECESSES))
        return z

    def top(self, xy: np.ndarray, with_recesses: bool = True, fitted: bool = True
            ) -> np.ndarray:
        xy = np.asarray(xy, dtype=float)
        return self.thickness(xy, with_recesses, fitted) + self.board(xy)

    def bottom(self, xy: np.ndarray, z_top: np.ndarray | None = None) -> np.ndarray:
        """The base's bottom (flat, or a shell's) for the top as on a flat floor, laid on
        the shoe's insole board (mm)."""
        xy = np.asarray(xy, dtype=float)
        board = self.board(xy)
        flat_top = self.thickness(xy) if z_top is None else np.asarray(z_top) - board
        return super().bottom(xy, flat_top) + board

    @functools.cached_property
    def expected(self) -> dict[str, float]:
        """As :attr:`InsoleDesign.expected`; a soft plug's recess in the heel seat moves the
        seat plane the mesh is measured by, so seat, cup and tilt are then measured on the
        design's surface at the mesh's vertices, as for a scanned foot."""
        out = dict(super().expected)
        if self.foot.plantar is None and any(n == "soft_plug" for n, _ in self.additions):
            seat, cup, tilt = self._seat_as_measured()
            out.update(heel_seat_height_mm=seat, heel_cup_depth_mm=cup, rearfoot_tilt_deg=tilt)
        return out

    @property
    def seat_exclusions(self) -> tuple[tuple[float, float, float], ...]:
        from insolegen.design.additions import plug_centre
        plugs = tuple((round(x, 4), round(y, 4), q["diameter_mm"] / 2 + 2.0)
                      for name, q in self.additions if name == "soft_plug"
                      for x, y in [plug_centre(self, q)])
        return super().seat_exclusions + plugs

    def to_json(self) -> dict:
        data = super().to_json()
        if self.shoe is not None:
            data["shoe"] = {**self.shoe.to_json(), "fit": self.shoe_fit,
                            "heel_offset_mm": self.heel_offset_mm,
                            "board_floor_mm": round(self.board_floor_mm, 4)}
        data["additions"] = [{"name": n, **q} for n, q in self.additions]
        return data


def fit_design(design: InsoleDesign, shoe: Shoe | None, additions: tuple = ()
               ) -> InsoleDesign:
    """``design`` shaped to ``shoe`` (sized to the foot when it is a catalogue type) and
    carrying ``additions`` ((name, params) pairs); ``design`` itself when there are neither."""
    if shoe is None and not additions:
        return design
    base = {f.name: getattr(design, f.name) for f in dataclasses.fields(design)}
    notes = list(design.notes)
    extra: dict = {}
    if shoe is not None:
        foot = design.foot
        if not shoe.outline and all(getattr(shoe, k) is None for k in SIZED):
            shoe = sized_liner(shoe, foot)
        shoe = shoe.sized(foot.foot_length_mm, foot.ball_width_mm, foot.heel_width_mm)
        # A flared wall reaches wall_flare_mm beyond the top's outline at the floor: the
        # footprint, not the top, is what keeps the clearance.
        flare = design.params.get("wall_flare_mm", 0.0)
        try:
            outline, offset, report = shape_to_shoe(design, dataclasses.replace(
                shoe, clearance_mm=shoe.clearance_mm + flare) if flare > 0 else shoe)
        except InputError as exc:
            if flare <= 0:
                raise
            raise InputError(f"{exc}; that clearance is the shoe's {shoe.clearance_mm:g} mm "
                             f"and wall_flare_mm = {flare:g}: accepted, a smaller "
                             f"wall_flare_mm or a larger shoe") from None
        base.update(outline=outline, insole_length_mm=float(outline.bounds[2]))
        front = float(resample_ring(outline, design.resolution_mm)[:, 0].max())
        floor = float(shoe.board_height(front + offset))  # the plan's frontmost vertex
        extra = {"shoe": shoe, "heel_offset_mm": round(offset, 4), "board_floor_mm": floor,
                 "shoe_fit": report}
        deepest = max((p["depth_mm"] for p in report["trimmed"]), default=0.0)
        notes.append(f"shoe {shoe.name}: {report['mode']} with {shoe.clearance_mm:g} mm "
                     f"clearance; {report['trimmed_area_mm2']:g} mm2 of the foot's outline "
                     f"trimmed, at most {deepest:g} mm deep"
                     + "".join(f"; {p['where']} {p['depth_mm']:g} mm" for p in report["trimmed"][:3])
                     + f"; bottom on the board: heel {shoe.heel_pitch_mm - floor:.1f} mm up")
        if flare > 0:
            notes.append(f"wall_flare_mm {flare:g}: the top's outline is kept "
                         f"{shoe.clearance_mm + flare:g} mm inside the liner, so the flared "
                         f"footprint keeps the shoe's {shoe.clearance_mm:g} mm clearance")
    if additions:
        check_additions(FittedDesign(**base), additions)
        notes.append("additions: " + ", ".join(n for n, _ in additions))
    base["notes"] = tuple(notes)
    return FittedDesign(**base, additions=tuple(additions), **extra)
