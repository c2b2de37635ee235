"""Additions: the named modifications a lab orders on top of any condition.

Each addition is a height field (mm, + raises the top, - recesses it) added
to the insole's top surface after the condition's features, placed at the
foot's landmarks (canonical right-foot frame, +Y medial). Rays are told
apart at the metatarsal heads: ray ``i``'s band runs across the foot from
halfway to its lateral neighbour's head to halfway to its medial one's (ray 1
to the medial border, ray 5 to the lateral border). Every edge tapers over
``TAPER_MM`` so the surface stays smooth.

Rules (checked by :func:`check_additions`):

- each addition at most once;
- two additions acting on the forefoot of a common ray are refused (a raise
  and a recess there contradict; two raises are one thicker addition);
- forefoot additions need a device that reaches the metatarsal heads: not
  ``three_quarter``; Morton's and reverse Morton's extensions run under the
  toes and need ``full``; a ray raised where the condition cuts a
  metatarsal-head relief is refused;
- a recess (first-ray cut-out, kinetic wedge, soft plug) must leave
  ``min_thickness_mm`` under it, measured on the condition's surface;
- the heel lift, together with the profile's ``heel_lift_mm`` and
  ``leg_length_lift_mm``, is at most ``HEEL_LIFT_MAX_MM`` inside a shoe.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Callable

import numpy as np

from insolegen.core.errors import InputError, shown
from insolegen.core.numbers import parse_number
from insolegen.design.surface import sulcus_fade

TAPER_MM = 4.0
HEEL_LIFT_MAX_MM = 10.0
SPOTS = ("heel_centre", "arch_apex", "mth1", "mth2", "mth3", "mth4", "mth5", "met5_base")

_LAB = "dimensions: lab convention (orthotic lab order forms), no publication"
_MORTON = ("Morton's extension: a build-up under the 1st metatarsal head and hallux, for a "
           "short or hypermobile first ray (Morton DJ. The Human Foot. Columbia University "
           "Press, 1935)")
_DANANBERG = ("Dananberg HJ. Functional hallux limitus and its relationship to gait "
              "efficiency. J Am Podiatr Med Assoc 1986;76(11):648-652 (the kinetic wedge "
              "lets the 1st metatarsal plantarflex under the joint)")
_CUBOID = "Newell SG, Woodle A. Cuboid syndrome. Phys Sportsmed 1981;9(4):71-76 (cuboid padding)"


@dataclass(frozen=True)
class Knob:
    """One parameter of an addition: default, accepted range, meaning."""

    default: float
    low: float
    high: float
    doc: str
    choices: tuple[str, ...] = ()


@dataclass(frozen=True)
class Addition:
    """A named addition: its parameters, its height field and what it needs."""

    name: str
    title: str
    knobs: dict[str, Knob]
    height: Callable  # (design, xy (n, 2), params) -> (n,) mm
    sources: tuple[str, ...]
    lengths: tuple[str, ...] = ("full", "sulcus", "three_quarter")
    raised: Callable = lambda p: ()   # params -> rays raised under the forefoot
    lowered: Callable = lambda p: ()  # params -> rays recessed under the forefoot
    centre: Callable | None = None    # (design, params) -> (x, y) of a recess's floor

    def defaults(self) -> dict:
        return {k: (v.choices[int(v.default)] if v.choices else v.default)
                for k, v in self.knobs.items()}


def _ramp(t: np.ndarray) -> np.ndarray:
    t = np.clip(t, 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def _between(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """1 for ``lo <= v <= hi``, tapering to 0 over ``TAPER_MM`` outside (either end may be inf)."""
    up = _ramp((v - lo) / TAPER_MM + 1.0) if np.isfinite(lo) else 1.0
    down = _ramp((hi - v) / TAPER_MM + 1.0) if np.isfinite(hi) else 1.0
    return up * down


def ray_band(d, rays: range) -> tuple[float, float]:
    """(y low, y high) mm of the band under ``rays`` (1 medial ... 5 lateral) at the heads."""
    y = {i: d.landmarks[f"mth{i}"][1] for i in range(1, 6)}
    high = np.inf if rays.start == 1 else (y[rays.start] + y[rays.start - 1]) / 2
    low = -np.inf if rays.stop - 1 == 5 else (y[rays.stop - 1] + y[rays.stop]) / 2
    return low, high


def _heads_x(d, rays: range) -> float:
    return min(d.landmarks[f"mth{i}"][0] for i in rays)


def _under_rays(d, xy, rays: range, start_mm: float, end: float = np.inf) -> np.ndarray:
    """1 under ``rays`` from ``start_mm`` behind their heads to ``end`` (mm), tapered."""
    low, high = ray_band(d, rays)
    return _between(xy[:, 1], low, high) * _between(xy[:, 0], _heads_x(d, rays) - start_mm, end)


def _morton(d, xy, p):
    return p["thickness_mm"] * _under_rays(d, xy, range(1, 2), p["start_mm"])


def _reverse_morton(d, xy, p):
    return p["thickness_mm"] * _under_rays(d, xy, range(2, 6), p["start_mm"])


def _cutout(d, xy, p):
    x1 = d.landmarks["mth1"][0]
    return -p["depth_mm"] * _under_rays(d, xy, range(1, 2), p["length_mm"] / 2,
                                        x1 + p["length_mm"] / 2)


def _kinetic_wedge(d, xy, p):
    """A recess under the 1st MTP joint deepening from ``length_mm`` behind the head to
    full depth 5 mm behind it, full for 10 mm ahead of it."""
    x1 = d.landmarks["mth1"][0]
    deepen = np.clip((xy[:, 0] - (x1 - p["length_mm"])) / (p["length_mm"] - 5.0), 0.0, 1.0)
    low, high = ray_band(d, range(1, 2))
    return -p["depth_mm"] * deepen * _between(xy[:, 1], low, high) * \
        _between(xy[:, 0], -np.inf, x1 + 10.0)


def _cuboid_centre(d, p) -> tuple[float, float]:
    bx, by = d.landmarks["met5_base"]
    return bx - p["behind_mm"], by + p["inward_mm"]


def _dome(xy, centre, diameter, height):
    r2 = ((xy[:, 0] - centre[0]) ** 2 + (xy[:, 1] - centre[1]) ** 2) / (diameter / 2) ** 2
    return height * np.where(r2 < 1.0, (1.0 - r2) ** 2, 0.0)


def _cuboid(d, xy, p):
    return _dome(xy, _cuboid_centre(d, p), p["diameter_mm"], p["height_mm"])


def _post(rays_of):
    def height(d, xy, p):  # ends where the device ends: with its taper, or by the sulcus
        return p["height_mm"] * _under_rays(d, xy, rays_of(p), p["start_mm"]) * sulcus_fade(d, xy)
    return height


def _medial_rays(p) -> range:
    return range(1, int(p["to_ray"]) + 1)


def _lateral_rays(p) -> range:
    return range(int(p["from_ray"]), 6)


def _heel_lift(d, xy, p):
    L = d.foot_length_mm
    end = min(d.landmarks[f"mth{i}"][0] for i in range(1, 6)) - 10.0
    return p["height_mm"] * (1.0 - _ramp((xy[:, 0] - 0.30 * L) / (end - 0.30 * L)))


def plug_centre(d, p) -> tuple[float, float]:
    x, y = d.landmarks[p["at"]]
    return x + p["offset_x_mm"], y + p["offset_y_mm"]


def _soft_plug(d, xy, p):
    """A flat-floored round recess, its wall sloping over 1.5 mm (to be filled by a plug)."""
    cx, cy = plug_centre(d, p)
    r = np.hypot(xy[:, 0] - cx, xy[:, 1] - cy)
    return -p["depth_mm"] * _ramp((p["diameter_mm"] / 2 - r) / 1.5 + 1.0)


_START = Knob(15.0, 5.0, 30.0, "how far behind the metatarsal head it starts, mm")
_RAISE = Knob(3.0, 1.0, 6.0, "height added, mm")
ADDITIONS: dict[str, Addition] = {a.name: a for a in [
    Addition("morton_extension", "Morton's extension (under the 1st ray, to the toe end)",
             {"thickness_mm": _RAISE, "start_mm": _START}, _morton, (_MORTON, _LAB),
             lengths=("full",), raised=lambda p: (1,)),
    Addition("reverse_morton", "Reverse Morton's extension (under rays 2-5, to the toe end)",
             {"thickness_mm": _RAISE, "start_mm": _START}, _reverse_morton, (_MORTON, _LAB),
             lengths=("full",), raised=lambda p: (2, 3, 4, 5)),
    Addition("kinetic_wedge", "Kinetic wedge (recess deepening to the 1st MTP joint)",
             {"depth_mm": Knob(2.0, 0.5, 4.0, "depth at the joint, mm"),
              "length_mm": Knob(25.0, 15.0, 40.0, "how far behind the head it starts, mm")},
             _kinetic_wedge, (_DANANBERG, _LAB), lengths=("full", "sulcus"),
             lowered=lambda p: (1,), centre=lambda d, p: d.landmarks["mth1"]),
    Addition("first_ray_cutout", "First-ray cut-out (flat recess under the 1st met head)",
             {"depth_mm": Knob(2.0, 0.5, 4.0, "depth, mm"),
              "length_mm": Knob(30.0, 15.0, 45.0, "length along the foot, centred on the "
                                "head, mm")},
             _cutout, (_LAB,), lengths=("full", "sulcus"), lowered=lambda p: (1,),
             centre=lambda d, p: d.landmarks["mth1"]),
    Addition("cuboid_pad", "Cuboid pad (dome under the cuboid, behind the 5th met base)",
             {"height_mm": Knob(3.0, 1.0, 6.0, "peak height, mm"),
              "diameter_mm": Knob(25.0, 15.0, 40.0, "diameter, mm"),
              "behind_mm": Knob(15.0, 5.0, 30.0, "peak this far behind the 5th met base, mm"),
              "inward_mm": Knob(10.0, 0.0, 20.0, "peak this far medial of it, mm")},
             _cuboid, (_CUBOID, _LAB)),
    Addition("medial_forefoot_post", "Medial forefoot post (rays 1..to_ray raised evenly)",
             {"height_mm": _RAISE, "to_ray": Knob(2.0, 1.0, 4.0, "last ray posted (1-4)"),
              "start_mm": Knob(25.0, 5.0, 40.0, "starts this far behind the heads, mm")},
             _post(_medial_rays), (_LAB,), lengths=("full", "sulcus"),
             raised=lambda p: tuple(_medial_rays(p))),
    Addition("lateral_forefoot_post", "Lateral forefoot post (rays from_ray..5 raised evenly)",
             {"height_mm": _RAISE, "from_ray": Knob(4.0, 2.0, 5.0, "first ray posted (2-5)"),
              "start_mm": Knob(25.0, 5.0, 40.0, "starts this far behind the heads, mm")},
             _post(_lateral_rays), (_LAB,), lengths=("full", "sulcus"),
             raised=lambda p: tuple(_lateral_rays(p))),
    Addition("heel_lift", "Heel lift (even under the heel, fading before the met heads)",
             {"height_mm": Knob(5.0, 1.0, HEEL_LIFT_MAX_MM, "lift under the heel, mm")},
             _heel_lift, (f"at most {HEEL_LIFT_MAX_MM:g} mm inside a shoe (more lifts the "
                          "heel out of the counter and goes on the outsole): lab convention, "
                          "no publication",)),
    Addition("soft_plug", "Soft plug (round recess at a landmark, filled by a softer body)",
             {"depth_mm": Knob(2.0, 0.5, 4.0, "recess depth, mm"),
              "diameter_mm": Knob(20.0, 8.0, 40.0, "recess diameter, mm"),
              "at": Knob(0, 0, 0, "landmark it is centred on", SPOTS),
              "offset_x_mm": Knob(0.0, -20.0, 20.0, "moved towards the toe, mm"),
              "offset_y_mm": Knob(0.0, -20.0, 20.0, "moved medially, mm")},
             _soft_plug, (_LAB,), centre=plug_centre),
]}
RAYS_INT = {"to_ray", "from_ray"}


def _value(add: Addition, key: str, raw: object, where: str):
    if key not in add.knobs:
        close = difflib.get_close_matches(key, add.knobs, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(add.knobs)}"
        raise InputError(f"{where}{shown(key)}: unknown parameter of {add.name}; {hint}")
    knob = add.knobs[key]
    if knob.choices:
        word = str(raw).strip().lower()
        if word not in knob.choices:
            raise InputError(f"{where}{key} = {shown(raw)}: expected one of "
                             f"{', '.join(knob.choices)}")
        return word
    accepted = f"a number from {knob.low:g} to {knob.high:g} ({knob.doc})"
    number = parse_number(raw, f"{where}{key}", accepted)
    if not knob.low <= number <= knob.high or (key in RAYS_INT and number != int(number)):
        raise InputError(f"{where}{key} = {shown(raw)}: out of range, expected {accepted}"
                         + (", a whole number" if key in RAYS_INT else ""))
    return number


def parse_addition(spec: object) -> tuple[str, dict]:
    """``NAME[:key=value,...]`` to (name, every parameter resolved)."""
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"additions = {shown(spec)}: expected NAME[:key=value,...]; "
                         f"names: {', '.join(ADDITIONS)}")
    name, _, rest = spec.strip().partition(":")
    name = name.strip().lower()
    if name not in ADDITIONS:
        close = difflib.get_close_matches(name, ADDITIONS, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(ADDITIONS)}"
        raise InputError(f"additions = {shown(spec)}: unknown addition; {hint}")
    add = ADDITIONS[name]
    params = add.defaults()
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, raw = item.partition("=")
        if not eq:
            raise InputError(f"additions = {shown(spec)}: {shown(item)} is not key=value")
        params[key.strip()] = _value(add, key.strip(), raw.strip(), f"additions {name}: ")
    return name, params


def parse_additions(specs: object) -> tuple[tuple[str, dict], ...]:
    """A list of specs (or one string, additions separated by ``;``), checked against
    each other (see the module's rules)."""
    if isinstance(specs, str):
        specs = [specs]
    if not isinstance(specs, (list, tuple)) or not all(isinstance(s, str) for s in specs):
        raise InputError(f"additions = {shown(specs)}: expected a list of NAME[:key=value,...]")
    specs = [s for spec in specs for s in spec.split(";") if s.strip()]
    parsed = tuple(parse_addition(s) for s in specs)
    names = [n for n, _ in parsed]
    for n in names:
        if names.count(n) > 1:
            raise InputError(f"additions: {n} given twice; give it once with its parameters")
    for i, (a, pa) in enumerate(parsed):
        for b, pb in parsed[i + 1:]:
            common = set(_rays(a, pa)) & set(_rays(b, pb))
            if common:
                raise InputError(f"additions: {a} and {b} both act on ray "
                                 f"{min(common)}'s forefoot; choose one")
    return parsed


def _rays(name: str, p: dict) -> tuple[int, ...]:
    add = ADDITIONS[name]
    return tuple(add.raised(p)) + tuple(add.lowered(p))


def check_additions(d, additions: tuple[tuple[str, dict], ...]) -> None:
    """Rules that need the design (its length, condition and surface); ``d`` is the
    design before the additions."""
    p = d.params
    for name, q in additions:
        add = ADDITIONS[name]
        if p["insole_length"] not in add.lengths:
            raise InputError(f"additions {name}: needs insole_length {' or '.join(add.lengths)} "
                             f"(is {p['insole_length']}): it lies under the "
                             f"{'toes' if add.lengths == ('full',) else 'metatarsal heads'}")
        for ray in add.raised(q):
            if p[f"mth{ray}_relief_mm"] > 0:
                raise InputError(f"additions {name}: raises ray {ray}, where the condition cuts "
                                 f"mth{ray}_relief_mm = {p[f'mth{ray}_relief_mm']:g}")
        if name == "heel_lift":
            total = q["height_mm"] + p["heel_lift_mm"] + p["leg_length_lift_mm"]
            if total > HEEL_LIFT_MAX_MM + 1e-9:
                raise InputError(f"additions heel_lift: height_mm = {q['height_mm']:g} with "
                                 f"heel_lift_mm + leg_length_lift_mm = "
                                 f"{p['heel_lift_mm'] + p['leg_length_lift_mm']:g} lifts "
                                 f"{total:g} mm; accepted: at most {HEEL_LIFT_MAX_MM:g} in all")
        if add.centre is not None:
            _check_recess(d, name, q)


def _check_recess(d, name: str, q: dict) -> None:
    """A recess lies on the insole and leaves ``min_thickness_mm`` everywhere under it."""
    import shapely
    centre = ADDITIONS[name].centre(d, q)
    if not shapely.contains_xy(d.outline, *centre):
        raise InputError(f"additions {name}: its centre ({centre[0]:.1f}, {centre[1]:.1f}) mm "
                         "lies outside the insole")
    gx, gy = np.meshgrid(np.arange(centre[0] - 50, centre[0] + 50, 1.0),
                         np.arange(centre[1] - 50, centre[1] + 50, 1.0))
    xy = np.column_stack([gx.ravel(), gy.ravel()])
    xy = xy[shapely.contains_xy(d.outline, xy[:, 0], xy[:, 1])]
    h = ADDITIONS[name].height(d, xy, q)
    xy, h = xy[h < -1e-6], h[h < -1e-6]
    if not len(xy):
        return
    under = d.top(xy)
    left = under + h
    t_min = d.params["min_thickness_mm"]
    if left.min() < t_min - 1e-9:
        room = float(np.min(under - t_min))
        raise InputError(f"additions {name}: depth_mm = {q['depth_mm']:g} would leave "
                         f"{left.min():.2f} mm, below min_thickness_mm = {t_min:g}; "
                         f"accepted: at most {room:.2f} here")


def addition_height(d, xy: np.ndarray, additions: tuple[tuple[str, dict], ...]) -> np.ndarray:
    """Sum of the additions' height fields (mm) at (n, 2) plan points for design ``d``."""
    z = np.zeros(len(xy))
    for name, params in additions:
        z += ADDITIONS[name].height(d, xy, params)
    return z


def catalogue_text() -> list[str]:
    """One block per addition: title, parameters with ranges, sources (for ``--help``-like
    listings and the README)."""
    lines = []
    for add in ADDITIONS.values():
        lines.append(f"{add.name}: {add.title}")
        for key, k in add.knobs.items():
            rng = ", ".join(k.choices) if k.choices else f"{k.low:g}-{k.high:g}"
            default = k.choices[int(k.default)] if k.choices else f"{k.default:g}"
            lines.append(f"    {key} = {default} ({rng}): {k.doc}")
        for s in add.sources:
            lines.append(f"    source: {s}")
    return lines
