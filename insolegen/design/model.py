"""``InsoleDesign``: every number that shapes the insole, resolved from Foot + Prescription.

The design is the record of what was made and why; it is saved as JSON
beside every output and is enough to rebuild the mesh.
"""

from __future__ import annotations

import dataclasses
import functools
from dataclasses import dataclass

import numpy as np
from shapely.geometry import Polygon

from insolegen import __version__
from insolegen.design.bottom import bottom_height
from insolegen.design.contact import arch_support, check_fit, foot_registration, scan_caps
from insolegen.foot.model import ARCH_FIELDS, NAVICULAR_OVER_PLANTAR_MM, Foot, foot_from_json
from insolegen.geometry.inspection import seat_plane
from insolegen.design.plan import triangulate_plan
from insolegen.foot.outline import insole_outline, narrowed
from insolegen.prescription.bases import check_foot_length, load_base
from insolegen.prescription.parameters import REFERENCE_FOOT_MM, REFERENCE_HEEL_WIDTH_MM
from insolegen.prescription.profiles import Prescription
from insolegen.design.ends import end_line, end_note
from insolegen.design.limits import (DEFAULT_RESOLUTION_MM, check_parameters, check_resolution,
                                     check_resolution_for)
from insolegen.design.surface import Plan, met_pad_axes, top_height

RECESS_MAX_FRACTION = 0.35  # widest heel recess, of the heel width
# Depths and heights written for the reference foot, scaled down with the heel's width.
SCALED_HEIGHTS = ("heel_cup_depth_mm", "arch_support_height_mm", "medial_flange_mm",
                  "medial_edge_raise_mm", "lateral_edge_raise_mm", "medial_heel_skive_mm",
                  "met_pad_height_mm")
SCALE_FLOOR = 0.5  # no feature scales below half its reference size


@dataclass(frozen=True)
class InfillRegion:
    """A plan region to be made at a lower density: the hook for lattice insoles.

    ``outline`` (k, 2) mm in the canonical frame; ``density`` the fraction of
    solid (0-1) inside it, as a ``pattern`` (e.g. gyroid) under a solid
    ``skin_mm`` at the top, bottom and walls. Nothing builds it yet:
    :func:`insolegen.mesh.solid.build_insole` makes a solid part (density 1
    everywhere), and a design's ``infill`` is empty unless set in code. A
    lattice builder would keep the solid's surfaces and fill these regions;
    3MF can carry the result (beam lattice / volumetric extensions).
    """

    name: str
    outline: tuple[tuple[float, float], ...]
    density: float
    pattern: str = "gyroid"
    skin_mm: float = 1.0
    cell_mm: float = 6.0
    why: str = ""

    def to_json(self) -> dict:
        return {"name": self.name, "outline": [list(p) for p in self.outline],
                "density": self.density, "pattern": self.pattern, "skin_mm": self.skin_mm,
                "cell_mm": self.cell_mm, "why": self.why}


@dataclass(frozen=True)
class InsoleDesign:
    """A fully resolved insole, canonical right-foot frame, mm and degrees.

    ``params`` are the prescription's parameters as applied (after caps,
    which ``notes`` explain); ``expected`` are the features the written mesh
    must measure (see :mod:`insolegen.geometry.inspection`).
    """

    foot: Foot
    prescription: Prescription
    params: dict
    outline: Polygon
    insole_length_mm: float
    resolution_mm: float
    arch_support_height_mm: float
    notes: tuple[str, ...]
    version: str = __version__
    infill: tuple[InfillRegion, ...] = ()  # lower-density regions; empty: solid (see InfillRegion)
    reliefs: tuple[tuple[float, float, float, float], ...] = ()  # extra recesses (x, y, r, depth) mm
    pressure: dict | None = None  # the registered pressure map (insolegen.foot.pressure), if any

    @property
    def foot_length_mm(self) -> float:
        return self.foot.foot_length_mm

    @property
    def heel_width_mm(self) -> float:
        return self.foot.heel_width_mm

    @functools.cached_property
    def landmarks(self) -> dict[str, tuple[float, float]]:
        """The foot's landmarks (mm), narrowed with the outline by the base's ``width_scale``
        about the heel's midline."""
        k = self.params.get("width_scale", 1.0)
        marks = self.foot.landmarks
        if k == 1.0:
            return marks
        hy = marks["heel_centre"][1]
        return {name: (x, hy + k * (y - hy)) for name, (x, y) in marks.items()}

    @functools.cached_property
    def plan(self) -> Plan:
        """Plan-view helper for the outline (computed once)."""
        return Plan.from_outline(self.outline)

    @functools.cached_property
    def foot_plan(self) -> Plan:
        """Plan-view helper for the foot's own outline (narrowed as the insole is): what
        lies ahead of a three-quarter or sulcus device's cut is placed by it."""
        if self.params["insole_length"] == "full":
            return self.plan
        return Plan.from_outline(narrowed(self.foot.outline, self.params.get("width_scale", 1.0),
                                          self.foot.landmarks["heel_centre"][1]))

    @functools.cached_property
    def end_line(self) -> tuple[float, float, float] | None:
        """Where a three-quarter or sulcus device ends (:func:`insolegen.design.ends.end_line`):
        ``(nx, ny, e)``, the device keeps ``nx x + ny y <= e`` (mm); None when full length."""
        pad = None
        if self.params["insole_length"] == "full":
            return None
        if self.params["met_pad"] and self.params["met_pad_height_mm"] > 0:
            front, _, side = met_pad_axes(self)
            pad = (*self.met_pad_centre, front, side)
        return end_line(self.landmarks, self.params["insole_length"], self.foot_length_mm, pad)

    @property
    def heel_lat_y(self) -> float:
        """Lateral edge of the heel (mm): the pivot of a medial post."""
        return self.landmarks["heel_centre"][1] - self.heel_width_mm / 2

    @property
    def heel_med_y(self) -> float:
        """Medial edge of the heel (mm): the pivot of a lateral post."""
        return self.landmarks["heel_centre"][1] + self.heel_width_mm / 2

    @property
    def rearfoot_end_mm(self) -> float:
        """Where rearfoot posting and skive have faded out: before the arch apex."""
        return min(0.34 * self.foot_length_mm, self.landmarks["arch_apex"][0] - 5.0)

    @property
    def post_end_mm(self) -> float:
        """Shell bases: where the rearfoot post's flat bottom ends (mm from the heel)."""
        return self.params["post_length_mm"] * self.foot_length_mm / REFERENCE_FOOT_MM

    @property
    def met_pad_offset_mm(self) -> float:
        """How far (mm) the met pad's peak sits proximal to the 2nd metatarsal head: the
        base's ``met_pad_offset_mm`` on the reference foot, scaled with foot length."""
        return self.params["met_pad_offset_mm"] * self.foot_length_mm / REFERENCE_FOOT_MM

    @property
    def met_pad_centre(self) -> tuple[float, float]:
        """The met pad's peak (mm): proximal to the 2nd metatarsal head (the scan's or the
        template's landmark), between the foot's borders, a tenth of the half width medial."""
        x = self.landmarks["mth2"][0] - self.met_pad_offset_mm
        lat, med = self.foot_plan.borders(np.array([x]))
        centre, half = (lat[0] + med[0]) / 2, (med[0] - lat[0]) / 2
        return float(x), float(centre + 0.1 * half)

    @property
    def heel_recess_centre(self) -> tuple[float, float]:
        return (self.params["heel_recess_position_frac"] * self.foot_length_mm,
                self.landmarks["heel_centre"][1] + self.params["heel_recess_medial_offset_mm"])

    def top(self, xy: np.ndarray, with_recesses: bool = True, fitted: bool = True
            ) -> np.ndarray:
        """Top surface height (mm) at (n, 2) points."""
        return top_height(self, self.plan, np.asarray(xy, dtype=float), with_recesses, fitted)

    @functools.cached_property
    def plan_mesh(self):
        """The plan triangulation the mesh is built on (made once)."""
        return triangulate_plan(self.outline, self.resolution_mm)

    @functools.cached_property
    def foot_registration(self) -> tuple[float, float]:
        """A scanned foot resting on the top at the heel seat (:mod:`insolegen.design.contact`)."""
        return foot_registration(self)

    def bottom(self, xy: np.ndarray, z_top: np.ndarray | None = None) -> np.ndarray:
        """Bottom surface height (mm, >= 0, at least ``min_thickness_mm`` below the top)
        at (n, 2) points; ``z_top`` the top there when already known."""
        xy = np.asarray(xy, dtype=float)
        return bottom_height(self, xy, self.top(xy) if z_top is None else z_top)

    def centreline_point(self, x: float) -> tuple[float, float]:
        """The insole's midline at station ``x`` (mm)."""
        lat, med = self.plan.borders(np.array([x]))
        return float(x), float((lat[0] + med[0]) / 2)

    @functools.cached_property
    def expected(self) -> dict[str, float]:
        """Features the mesh must show, evaluated on the design's surface (mm, deg)."""
        p = self.params
        heel = np.array([self.landmarks["heel_centre"]])
        apex = self.landmarks["arch_apex"]
        pts = np.array([apex, self.centreline_point(apex[0])])
        apex_z, mid_z = self.top(pts)
        seat = round(float(self.top(heel, with_recesses=False)[0]), 3)
        cup, tilt = p["heel_cup_depth_mm"], p["rearfoot_post_deg"]
        if self.foot.plantar is not None:  # a curved seat: measure the model as the mesh is
            seat, cup, tilt = self._seat_as_measured()
        return {
            # a flared wall's footprint reaches wall_flare_mm beyond the top's at both ends
            "insole_length_mm": round(self.insole_length_mm
                                      + 2 * self.params.get("wall_flare_mm", 0.0), 3),
            "heel_seat_height_mm": seat,
            "heel_cup_depth_mm": cup,
            "rearfoot_tilt_deg": tilt,
            "arch_rise_mm": round(float(apex_z - mid_z), 3),
            "arch_peak_height_mm": round(float(apex_z), 3),
            "min_thickness_mm": p["min_thickness_mm"],
        }

    @property
    def seat_exclusions(self) -> tuple[tuple[float, float, float], ...]:
        """Disks ``(x, y, radius)`` (mm) of the heel seat that a recess lowers on purpose;
        the seat plane is measured around them."""
        if not self.params["heel_spur_relief"] or self.params["heel_recess_depth_mm"] <= 0:
            return ()
        x, y = self.heel_recess_centre
        return ((round(x, 4), round(y, 4), self.params["heel_recess_diameter_mm"] / 2 + 0.5),)

    def _seat_as_measured(self) -> tuple[float, float, float]:
        """Heel seat height (mm), heel cup depth (mm) and rearfoot tilt (deg) of this
        design's surface, by :mod:`insolegen.geometry.inspection`'s definitions applied at the
        vertices the mesh will have. A total-contact seat follows the heel's curve, so
        these are what the profile's flat-seat numbers become on this foot."""
        plan = self.plan_mesh
        top = np.column_stack([plan.points, self.top(plan.points)])
        hx, hy = self.landmarks["heel_centre"]
        coef = seat_plane(top, (hx, hy), self.heel_width_mm, self.seat_exclusions)
        rim = top[np.argmin(top[:, 0])]
        rim_seat = coef[0] + coef[1] * (rim[0] - hx) + coef[2] * (rim[1] - hy)
        return (round(float(coef[0]), 3), round(float(rim[2] - rim_seat), 3),
                round(float(np.degrees(np.arctan(coef[2]))), 3))

    def to_json(self) -> dict:
        """Plain JSON-able dict; :func:`design_from_json` reverses it."""
        return {
            "version": self.version,
            "foot": self.foot.to_json(),
            "prescription": self.prescription.to_json(),
            "params": dict(self.params),
            "outline": np.round(np.asarray(self.outline.exterior.coords)[:-1], 5).tolist(),
            "insole_length_mm": self.insole_length_mm,
            "resolution_mm": self.resolution_mm,
            "arch_support_height_mm": self.arch_support_height_mm,
            "notes": list(self.notes),
            "landmarks": {k: list(v) for k, v in self.landmarks.items()},
            "seat_exclusions": [list(e) for e in self.seat_exclusions],
            "expected": self.expected,
            "infill": [r.to_json() for r in self.infill],
            "reliefs": [list(r) for r in self.reliefs],
            "pressure": self.pressure,
        }


def design_from_json(data: dict) -> InsoleDesign:
    """Rebuild a design saved by :meth:`InsoleDesign.to_json`."""
    pres = data["prescription"]
    return InsoleDesign(
        foot=foot_from_json(data["foot"]),
        prescription=Prescription(tuple(pres["conditions"]), dict(pres["parameters"]),
                                  dict(pres["overrides"]), tuple(pres["sources"]),
                                  pres.get("base", "casual"), tuple(pres.get("notes", ()))),
        params=dict(data["params"]), outline=Polygon(data["outline"]),
        insole_length_mm=data["insole_length_mm"], resolution_mm=data["resolution_mm"],
        arch_support_height_mm=data["arch_support_height_mm"], notes=tuple(data["notes"]),
        version=data["version"],
        infill=tuple(InfillRegion(r["name"], tuple(map(tuple, r["outline"])), r["density"],
                                  r["pattern"], r["skin_mm"], r.get("cell_mm", 6.0),
                                  r.get("why", "")) for r in data.get("infill", ())),
        reliefs=tuple(tuple(r) for r in data.get("reliefs", ())),
        pressure=data.get("pressure"),
    )


def _scale_to_foot(foot: Foot, p: dict, overrides: dict, notes: list[str]) -> None:
    """Scale profile and base values, written for the reference foot, down to a smaller one:
    depths and heights by heel width / REFERENCE_HEEL_WIDTH_MM, the rim by foot length /
    REFERENCE_FOOT_MM, each factor at least SCALE_FLOOR; larger feet keep the reference
    values. ``--set`` values are this foot's own and stay as given. Changes ``p`` in place."""
    k_h = max(min(foot.heel_width_mm / REFERENCE_HEEL_WIDTH_MM, 1.0), SCALE_FLOOR)
    k_l = max(min(foot.foot_length_mm / REFERENCE_FOOT_MM, 1.0), SCALE_FLOOR)
    heights = [key for key in SCALED_HEIGHTS if key not in overrides and p[key]
               and (key != "met_pad_height_mm" or p["met_pad"])]
    if k_h < 0.999 and heights:
        for key in heights:
            p[key] = round(p[key] * k_h, 2)
        notes.append(f"scaled to the foot: {', '.join(heights)} x {k_h:.3f} (heel width "
                     f"{foot.heel_width_mm:g} mm / the reference foot's "
                     f"{REFERENCE_HEEL_WIDTH_MM:g} mm)")
    if k_l < 0.999 and "rim_thickness_mm" not in overrides:
        p["rim_thickness_mm"] = round(p["rim_thickness_mm"] * k_l, 2)
        notes.append(f"scaled to the foot: rim_thickness_mm x {k_l:.3f} (foot length "
                     f"{foot.foot_length_mm:g} mm / the reference foot's {REFERENCE_FOOT_MM:g} mm)")


def _measured_arch_support(draft: InsoleDesign, support: float, notes: list[str]) -> float:
    """Arch support (mm) for a foot whose navicular or plantar arch height was measured: the
    top at the arch apex reaches the foot's plantar arch height above the layers (base + cover), and rises at
    most ``arch_tolerance_mm`` above it; the same rule as on a scanned sole
    (:func:`insolegen.design.contact.arch_support`)."""
    p, foot = draft.params, draft.foot
    apex = np.array([draft.landmarks["arch_apex"]])
    layers = p["base_thickness_mm"] + p["top_cover_thickness_mm"]
    other = round(max(float(draft.top(apex)[0]) - layers, 0.0), 2)  # posts, lifts at the apex
    plantar, tol = round(foot.plantar_arch_height_mm, 2), p["arch_tolerance_mm"]
    reach, cap = max(plantar - other, 0.0), max(plantar + tol - other, 0.0)
    said = f"the foot's plantar arch height {plantar:g} mm" + (
        "" if foot.plantar_arch_mm is not None else
        f" (navicular height {foot.navicular_height_mm:g} mm - {NAVICULAR_OVER_PLANTAR_MM:g} mm)")
    if support > cap:
        notes.append(f"arch_support_height_mm capped from {support:g} to {cap:g} mm = {said} "
                     f"+ arch_tolerance_mm {tol:g} - {other:g} mm that other features raise "
                     f"the apex above the {layers:g} mm of layers")
        return round(cap, 2)
    top = p["arch_support_max_mm"]
    if support < reach and support < top:
        raised = round(min(reach, top), 2)
        notes.append(f"arch_support_height_mm raised from {support:g} to {raised:g} mm = {said}"
                     f" - {other:g} mm that other features raise the apex above the "
                     f"{layers:g} mm of layers"
                     + (f", at most the base's {top:g} mm" if reach > top else "")
                     + ": the support reaches the foot")
        return raised
    return support


def design_insole(foot: Foot, prescription: Prescription,
                  resolution_mm: float = DEFAULT_RESOLUTION_MM) -> InsoleDesign:
    """Resolve every number of the insole for ``foot`` and ``prescription``."""
    resolution_mm = check_resolution(resolution_mm)
    check_resolution_for(resolution_mm, foot.foot_length_mm)
    p = dict(prescription.parameters)
    check_parameters(p)
    check_foot_length(load_base(prescription.base), foot.foot_length_mm)
    notes: list[str] = list(prescription.notes)
    _scale_to_foot(foot, p, prescription.overrides, notes)
    # narrowed about the heel's midline (slim shoes), then cut where the device ends
    shape = narrowed(foot.outline, p["width_scale"], foot.landmarks["heel_centre"][1])
    sketch = InsoleDesign(foot, prescription, p, shape, foot.foot_length_mm, resolution_mm,
                          0.0, ())
    outline = insole_outline(shape, foot.foot_length_mm, p["insole_length"],
                             p["toe_allowance_mm"], sketch.end_line)
    notes += end_note(sketch)
    if foot.plantar is not None:
        notes += scan_caps(p)
    widest = round(RECESS_MAX_FRACTION * foot.heel_width_mm, 2)
    if p["heel_spur_relief"] and p["heel_recess_diameter_mm"] > widest:
        notes.append(f"heel_recess_diameter_mm reduced from {p['heel_recess_diameter_mm']:g} "
                     f"to {widest:g} mm: at most {RECESS_MAX_FRACTION:g} of the "
                     f"{foot.heel_width_mm:g} mm heel, so the heel seat around it still bears")
        p["heel_recess_diameter_mm"] = widest
    draft = InsoleDesign(foot, prescription, p, outline, float(outline.bounds[2]),
                         resolution_mm, 0.0, ())
    support = float(p["arch_support_height_mm"])
    if foot.plantar is not None:
        apex = draft.landmarks["arch_apex"]
        apex_z, mid_z = draft.top(np.array([apex, draft.centreline_point(apex[0])]))
        fill = float(apex_z - mid_z)
        support = round(arch_support(support, fill, p["arch_tolerance_mm"]), 2)
        notes.append(
            f"total contact: the top follows the scanned sole, whose arch fill rises "
            f"{fill:.1f} mm at the apex above the midline; arch support adds {support:g} mm "
            f"towards the profile's {p['arch_support_height_mm']:g} mm, at most "
            f"arch_tolerance_mm = {p['arch_tolerance_mm']:g} into the arch")
    elif any(foot.sources.get(k, "").startswith(("given", "scan")) for k in ARCH_FIELDS):
        support = _measured_arch_support(draft, support, notes)
    else:
        notes.append("arch height not measured: arch support not checked against the foot")
    design = InsoleDesign(foot, prescription, p, outline, float(outline.bounds[2]),
                          resolution_mm, support, tuple(notes))
    if foot.plantar is not None:  # held to the scanned foot (insolegen.design.contact)
        fitted = check_fit(design, design.plan_mesh.points)
        cached = {k: design.__dict__[k] for k in ("plan", "plan_mesh", "expected",
                                                  "foot_registration")
                  if k in design.__dict__}  # worked out already, and not from the notes
        design = dataclasses.replace(design, notes=design.notes + fitted)
        design.__dict__.update(cached)
    return design
