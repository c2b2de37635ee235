"""Bases: the device styles a lab makes (casual, sport, dress, work, shell, kids, diabetic).

A base file ``bases/<name>.toml`` has a ``title``, ``sources`` (citations,
or "lab convention, no publication"), optionally ``foot_length_mm = [low,
high]`` (the feet it is made for) and a ``[parameters]`` table of
construction values: the keys of
:data:`insolegen.prescription.parameters.CONSTRUCTION` (each defaults to the
casual base's value) and the stack keys of :data:`BASE_SETS`.

An order is base + conditions + overrides. The rules when both set a value:

- the base sets the construction (:data:`BASE_SETS`: length, thickness,
  cover, minimum thickness, toe allowance): its value replaces the
  conditions' one, with a note when they differ; a base that leaves a key
  out leaves it to the conditions;
- the conditions set the corrections (posts, arch, cup, pads, reliefs); a
  condition's heel cup is clipped into the base's ``heel_cup_min_mm`` -
  ``heel_cup_max_mm`` and its arch support to ``arch_support_max_mm``, with
  a note;
- a condition's recess (heel, metatarsal reliefs) is reduced to what the base's
  stack leaves above ``min_thickness_mm``, with a note;
- a base without ``posting`` (diabetic) refuses a condition that posts or
  skives: a contradiction, not a silent drop;
- per-order overrides (``--set``) come last and win, checked the same way.

Values are for the reference foot (:data:`REFERENCE_FOOT_MM`) and scale
with the foot (see :mod:`insolegen.design.scaling`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from insolegen.core.errors import InputError, ProfileError, shown
from insolegen.prescription.parameters import CONSTRUCTION, PARAMS, lookup
from insolegen.prescription.tomlfile import folders, read_toml

DEFAULT_BASE = "casual"
BASE_DIR_ENV = "INSOLEGEN_BASES"
BASE_SETS = ("insole_length", "base_thickness_mm", "top_cover_thickness_mm",
             "min_thickness_mm", "toe_allowance_mm")
POSTING_KEYS = ("rearfoot_post_deg", "forefoot_post_deg", "medial_heel_skive_mm")
SKIVE_MIN_CUP_MM = 14.0  # a medial heel skive needs a cup at least this deep
TOP_KEYS = ("title", "sources", "foot_length_mm", "parameters")
MAX_NAME_CHARS = 64
Value = float | bool | str


@dataclass(frozen=True)
class Base:
    """One device style as read from its TOML file; ``values`` holds every construction
    key (defaults filled in) and the :data:`BASE_SETS` keys the file gives."""

    name: str
    title: str
    sources: tuple[str, ...]
    foot_length_mm: tuple[float, float] | None
    values: dict[str, Value]


def _base_dirs() -> list[Path]:
    """Where bases are looked up: ``$INSOLEGEN_BASES`` first (a lab's own), then built-ins."""
    return folders("insolegen.base_data", BASE_DIR_ENV, "base")


def available() -> tuple[str, ...]:
    """Names of the bases that can be used, sorted."""
    return tuple(sorted({p.stem for d in _base_dirs() for p in d.glob("*.toml")}))


def load_base_file(path: Path) -> Base:
    """Read and validate one base file; errors name the file and the key."""
    path = Path(path)
    where = f"base {path}: "
    data = read_toml(path, where, TOP_KEYS)
    params = data.get("parameters")
    if not isinstance(params, dict):
        raise ProfileError(f"{where}missing the [parameters] table")
    values: dict[str, Value] = {k: p.default for k, p in CONSTRUCTION.items()}
    for key, value in params.items():
        try:
            param = lookup(key)
        except InputError as exc:
            raise ProfileError(f"{where}[parameters] {exc}") from None
        if key in PARAMS and key not in BASE_SETS:
            raise ProfileError(f"{where}[parameters] {key}: a correction, set by the "
                               f"conditions; a base sets {', '.join(BASE_SETS)} and "
                               f"{', '.join(CONSTRUCTION)}")
        try:
            values[key] = param.coerce(value, f"{where}[parameters] ")
        except InputError as exc:
            raise ProfileError(str(exc)) from None
    if values["heel_cup_min_mm"] > values["heel_cup_max_mm"]:
        raise ProfileError(f"{where}[parameters] heel_cup_min_mm = {values['heel_cup_min_mm']:g}"
                           f": more than heel_cup_max_mm = {values['heel_cup_max_mm']:g}")
    span = data.get("foot_length_mm")
    if span is not None:
        ok = (isinstance(span, list) and len(span) == 2
              and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in span)
              and 100 <= span[0] < span[1] <= 400)
        if not ok:
            raise ProfileError(f"{where}foot_length_mm = {span!r}: expected [low, high] in mm, "
                               "100-400")
        span = (float(span[0]), float(span[1]))
    sources = data.get("sources", [])
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        raise ProfileError(f"{where}sources = {sources!r}: expected a non-empty list of strings")
    return Base(path.stem, str(data.get("title", path.stem)), tuple(sources), span, values)


def load_base(name: object) -> Base:
    """The base called ``name`` from the first folder that has it; an unknown name is one
    line listing the known ones."""
    key = str(name).strip().lower().replace("-", "_").replace(" ", "_") \
        if isinstance(name, str) else ""
    if key.replace("_", "").isalnum() and key.isascii() and len(key) <= MAX_NAME_CHARS:
        for folder in _base_dirs():
            path = folder / f"{key}.toml"
            if path.is_file():
                return _load_cached(path, path.stat().st_mtime_ns)
    raise InputError(f"base = {shown(name)}: unknown; known bases: {', '.join(available())}")


@functools.lru_cache(maxsize=64)
def _load_cached(path: Path, mtime_ns: int) -> Base:
    return load_base_file(path)


def apply_base(base: Base, params: dict[str, Value], conditions: tuple[str, ...],
               overrides: dict[str, Value]) -> tuple[dict[str, Value], tuple[str, ...]]:
    """The conditions' combined ``params`` made on ``base``, ``overrides`` on top: the
    parameters and the notes that say where the base changed a condition's value."""
    out = dict(params)
    notes: list[str] = []
    for key in BASE_SETS:
        if key in base.values and key not in overrides:
            if out[key] != base.values[key]:
                notes.append(f"{key} = {base.values[key]!s} from base {base.name} (the base "
                             f"sets the construction; conditions gave {out[key]!s})")
            out[key] = base.values[key]
    for key in CONSTRUCTION:
        out[key] = base.values[key]
    out.update(overrides)
    if not out["posting"]:
        posted = [k for k in POSTING_KEYS if out[k]]
        if posted:
            k = posted[0]
            who = "--set" if k in overrides else f"condition {', '.join(conditions)}"
            raise InputError(f"base = {base.name}: an accommodative base without posting, but "
                             f"{who} sets {k} = {out[k]:g}: contradictory; choose another base "
                             f"or drop the posting")
    low, high = out["heel_cup_min_mm"], out["heel_cup_max_mm"]
    cup = out["heel_cup_depth_mm"]
    if not low <= cup <= high and "heel_cup_depth_mm" not in overrides:
        out["heel_cup_depth_mm"] = min(max(cup, low), high)
        notes.append(f"heel_cup_depth_mm clipped from {cup:g} to {out['heel_cup_depth_mm']:g} "
                     f"mm: base {base.name} is made with cups of {low:g}-{high:g} mm")
    skive = out["medial_heel_skive_mm"]
    clipped = out["heel_cup_depth_mm"] != cup  # only a cup the base made shallow drops it
    if skive and clipped and out["heel_cup_depth_mm"] < SKIVE_MIN_CUP_MM \
            and "medial_heel_skive_mm" not in overrides:
        out["medial_heel_skive_mm"] = 0.0
        notes.append(f"medial_heel_skive_mm {skive:g} left out: a skive needs a heel cup of "
                     f"{SKIVE_MIN_CUP_MM:g} mm or more, base {base.name} makes "
                     f"{out['heel_cup_depth_mm']:g} mm")
    room = round(out["base_thickness_mm"] + out["top_cover_thickness_mm"]
                 - out["min_thickness_mm"], 3)
    recesses = [f"mth{i}_relief_mm" for i in range(1, 6)] + ["met5_base_relief_mm"]
    if out["heel_spur_relief"]:
        recesses.append("heel_recess_depth_mm")
    for key in recesses:
        if out[key] > room and key not in overrides:
            notes.append(f"{key} reduced from {out[key]:g} to {room:g} mm: base {base.name}'s "
                         f"stack leaves {room:g} mm above min_thickness_mm")
            out[key] = room
    arch, top = out["arch_support_height_mm"], out["arch_support_max_mm"]
    if arch > top and "arch_support_height_mm" not in overrides:
        out["arch_support_height_mm"] = top
        notes.append(f"arch_support_height_mm clipped from {arch:g} to {top:g} mm: base "
                     f"{base.name} is made with arch supports up to {top:g} mm")
    return out, tuple(notes)


def check_foot_length(base: Base, foot_length_mm: float) -> None:
    """Refuse a foot the base is not made for (InputError naming the range)."""
    if base.foot_length_mm is not None:
        low, high = base.foot_length_mm
        if not low <= foot_length_mm <= high:
            raise InputError(f"base = {base.name}: made for feet of {low:g}-{high:g} mm, but "
                             f"foot_length_mm = {foot_length_mm:g}; choose another base")
