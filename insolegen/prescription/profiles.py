"""Condition profiles (TOML) and the ``Prescription`` made from them.

A profile file ``profiles/<condition>.toml`` has a ``title``, ``sources`` (a
list of citations) and a ``[parameters]`` table holding every key of
:data:`insolegen.prescription.parameters.PARAMS`. Several conditions combine parameter by
parameter with the rule the table gives (the stronger correction wins);
per-order overrides are laid on top last.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

from insolegen.core.errors import InputError, ProfileError, shown
from insolegen.prescription.bases import DEFAULT_BASE, apply_base, load_base
from insolegen.prescription.parameters import INSOLE_LENGTHS, PARAMS, lookup
from insolegen.prescription.tomlfile import folders, read_toml

ALIASES = {
    "pes_planus": "flat_feet", "fallen_arches": "flat_feet", "flat_foot": "flat_feet",
    "pes_cavus": "high_arches", "high_arch": "high_arches", "cavus": "high_arches",
    "underpronation": "supination", "heel_spur": "plantar_fasciitis",
}
# Pairs refused together: opposite arch types and opposite motion faults.
CONTRADICTIONS = (
    frozenset({"flat_feet", "high_arches"}),
    frozenset({"overpronation", "supination"}),
)

Value = float | bool | str


@dataclass(frozen=True)
class Profile:
    """One condition's profile as read from its TOML file."""

    name: str
    title: str
    sources: tuple[str, ...]
    parameters: dict[str, Value]


@dataclass(frozen=True)
class Prescription:
    """Every parameter resolved for one order: profiles combined, overrides on top."""

    conditions: tuple[str, ...]
    parameters: dict[str, Value]
    overrides: dict[str, Value]
    sources: tuple[str, ...]
    base: str = DEFAULT_BASE
    notes: tuple[str, ...] = ()  # where the base changed a condition's value (see bases)

    def __getitem__(self, key: str) -> Value:
        return self.parameters[key]

    def to_json(self) -> dict:
        """Plain JSON-able dict."""
        return {"base": self.base, "conditions": list(self.conditions),
                "parameters": dict(self.parameters), "overrides": dict(self.overrides),
                "sources": list(self.sources), "notes": list(self.notes)}


PROFILE_DIR_ENV = "INSOLEGEN_PROFILES"
TOP_KEYS = ("title", "sources", "parameters")
MAX_NAME_CHARS = 64           # condition names; longer ones never touch the file system


def _profile_dirs() -> list[Path]:
    """Where profiles are looked up: ``$INSOLEGEN_PROFILES`` first (a lab's own), then built-ins."""
    return folders("insolegen.profile_data", PROFILE_DIR_ENV, "profile")


def available() -> tuple[str, ...]:
    """Names of the condition profiles that can be used, sorted."""
    return tuple(sorted({p.stem for d in _profile_dirs() for p in d.glob("*.toml")}))


def normalise_condition(name: str) -> str:
    """Canonical condition name (``'Flat-Feet'`` -> ``'flat_feet'``); aliases resolved."""
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    return ALIASES.get(key, key)


def load_profile_file(path: Path) -> Profile:
    """Read and validate one profile file; errors name the file and the key."""
    path = Path(path)
    where = f"profile {path}: "
    data = read_toml(path, where, TOP_KEYS)
    params = data.get("parameters")
    if not isinstance(params, dict):
        raise ProfileError(f"{where}missing the [parameters] table")
    unknown = [k for k in params if k not in PARAMS]
    for key in unknown:
        try:
            lookup(key)
        except InputError as exc:
            raise ProfileError(f"{where}[parameters] {exc}") from None
        raise ProfileError(f"{where}[parameters] {key}: set by the base (the device's "
                           f"construction), not by a condition; see 'insolegen bases'")
    missing = [k for k in PARAMS if k not in params]
    if missing:
        raise ProfileError(f"{where}[parameters] missing key(s): {', '.join(missing)}")
    try:
        values = {k: PARAMS[k].coerce(params[k], f"{where}[parameters] ") for k in PARAMS}
    except InputError as exc:
        raise ProfileError(str(exc)) from None
    sources = data.get("sources", [])
    if not isinstance(sources, list) or not all(isinstance(s, str) for s in sources):
        raise ProfileError(f"{where}sources = {sources!r}: expected a list of strings")
    return Profile(path.stem, str(data.get("title", path.stem)), tuple(sources), values)


def load_profile(name: str) -> Profile:
    """The profile for condition ``name`` (aliases accepted), from the first folder that has it."""
    key = normalise_condition(name)
    if key.replace("_", "").isalnum() and key.isascii() and len(key) <= MAX_NAME_CHARS:
        for folder in _profile_dirs():
            path = folder / f"{key}.toml"
            if path.is_file():
                return _load_cached(path, path.stat().st_mtime_ns)
    raise ProfileError(f"condition = {shown(name)}: unknown; known conditions: "
                       f"{', '.join(available())}")


@functools.lru_cache(maxsize=64)
def _load_cached(path: Path, mtime_ns: int) -> Profile:
    return load_profile_file(path)


def parse_conditions(text: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """Split ``'a,b'`` (or take a list), normalise, drop repeats, keep order."""
    items = text.replace(";", ",").split(",") if isinstance(text, str) else list(text)
    if not items:
        raise InputError(f"condition = {text!r}: expected one or more of "
                         f"{', '.join(available())}, separated by commas")
    names: list[str] = []
    for item in items:
        if not isinstance(item, str) or not item.strip():
            raise InputError(f"condition = {shown(text)}: expected one or more of "
                             f"{', '.join(available())}, separated by commas")
        name = normalise_condition(item)
        load_profile(name)
        if name not in names:
            names.append(name)
    return tuple(names)


def combine(profiles: list[Profile]) -> dict[str, Value]:
    """Combine profiles parameter by parameter (see :class:`~insolegen.prescription.parameters.Param`)."""
    names = {p.name for p in profiles}
    for pair in CONTRADICTIONS:
        if pair <= names:
            a, b = sorted(pair)
            raise InputError(f"condition = {a},{b}: contradictory conditions, choose one")
    out: dict[str, Value] = {}
    for key, param in PARAMS.items():
        values = [p.parameters[key] for p in profiles]
        if param.combine == "max":
            out[key] = max(values)
        elif param.combine == "or":
            out[key] = any(values)
        elif param.combine == "longest":
            out[key] = max(values, key=INSOLE_LENGTHS.index)
        elif param.combine == "signed":
            signs = {v > 0 for v in values if v != 0}
            if len(signs) > 1:
                who = ", ".join(f"{p.name} {p.parameters[key]:+g}" for p in profiles)
                raise InputError(f"{key}: contradictory posting ({who}): medial (+) and "
                                 f"lateral (-) cannot be combined")
            out[key] = max(values, key=abs)
        else:  # first: from the first profile that has the feature on
            flag = param.feature
            users = [p for p in profiles if flag is None or p.parameters[flag]]
            out[key] = (users or profiles)[0].parameters[key]
    return out


def prescribe(conditions: str | list[str] | tuple[str, ...],
              overrides: dict[str, object] | None = None,
              base: str = DEFAULT_BASE) -> Prescription:
    """Resolve conditions on a base, overrides on top, into a validated :class:`Prescription`
    (the rules: :mod:`insolegen.prescription.bases`)."""
    names = parse_conditions(conditions)
    made_on = load_base(base)
    profiles = [load_profile(n) for n in names]
    checked: dict[str, Value] = {}
    for key, value in (overrides or {}).items():
        param = lookup(key, "--set ")
        checked[param.name] = param.coerce(value, "--set ")
    params, notes = apply_base(made_on, combine(profiles), names, checked)
    for key in checked:
        flag = PARAMS[key].feature if key in PARAMS else None
        if flag and not params[flag]:
            raise InputError(f"--set {key}: has no effect while {flag} is false; "
                             f"also set {flag}=true")
    sources = tuple(dict.fromkeys([*made_on.sources, *(s for p in profiles for s in p.sources)]))
    return Prescription(names, params, checked, sources, made_on.name, notes)
