"""The New-order form, described from the library's own tables.

The page draws itself from :func:`schema`: every order field
(:data:`~insolegen.pipeline.order.KNOWN_FIELDS`), every parameter
(:data:`~insolegen.prescription.parameters.PARAMS`, with unit and range), the
conditions the profiles offer, so a field or parameter added to the library
appears on the page without editing it. :func:`resolved` gives the value each
parameter takes for a choice of conditions and which profile it comes from.
"""

from __future__ import annotations

from insolegen.design.limits import DEFAULT_RESOLUTION_MM
from insolegen.pipeline import order as order_fields
from insolegen.prescription import profiles
from insolegen.prescription.parameters import PARAMS, Param
from insolegen.web.engine import TICKET_FIELDS

UNITS = {"_mm": "mm", "_deg": "deg", "_frac": "× foot length", "_pct": "%", "_g": "g"}
# Widgets for the fields the page knows; any other field is a line of text.
WIDGETS: dict[str, dict] = {
    "order_id": {"widget": "text", "pattern": "[A-Za-z0-9][A-Za-z0-9._-]{0,127}",
                 "help": "file name stem: 1-128 letters, digits, '.', '_', '-'"},
    "side": {"widget": "select", "choices": list(order_fields.SIDES)},
    "conditions": {"widget": "conditions"},
    "formats": {"widget": "checkboxes", "choices": list(order_fields.FORMATS)},
    "set": {"widget": "parameters"},
    "scan": {"widget": "scan"},
    "scan_units": {"widget": "select", "choices": ["", "mm", "cm", "in", "m"]},
    "side_from_scan": {"widget": "flag"},
    "ascii_stl": {"widget": "flag"},
    "engrave": {"widget": "flag"},
    "split_cover": {"widget": "flag", "help": "the top cover and the base as two STL files "
                                              "per side (every 3MF carries them as two parts)"},
    "engrave_depth_mm": {"widget": "number", "low": 0.2, "high": 2.0, "step": 0.1},
    "resolution_mm": {"widget": "number", "low": 0.3, "high": 5.0, "step": 0.1,
                      "default": DEFAULT_RESOLUTION_MM},
    "foot_length_mm": {"widget": "number", "step": 1},
    "ball_width_mm": {"widget": "number", "step": 1},
    "heel_width_mm": {"widget": "number", "step": 1},
    "navicular_height_mm": {"widget": "number", "step": 1,
                            "help": "navicular height standing; or give plantar_arch_height_mm"},
    "plantar_arch_height_mm": {"widget": "number", "step": 0.5,
                               "help": "the sole under the arch apex, as 'insolegen measure' "
                                       "prints it; or give navicular_height_mm"},
    "ball_length_mm": {"widget": "number", "step": 1,
                       "help": "heel to the 1st metatarsal head (0.66-0.82 of foot length)"},
    "shoe_size": {"widget": "text", "help": "'EU 42', 'UK 8', 'US-M 9', 'US-W 10.5', "
                                            "'Mondopoint 265'"},
    "shoe": {"widget": "text", "help": "the shoe it goes into (not the foot's size): dress, "
                                       "running, walking, work_boot, kids, NAME:key=value,..."},
    "additions": {"widget": "text", "help": "e.g. morton_extension:thickness_mm=3;heel_lift"},
}
GROUPS = {"foot": ("foot_length_mm", "ball_width_mm", "heel_width_mm", "navicular_height_mm",
                   "plantar_arch_height_mm", "ball_length_mm",
                   "shoe_size", "scan", "scan_units", "side_from_scan"),
          "making": ("side", "formats", "resolution_mm", "material", "ascii_stl", "engrave",
                     "engrave_depth_mm", "split_cover")}


def unit(name: str) -> str:
    """The unit a parameter's name carries (``heel_cup_depth_mm`` -> ``mm``), or ''."""
    return next((u for suffix, u in UNITS.items() if name.endswith(suffix)), "")


def _param(p: Param) -> dict:
    kind = "flag" if p.kind is bool else "choice" if p.choices else "number"
    return {"name": p.name, "kind": kind, "low": p.low, "high": p.high,
            "choices": list(p.choices), "unit": unit(p.name), "doc": p.doc,
            "accepted": p.accepted(), "feature": p.feature}


def _field(name: str) -> dict:
    spec = {"name": name, "widget": "text", "unit": unit(name),
            "group": next((g for g, names in GROUPS.items() if name in names), "other")}
    spec.update(WIDGETS.get(name, {}))
    if name == "material":
        from insolegen.prescription.materials import DEFAULT_MATERIAL, MATERIALS
        spec.update(widget="select", choices=list(MATERIALS), default=DEFAULT_MATERIAL)
    return spec


def schema() -> dict:
    """Everything the page needs to draw the New-order form (JSON-able)."""
    conditions = []
    for name in profiles.available():
        try:
            conditions.append({"name": name, "title": profiles.load_profile(name).title})
        except profiles.ProfileError as exc:  # a lab's broken profile: shown, not fatal
            conditions.append({"name": name, "title": name, "error": str(exc)})
    return {"fields": [_field(n) for n in order_fields.KNOWN_FIELDS],
            "parameters": [_param(p) for p in PARAMS.values()],
            "conditions": conditions, "ticket": list(TICKET_FIELDS)}


def resolved(conditions: str, base: str | None = None) -> dict:
    """Each parameter's value for ``conditions`` (comma separated) on ``base`` and where it
    comes from: the base or the profiles whose value it is, and their published sources."""
    from insolegen.prescription.bases import DEFAULT_BASE, load_base
    pres = profiles.prescribe(conditions, base=base or DEFAULT_BASE)
    loaded = [profiles.load_profile(n) for n in pres.conditions]
    made_on = load_base(pres.base)
    values = {}
    for key, value in pres.parameters.items():
        givers = [p.name for p in loaded if p.parameters.get(key) == value]
        if made_on.values.get(key) == value or not givers:
            givers = [f"base {pres.base}", *givers]
        values[key] = {"value": value, "from": givers}
    return {"conditions": list(pres.conditions), "base": pres.base, "parameters": values,
            "sources": list(pres.sources), "notes": list(pres.notes),
            "titles": {p.name: p.title for p in loaded}}
