"""Does an insole mesh fit a shoe? Measured on the mesh alone, never on its design.

The device is set in the shoe as a technician sets it: its heel
``clearance_mm`` ahead of the back of the liner, slid across (within
``SLIDE_MM``) to where its outline clears the liner's best. Then, in the
canonical right-foot frame (mm):

- ``outline_clearance_mm``: the least distance from the device's outline
  (its footprint: the boundary of the downward faces) in to the liner's;
  negative where the device overhangs. It must be at least ``-TOL_MM``;
- ``length_clearance_mm``: liner length ahead of the device's toe end;
  ``width_clearance_mm``: liner width less device width at the device's widest
  station ahead of half its length;
- ``rim_height_mm``: the device's highest point above the shoe's insole board
  (the device set on it, below) within the heel counter (the rear ``COUNTER_FRAC`` of the liner); at most
  ``heel_counter_height_mm - counter_margin_mm``;
- ``forefoot_thickness_mm``: the device's highest point above the board under the toe box
  (from ``TOE_BOX_FRAC`` of the liner forward); at most ``forefoot_room_mm``;
- the device is dropped onto the shoe's insole board (heel pitch and shank)
  until its bottom touches it; ``bottom_vs_pitch_mm`` is then the largest gap
  between bottom and board (0 for a full-contact device whose bottom follows
  the board; a shell's hollow arch for a shell), and ``rest_gap_heel_mm`` /
  ``rest_gap_front_mm`` the least gap within the rear / front ``REST_FRAC``
  of the device: both at most ``PITCH_TOL_MM``, or the device rocks.
"""

from __future__ import annotations

import numpy as np
import shapely
from scipy.spatial import cKDTree

from insolegen.design.shoefit import liner_polygon
from insolegen.foot.outline import resample_ring, width_profile
from insolegen.prescription.shoes import Shoe

SLIDE_MM = 4.0
COUNTER_FRAC = 0.30
TOE_BOX_FRAC = 0.70
TOL_MM = 0.2
PITCH_TOL_MM = 0.5
REST_FRAC = 0.15
THICKNESS_TOL_MM = 0.05


def footprint(vertices: np.ndarray, faces: np.ndarray) -> shapely.Polygon:
    """The plan outline of a mesh's downward faces (the largest ring their boundary makes)."""
    v = vertices
    a, b, c = (v[faces[:, i]] for i in range(3))
    nz = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    down = faces[nz < -1e-9]
    edges = np.sort(np.concatenate([down[:, [0, 1]], down[:, [1, 2]], down[:, [2, 0]]]), axis=1)
    unique, count = np.unique(edges, axis=0, return_counts=True)
    border = unique[count == 1]
    lines = shapely.linestrings(v[border][:, :, :2])
    polys = shapely.get_parts(shapely.polygonize(lines))
    return max(polys, key=lambda p: p.area)


def _bottom_and_top(vertices: np.ndarray, faces: np.ndarray):
    v = vertices
    a, b, c = (v[faces[:, i]] for i in range(3))
    nz = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (b[:, 1] - a[:, 1]) * (c[:, 0] - a[:, 0])
    bottom = np.unique(faces[nz < -1e-9].ravel())
    top = np.unique(faces[nz > 1e-9].ravel())
    return v[bottom], v[top]


def fit_report(vertices: np.ndarray, faces: np.ndarray, shoe: Shoe, side: str = "right"
               ) -> dict:
    """The fit of a mesh (output frame, mm) in ``shoe`` (sized): measures, limits, reasons
    and a one-line verdict (see the module docstring)."""
    v = vertices * np.array([1.0, -1.0, 1.0]) if side == "left" else np.asarray(vertices, float)
    f = faces[:, ::-1] if side == "left" else faces
    foot = footprint(v, f)
    liner = liner_polygon(shoe)
    length = shoe.inside_length_mm
    dx = shoe.clearance_mm - foot.bounds[0]
    ring = shapely.get_coordinates(foot.exterior)
    edge = cKDTree(resample_ring(liner, 0.05))  # distances to the liner within 1 micron
    shapely.prepare(liner)
    best = None
    for dy in np.arange(-SLIDE_MM, SLIDE_MM + 1e-9, 0.25):
        pts = ring + [dx, dy]
        dist = edge.query(pts)[0]
        signed = np.where(shapely.contains_xy(liner, pts[:, 0], pts[:, 1]), dist, -dist)
        if best is None or signed.min() > best[0] + 1e-9:
            best = (float(signed.min()), float(dy), ring[int(np.argmin(signed))])
    clearance, dy, worst = best
    x0, y0, x1, y1 = foot.bounds
    stations = np.linspace(x0 + 0.5 * (x1 - x0), x1 - 1.0, 200)
    lo, hi = width_profile(foot, stations)
    k = int(np.argmax(hi - lo))
    llo, lhi = width_profile(liner, np.array([stations[k] + dx]))
    bottom, top = _bottom_and_top(v, f)
    # Drop the device onto the board (the least gap between them 0): the board in the
    # mesh's frame is then ``board_height(x + dx) + lift``.
    raw = bottom[:, 2] - shoe.board_height(bottom[:, 0] + dx)
    lift = raw.min()
    gap = raw - lift
    span = x1 - x0
    rear = gap[bottom[:, 0] <= x0 + REST_FRAC * span].min()
    front = gap[bottom[:, 0] >= x1 - REST_FRAC * span].min()
    i_gap = int(np.argmax(gap))
    above = top[:, 2] - shoe.board_height(top[:, 0] + dx) - lift  # height over the board
    tx = top[:, 0] + dx
    heel, toe = tx <= COUNTER_FRAC * length, tx >= TOE_BOX_FRAC * length
    rim = float(np.max(above[heel])) if heel.any() else 0.0
    forefoot = float(np.max(above[toe])) if toe.any() else 0.0
    rim_limit = shoe.heel_counter_height_mm - shoe.counter_margin_mm
    measured = {
        "outline_clearance_mm": round(clearance, 3),
        "tightest_at_mm": [round(float(worst[0]), 1), round(float(worst[1]), 1)],
        "slid_across_mm": round(dy, 2),
        "length_clearance_mm": round(length - (x1 + dx), 3),
        "width_clearance_mm": round(float(lhi[0] - llo[0] - (hi[k] - lo[k])), 3),
        "rim_height_mm": round(rim, 3),
        "forefoot_thickness_mm": round(forefoot, 3),
        "bottom_vs_pitch_mm": round(float(gap[i_gap]), 3),
        "bottom_vs_pitch_at_x_mm": round(float(bottom[i_gap, 0]), 1),
        "rest_gap_heel_mm": round(float(rear), 3),
        "rest_gap_front_mm": round(float(front), 3),
        "heel_raised_mm": round(_heel_raise(bottom), 3),
    }
    limits = {"outline_clearance_mm": -TOL_MM, "rim_height_mm": rim_limit,
              "forefoot_thickness_mm": shoe.forefoot_room_mm,
              "rest_gap_heel_mm": PITCH_TOL_MM, "rest_gap_front_mm": PITCH_TOL_MM}
    reasons = []
    if clearance < -TOL_MM:
        reasons.append(f"outline overhangs the liner by {-clearance:.1f} mm at "
                       f"x = {worst[0]:.0f} mm")
    if rim > rim_limit + THICKNESS_TOL_MM:
        reasons.append(f"rim {rim:.1f} mm high in the heel counter: more than the "
                       f"{shoe.heel_counter_height_mm:g} mm counter less "
                       f"{shoe.counter_margin_mm:g} mm ({rim_limit:g} mm)")
    if forefoot > shoe.forefoot_room_mm + THICKNESS_TOL_MM:
        reasons.append(f"forefoot {forefoot:.1f} mm high above the board under the toe "
                       f"box: more than the {shoe.forefoot_room_mm:g} mm of room")
    for where, g in (("heel", rear), ("front", front)):
        if g > PITCH_TOL_MM:
            reasons.append(f"bottom does not rest on the shoe's insole board at the {where}: "
                           f"{g:.1f} mm above it (heel pitch {shoe.heel_pitch_mm:g} mm), so "
                           "it rocks")
    fits = not reasons
    verdict = (f"fits shoe {shoe.name}: clearance {clearance:.1f} mm, rim {rim:.1f} of "
               f"{rim_limit:g} mm, forefoot {forefoot:.1f} of {shoe.forefoot_room_mm:g} mm, "
               f"rests on the board at heel and front (bottom at most {gap[i_gap]:.2f} mm "
               "above it)" if fits else
               f"does not fit shoe {shoe.name}: " + "; ".join(reasons))
    return {"fits": fits, "verdict": verdict, "reasons": reasons, "measured": measured,
            "limits": limits, "shoe": shoe.name, "side": side}


def _heel_raise(bottom: np.ndarray) -> float:
    """How far the bottom under the heel (rear 10 %) stands above its lowest point (mm)."""
    x0, x1 = bottom[:, 0].min(), bottom[:, 0].max()
    rear = bottom[bottom[:, 0] <= x0 + 0.1 * (x1 - x0)]
    return float(np.median(rear[:, 2]) - bottom[:, 2].min())


def fit_file(path, shoe_spec: str | None = None, side: str | None = None,
             design=None) -> dict:
    """The fit report of the insole in the STL / 3MF ``path`` in a shoe: ``shoe_spec``
    (:func:`insolegen.prescription.shoes.parse_shoe`), or the shoe in the design report
    (``--design``, or ``<id>.json`` beside the file). A catalogue type is sized to the
    report's foot; without a report give its ``inside_length_mm`` and ``inside_width_mm``."""
    import json
    from pathlib import Path

    from insolegen.check.checkfile import _SIDE, read_bodies
    from insolegen.core.errors import InputError
    from insolegen.prescription.shoes import Shoe, parse_shoe
    path = Path(path)
    _, bodies = read_bodies(path)
    if len(bodies) != 1 or len(bodies[0].faces) == 0:
        raise InputError(f"file = '{path}': expected one insole body, found {len(bodies)}")
    match = _SIDE.match(path.stem)
    side = side or (match.group("side") if match else "right")
    if design is None and match:
        beside = path.with_name(match.group("stem") + ".json")
        design = beside if beside.is_file() else None
    report = None
    if design is not None:
        try:
            data = json.loads(Path(design).read_text(encoding="utf-8"))
            report = data.get("design", data)
            report["foot"]["foot_length_mm"]
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise InputError(f"design = '{design}': not an insolegen design report "
                             f"({exc})") from None
    if shoe_spec is None:
        if report is None or "shoe" not in report:
            raise InputError("shoe: missing; give --shoe NAME|FILE (the report beside the "
                             "file names no shoe)")
        known = {k: v for k, v in report["shoe"].items() if k in Shoe.__dataclass_fields__}
        known["outline"] = tuple(map(tuple, known.get("outline", ())))
        known["sources"] = tuple(known.get("sources", ()))
        shoe = Shoe(**known)
    else:
        shoe = parse_shoe(shoe_spec, path.parent)
    if shoe.inside_length_mm is None or shoe.inside_width_mm is None:
        if report is None:
            raise InputError(f"shoe = {shoe_spec!r}: a catalogue type is sized to the foot; "
                             "give the design report (--design) or the shoe's "
                             f"inside_length_mm and inside_width_mm ({shoe.name}:"
                             "inside_length_mm=...,inside_width_mm=...)")
        foot = report["foot"]
        shoe = shoe.sized(foot["foot_length_mm"], foot["ball_width_mm"], foot["heel_width_mm"])
    body = bodies[0]  # in its own frame: a 3MF's build item only places it on the plate
    out = fit_report(body.vertices, body.faces, shoe, side)
    return {"file": str(path), **out}
