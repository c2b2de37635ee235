"""An ``Order``: everything one insole job needs, checked at the door.

The CLI's ``generate`` and the batch reader both build orders through
:func:`order_from_mapping`, so a field is validated the same way wherever it
comes from. Field names are the batch CSV / JSON Lines column names.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from insolegen.design.limits import DEFAULT_RESOLUTION_MM, check_resolution
from insolegen.core.errors import InputError, shown
from insolegen.output.files import safe_id
from insolegen.foot.measurements import Measurements
from insolegen.prescription.parameters import lookup
from insolegen.prescription.bases import DEFAULT_BASE, load_base
from insolegen.prescription.profiles import parse_conditions
from insolegen.prescription.shoes import Shoe, parse_shoe

SIDES = ("left", "right", "both")
FORMATS = ("stl", "3mf", "obj", "png", "pdf", "zoned-3mf", "zoned-3mf-orca", "lattice-stl")
ZONED_FORMATS = ("zoned-3mf", "zoned-3mf-orca", "lattice-stl")  # need density zones
MEASUREMENT_FIELDS = ("foot_length_mm", "ball_width_mm", "heel_width_mm", "navicular_height_mm",
                      "plantar_arch_height_mm", "ball_length_mm")
# Fields no longer taken, each with why: a value there is refused, never guessed at.
RETIRED_FIELDS = {
    "arch_height_mm": "ambiguous, refused: give navicular_height_mm (navicular height "
                      "standing) or plantar_arch_height_mm (the sole's plantar arch height, "
                      "what 'insolegen measure' prints)",
}
SCAN_FIELDS = ("scan_units", "side_from_scan", "scan_kind", "foot")
OUTLINE_FIELDS = ("outline", "sheet")
MAKING_FIELDS = ("ascii_stl", "material", "engrave", "engrave_depth_mm", "printer", "bed",
                 "split_cover")
SPLIT_FORMATS = ("stl", "3mf", "zoned-3mf", "zoned-3mf-orca")  # can carry a separate cover
SHOE_FIELDS = ("shoe", "additions")  # the shoe it must fit (not shoe_size: the foot's size)
KNOWN_FIELDS = ("order_id", "side", "base", "conditions", "shoe_size", "scan", "formats", "set",
                "zones", "pressure",
                "resolution_mm", *MEASUREMENT_FIELDS, *SCAN_FIELDS, *OUTLINE_FIELDS,
                *MAKING_FIELDS, *SHOE_FIELDS)
_FLAGS = {"true": True, "yes": True, "1": True, "on": True,
          "false": False, "no": False, "0": False, "off": False}


@dataclass(frozen=True)
class Order:
    """One validated insole job. ``scan`` is an absolute path when given."""

    order_id: str
    side: str
    conditions: tuple[str, ...]
    measurements: Measurements | None
    scan: str | None = None
    overrides: dict = field(default_factory=dict)
    resolution_mm: float = DEFAULT_RESOLUTION_MM
    formats: tuple[str, ...] = ("stl",)
    options: dict = field(default_factory=dict)
    ascii_stl: bool = False
    material: str = "pa12"
    engrave: bool = False
    engrave_depth_mm: float = 0.6
    base: str = DEFAULT_BASE
    printer: str | None = None
    bed_mm: tuple[float, float, float] | None = None
    zones: str = "auto"
    pressure: str | None = None
    shoe: Shoe | None = None          # the shoe it goes into (insolegen.prescription.shoes)
    additions: tuple = ()             # (name, params) pairs (insolegen.design.additions)
    split_cover: bool = False         # the top cover its own body (insolegen.mesh.cover)

    def printer_preset(self):
        """The :class:`~insolegen.prescription.printers.Printer` the order names, or None."""
        from insolegen.prescription.printers import printer
        return printer(self.printer, self.bed_mm)

    @property
    def sides(self) -> tuple[str, ...]:
        return ("left", "right") if self.side == "both" else (self.side,)

    def to_json(self) -> dict:
        """Plain JSON-able dict of the order as validated."""
        data = asdict(self)
        data["conditions"] = list(self.conditions)
        data["formats"] = list(self.formats)
        for key in ("printer", "bed_mm"):  # only when asked for: older reports stay as they were
            if data[key] is None:
                del data[key]
            elif key == "bed_mm":
                data[key] = list(data[key])
        for key in ("shoe", "additions", "split_cover"):  # likewise
            if not data[key]:
                del data[key]
        if "additions" in data:
            data["additions"] = [{"name": n, **q} for n, q in self.additions]
        return data


def _blank(value: object) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _split(value: object, name: str) -> list[str]:
    if isinstance(value, str):
        return [v.strip() for v in value.replace(";", ",").split(",") if v.strip()]
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise InputError(f"{name} = {value!r}: expected a list of names")


def order_from_mapping(data: dict, base_dir: Path | None = None,
                       formats: tuple[str, ...] = FORMATS) -> Order:
    """Validate one order given as a mapping of field name to value.

    Empty strings mean "not given". ``scan`` paths resolve against
    ``base_dir``. Overrides come as ``set`` (a mapping) or ``set.<key>`` fields.
    """
    for key, why in RETIRED_FIELDS.items():
        if not _blank(data.get(key)):
            raise InputError(f"{key} = {shown(data[key])}: {why}")
    unknown = [k for k in data if k not in KNOWN_FIELDS and k not in RETIRED_FIELDS
               and not str(k).startswith("set.")]
    if unknown:
        raise InputError(f"{unknown[0]!r}: unknown order field; known: {', '.join(KNOWN_FIELDS)},"
                         " set.<parameter>")
    order_id = safe_id(data.get("order_id"))
    side = data.get("side")
    side = "both" if _blank(side) else str(side).strip().lower()
    if side not in SIDES:
        raise InputError(f"side = {data.get('side')!r}: expected one of {', '.join(SIDES)}")
    if _blank(data.get("conditions")):
        raise InputError("conditions: missing; give one or more condition names")
    names = _split(data["conditions"], "conditions")
    if not names:
        raise InputError(f"conditions = {shown(data['conditions'])}: give one or more "
                         "condition names")
    conditions = parse_conditions(names)
    base = load_base(DEFAULT_BASE if _blank(data.get("base")) else data["base"]).name

    overrides: dict[str, object] = {}
    raw_set = data.get("set") or {}
    if not isinstance(raw_set, dict):
        raise InputError(f"set = {raw_set!r}: expected an object of parameter: value")
    for key, value in raw_set.items():
        overrides[lookup(str(key), "set.").name] = value
    for key, value in data.items():
        if str(key).startswith("set.") and not _blank(value):
            overrides[lookup(str(key)[4:], "set.").name] = value

    given = {k: data.get(k) for k in MEASUREMENT_FIELDS if not _blank(data.get(k))}
    shoe = None if _blank(data.get("shoe_size")) else data.get("shoe_size")
    scan = None if _blank(data.get("scan")) else str(data["scan"])
    options: dict = {}
    outline = _outline_options(data, side, base_dir, bool(given) or shoe is not None or
                               scan is not None)
    if outline is not None:
        options["outline"] = outline
        given, shoe = {}, None
    if scan is None:
        for key in SCAN_FIELDS:
            if not _blank(data.get(key)) and data.get(key) is not False:
                raise InputError(f"{key} = {shown(data[key])}: only with a scan")
    scan_length = _scan_foot_length(given) if scan is not None else None
    if scan is not None:
        if given or shoe is not None:
            raise InputError(f"scan: give a scan or measurements ({', '.join(given) or 'shoe_size'}),"
                             " not both: the scan is measured")
        options["scan"] = _scan_options(data, side)
        if scan_length is not None:
            options["scan"]["foot_length_mm"] = scan_length
        path = Path(scan)
        if not path.is_absolute():
            path = (base_dir or Path.cwd()) / path
        try:
            found = path.is_file()
        except (OSError, ValueError):  # a name too long, a NUL byte
            found = False
        if not found:
            raise InputError(f"scan = {shown(data['scan'])}: no such file ({shown(str(path))})")
        scan = str(path)
        measurements = None
    elif outline is not None:
        measurements = None
    else:
        if "foot_length_mm" not in given and shoe is None:
            raise InputError("foot_length_mm: missing; give foot_length_mm, shoe_size or scan")
        measurements = Measurements(shoe_size=shoe, side=None, **given)
        from insolegen.foot.measurements import foot_from_measurements
        foot = foot_from_measurements(measurements)  # validate now, not in the middle of a batch

    fmts = ["stl"] if _blank(data.get("formats")) else _split(data["formats"], "formats")
    fmts = [f.lower().lstrip(".") for f in fmts]
    if not fmts:
        raise InputError(f"formats = {shown(data['formats'])}: expected one or more of "
                         f"{', '.join(formats)}")
    bad = [f for f in fmts if f not in formats]
    if bad:
        raise InputError(f"formats = {bad[0]!r}: expected one or more of {', '.join(formats)}")
    resolution = data.get("resolution_mm")
    resolution = DEFAULT_RESOLUTION_MM if _blank(resolution) else check_resolution(resolution)
    if measurements is not None:  # a scan's foot is known when it is read (design_insole)
        from insolegen.design.limits import check_resolution_for
        check_resolution_for(resolution, foot.foot_length_mm)

    from insolegen.design.zones import check_zones
    zones = check_zones(None if _blank(data.get("zones")) else data["zones"])
    if zones == "none" and set(fmts) & set(ZONED_FORMATS):
        first = next(f for f in fmts if f in ZONED_FORMATS)
        raise InputError(f"formats = {first!r}: needs density zones, but zones = 'none'")
    pressure = None if _blank(data.get("pressure")) else _pressure_file(data["pressure"],
                                                                         base_dir)
    from insolegen.design.limits import check_parameters
    from insolegen.prescription.profiles import prescribe
    params = prescribe(conditions, overrides, base).parameters
    check_parameters(params)
    making = _making(data, params)
    if making["split_cover"]:
        _check_split(params, fmts, making["engrave"])
    shoe = None if _blank(data.get("shoe")) else parse_shoe(data["shoe"], base_dir)
    if shoe is not None and making["engrave"] and shoe.heel_pitch_mm > 0:
        raise InputError(f"engrave = true: not with shoe {shoe.name!r}, whose heel pitch "
                         f"({shoe.heel_pitch_mm:g} mm) bends the bottom the text is cut into")
    additions: tuple = ()
    if not _blank(data.get("additions")):
        from insolegen.design.additions import parse_additions
        additions = parse_additions(data["additions"])
    return Order(order_id, side, conditions, measurements, scan, overrides, resolution,
                 tuple(dict.fromkeys(fmts)), options, **making, base=base, zones=zones,
                 pressure=pressure, shoe=shoe, additions=additions)


def _check_split(params: dict, fmts: list[str], engrave: bool) -> None:
    """Refuse a split cover the order cannot make: no cover, engraving, or a format that
    would carry the part as one body (OBJ, the lattice) or none that carries it."""
    from insolegen.mesh.cover import require_cover
    require_cover(params["top_cover_thickness_mm"])
    one = [f for f in fmts if f not in SPLIT_FORMATS and f not in ("png", "pdf")]
    if one or not set(fmts) & set(SPLIT_FORMATS):
        raise InputError(f"split_cover = true: formats = {shown(','.join(one or fmts))} cannot "
                         f"carry a separate cover; accepted: {', '.join(SPLIT_FORMATS)} "
                         f"(with png, pdf)")
    if engrave:
        raise InputError("split_cover = true: not with engrave = true (the engraving is cut "
                         "into the one-piece bottom); accepted: one of the two")


def _pressure_file(value: object, base_dir: Path | None) -> str:
    """The pressure map's absolute path, its file read and checked now (the foot it is
    registered to comes later)."""
    path = Path(str(value))
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    from insolegen.foot.pressure import read_pressure
    read_pressure(path)
    return str(path)


def _flag(data: dict, key: str) -> bool:
    value = data.get(key)
    if _blank(value):
        return False
    word = str(value).strip().lower()
    if word not in _FLAGS:
        raise InputError(f"{key} = {shown(value)}: expected true or false")
    return _FLAGS[word]


def _making(data: dict, params: dict) -> dict:
    """How the part is made: STL flavour, material, engraving; checked against the design."""
    from insolegen.mesh.engrave import DEPTH_MM, DEPTH_RANGE_MM
    from insolegen.core.numbers import parse_number
    from insolegen.prescription.materials import DEFAULT_MATERIAL, material
    mat = material(DEFAULT_MATERIAL if _blank(data.get("material")) else data["material"])
    if params["min_thickness_mm"] < mat.min_wall_mm:
        raise InputError(
            f"material = {mat.name!r}: makes walls of {mat.min_wall_mm:g} mm or more, but "
            f"min_thickness_mm = {params['min_thickness_mm']:g}; set min_thickness_mm to at "
            f"least {mat.min_wall_mm:g} or choose another material")
    depth = data.get("engrave_depth_mm")
    if _blank(depth):
        depth = DEPTH_MM
    else:
        low, high = DEPTH_RANGE_MM
        accepted = f"a recess depth in mm from {low:g} to {high:g}"
        depth = parse_number(depth, "engrave_depth_mm", accepted)
        if not low <= depth <= high:
            raise InputError(f"engrave_depth_mm = {data['engrave_depth_mm']!r}: out of range, "
                             f"expected {accepted}")
        if not _flag(data, "engrave"):
            raise InputError(f"engrave_depth_mm = {data['engrave_depth_mm']!r}: only with "
                             f"engrave (--engrave): nothing would be engraved")
    from insolegen.prescription.printers import printer
    chosen = printer(None if _blank(data.get("printer")) else data["printer"],
                     None if _blank(data.get("bed")) else data["bed"])
    return {"ascii_stl": _flag(data, "ascii_stl"), "material": mat.name,
            "engrave": _flag(data, "engrave"), "engrave_depth_mm": depth,
            "split_cover": _flag(data, "split_cover"),
            "printer": None if chosen is None or chosen.name == "custom" else chosen.name,
            "bed_mm": None if _blank(data.get("bed")) else chosen.bed_mm}


def _scan_options(data: dict, side: str) -> dict:
    """Keyword arguments for :func:`insolegen.scan.read.foot_from_scan` from an order's fields."""
    from insolegen.scan.load import parse_units
    options: dict = {"side": None if side == "both" else side}
    if not _blank(data.get("scan_units")):
        options["units"] = parse_units(data["scan_units"])
    flag = data.get("side_from_scan")
    if not _blank(flag):
        key = str(flag).strip().lower() if not isinstance(flag, bool) else str(flag).lower()
        if key not in _FLAGS:
            raise InputError(f"side_from_scan = {shown(flag)}: expected true or false")
        options["side_from_scan"] = _FLAGS[key]
    if not _blank(data.get("scan_kind")):
        from insolegen.scan.sole import parse_kind
        options["kind"] = parse_kind(data["scan_kind"])
    if not _blank(data.get("foot")):
        foot = str(data["foot"]).strip().lower()
        if foot not in SIDES:
            raise InputError(f"foot = {shown(data['foot'])}: expected left, right or both "
                             "(which foot of a scan that holds both)")
        options["foot"] = foot
    return options


def _scan_foot_length(given: dict) -> float | None:
    """A ``foot_length_mm`` given beside a scan (taken out of ``given``), checked: it scales
    an unscaled scan or checks a scaled one."""
    if "foot_length_mm" not in given:
        return None
    from insolegen.foot.measurements import RANGES
    from insolegen.core.numbers import parse_number
    low, high = RANGES["foot_length_mm"]
    accepted = f"a length in mm from {low:g} to {high:g} (scales an unscaled scan)"
    text = given.pop("foot_length_mm")
    length = parse_number(text, "foot_length_mm", accepted)
    if not low <= length <= high:
        raise InputError(f"foot_length_mm = {text!r}: out of range, expected {accepted}")
    return length


def _outline_options(data: dict, side: str, base_dir: Path | None, other: bool) -> dict | None:
    """Keyword arguments for :func:`insolegen.tracing.read.foot_from_outline`, or None."""
    if _blank(data.get("outline")):
        if not _blank(data.get("sheet")):
            raise InputError(f"sheet = {shown(data['sheet'])}: only with an outline (a photo "
                             "or scan of a tracing)")
        return None
    if other:
        raise InputError(f"outline = {shown(data['outline'])}: give one foot source: an "
                         "outline, a scan or measurements, not several")
    path = Path(str(data["outline"]))
    if not path.is_absolute():
        path = (base_dir or Path.cwd()) / path
    try:
        found = path.is_file()
    except (OSError, ValueError):
        found = False
    if not found:
        raise InputError(f"outline = {shown(data['outline'])}: no such file ({shown(str(path))})")
    options: dict = {"path": str(path), "side": None if side == "both" else side}
    if not _blank(data.get("sheet")):
        from insolegen.tracing.photo import parse_sheet
        parse_sheet(data["sheet"])
        options["sheet"] = str(data["sheet"]).strip()
    return options
