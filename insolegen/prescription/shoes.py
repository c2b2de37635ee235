"""Shoe profiles: the shoe an insole must go into, by numbers or by its sock liner's outline.

A shoe is described at its insole board (the floor the device lies on):
inside length and ball width, the board's heel pitch (how far its heel seat
stands above its forefoot: the heel-to-toe drop) and shank (where the board
curves from the heel seat down to the forefoot), the heel counter's height
and the room a device may take under the forefoot. A catalogue type
(:data:`CATALOGUE`) gives typical values and is sized to the foot; any
number can be overridden (``running:heel_pitch_mm=6``); a TOML file gives a
measured shoe; a CSV of ``x,y`` mm gives the liner's outline.

This is different from an order's ``shoe_size``, which is the foot's size
(a way to give its length), not a shoe it must fit.
"""

from __future__ import annotations

import csv
import difflib
import io
import tomllib
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np

from insolegen.core.errors import InputError, shown
from insolegen.core.numbers import parse_number

MAX_FILE_BYTES = 1_000_000
MAX_OUTLINE_POINTS = 20_000

# name: (low, high, unit and meaning). Fractions are of the inside length, from the heel.
FIELDS: dict[str, tuple[float, float, str]] = {
    "inside_length_mm": (100.0, 400.0, "inside length at the insole board, heel to toe, mm"),
    "inside_width_mm": (40.0, 160.0, "insole board width across the ball, mm"),
    "heel_width_mm": (30.0, 120.0, "insole board width across the heel seat, mm"),
    "heel_pitch_mm": (0.0, 40.0, "heel seat of the board above its forefoot (heel-to-toe "
                      "drop), mm"),
    "shank_start_frac": (0.10, 0.40, "the board's heel seat ends and its shank starts "
                         "(fraction of inside length)"),
    "shank_end_frac": (0.45, 0.80, "the shank meets the flat forefoot (fraction of inside "
                       "length)"),
    "heel_counter_height_mm": (15.0, 120.0, "heel counter's inside height above the board, mm"),
    "counter_margin_mm": (0.0, 20.0, "a device's rim stays at least this far below the "
                          "counter's top, mm"),
    "toe_box_height_mm": (10.0, 60.0, "toe box inside height above the board at the ball, mm"),
    "forefoot_room_mm": (0.5, 15.0, "thickest a device may be under the forefoot (the "
                         "removed sock liner plus the toe box's slack), mm"),
    "clearance_mm": (0.0, 5.0, "the device's outline stays this far inside the liner's, mm"),
    "length_allowance_mm": (0.0, 30.0, "catalogue sizing: inside length = foot length + this, "
                            "mm"),
    "width_ratio": (0.80, 1.10, "catalogue sizing: board ball width / foot ball width"),
    "heel_ratio": (0.80, 1.20, "catalogue sizing: board heel width / foot heel width"),
}
SIZED = ("inside_length_mm", "inside_width_mm", "heel_width_mm")


@dataclass(frozen=True)
class Shoe:
    """One shoe, every number in mm or as a fraction of the inside length.

    ``inside_length_mm``, ``inside_width_mm`` and ``heel_width_mm`` are None
    for a catalogue type not yet sized to a foot (see :meth:`sized`);
    ``outline`` is the liner's outline as read ((k, 2) mm, right foot frame,
    heel at x = 0), or empty when the liner is the template shape of the numbers.
    """

    name: str
    title: str
    heel_pitch_mm: float
    shank_start_frac: float
    shank_end_frac: float
    heel_counter_height_mm: float
    toe_box_height_mm: float
    forefoot_room_mm: float
    counter_margin_mm: float = 5.0
    clearance_mm: float = 1.0
    length_allowance_mm: float = 12.0
    width_ratio: float = 0.98
    heel_ratio: float = 1.0
    inside_length_mm: float | None = None
    inside_width_mm: float | None = None
    heel_width_mm: float | None = None
    outline: tuple[tuple[float, float], ...] = ()
    sources: tuple[str, ...] = ()

    def sized(self, foot_length_mm: float, ball_width_mm: float, heel_width_mm: float) -> Shoe:
        """This shoe with its sizes filled in for a foot (given sizes and outline kept)."""
        if self.outline:
            return self
        return replace(
            self,
            inside_length_mm=self.inside_length_mm or round(foot_length_mm
                                                            + self.length_allowance_mm, 2),
            inside_width_mm=self.inside_width_mm or round(ball_width_mm * self.width_ratio, 2),
            heel_width_mm=self.heel_width_mm or round(heel_width_mm * self.heel_ratio, 2))

    def board_height(self, x):
        """Height (mm) of the insole board above its forefoot at ``x`` (mm from the
        liner's heel; array or float): ``heel_pitch_mm`` over the heel seat, a smooth
        (C1) shank down to 0 at ``shank_end_frac``, flat forefoot."""
        length = self.inside_length_mm
        a, b = self.shank_start_frac * length, self.shank_end_frac * length
        t = np.clip((np.asarray(x, dtype=float) - a) / (b - a), 0.0, 1.0)
        return self.heel_pitch_mm * (1.0 - t * t * (3.0 - 2.0 * t))

    def to_json(self) -> dict:
        data = asdict(self)
        data["outline"] = [list(p) for p in self.outline]
        data["sources"] = list(self.sources)
        return data


_RUNNING_DROP = ("Malisoux L, Chambon N, Urhausen A, Theisen D. Influence of the heel-to-toe "
                 "drop of standard cushioned running shoes on injury risk in leisure-time "
                 "runners. Am J Sports Med 2016;44(11):2933-2940 (a 10 mm drop as the "
                 "standard shoe; 6 and 0 mm as reduced); 8-12 mm is the common retail range")
_RETAIL = "typical retail value, no publication: {}"
_LAB = ("clearance 1 mm, counter margin 5 mm, forefoot room = the removable sock liner's "
        "thickness plus 3 mm of toe box slack (2 mm under a safety cap): lab convention, "
        "no publication")
_SAFETY = ("EN ISO 20345 (safety footwear): the toe cap must leave a clearance after a 200 J "
           "impact (14 mm at sizes 41-42), so a work boot's toe box has little room to spare")

CATALOGUE: dict[str, Shoe] = {s.name: s for s in [
    Shoe("dress", "Dress shoe (leather, stacked heel)", heel_pitch_mm=20.0,
         shank_start_frac=0.22, shank_end_frac=0.62, heel_counter_height_mm=45.0,
         toe_box_height_mm=24.0, forefoot_room_mm=6.0, length_allowance_mm=12.0,
         width_ratio=0.95,
         sources=(_RETAIL.format("men's dress heels 20-30 mm, forefoot sole 5-10 mm, so the "
                                 "board's drop about 20 mm; a thin leather sock liner (2-3 mm)"),
                  _LAB)),
    Shoe("running", "Running shoe (cushioned trainer)", heel_pitch_mm=10.0,
         shank_start_frac=0.25, shank_end_frac=0.66, heel_counter_height_mm=50.0,
         toe_box_height_mm=30.0, forefoot_room_mm=8.0, length_allowance_mm=15.0,
         width_ratio=0.98,
         sources=(_RUNNING_DROP,
                  _RETAIL.format("removable foam sock liners 4-6 mm; runners size up "
                                 "about half a size"), _LAB)),
    Shoe("walking", "Walking / casual shoe", heel_pitch_mm=8.0, shank_start_frac=0.25,
         shank_end_frac=0.66, heel_counter_height_mm=50.0, toe_box_height_mm=30.0,
         forefoot_room_mm=7.0, length_allowance_mm=12.0, width_ratio=0.98,
         sources=(_RETAIL.format("casual and walking shoes drop 6-10 mm, sock liners 3-5 mm"),
                  _LAB)),
    Shoe("work_boot", "Work boot (safety toe cap)", heel_pitch_mm=12.0, shank_start_frac=0.25,
         shank_end_frac=0.64, heel_counter_height_mm=70.0, toe_box_height_mm=28.0,
         forefoot_room_mm=6.0, length_allowance_mm=15.0, width_ratio=1.0,
         sources=(_SAFETY,
                  _RETAIL.format("work boot heels 20-30 mm over a 10-15 mm forefoot sole, "
                                 "liners 4-5 mm; the counter is the boot's, 60-80 mm"), _LAB)),
    Shoe("kids", "Children's shoe", heel_pitch_mm=5.0, shank_start_frac=0.25,
         shank_end_frac=0.66, heel_counter_height_mm=38.0, toe_box_height_mm=24.0,
         forefoot_room_mm=6.0, length_allowance_mm=12.0, width_ratio=0.98,
         sources=(_RETAIL.format("children's shoes are nearly flat (drop 0-8 mm) with "
                                 "10-15 mm growth room ahead of the toes"), _LAB)),
]}
DEFAULT_FOR_OUTLINE = "walking"  # the numbers of a shoe given only by its liner's outline


def _number(key: str, value: object, where: str) -> float:
    low, high, meaning = FIELDS[key]
    accepted = f"a number from {low:g} to {high:g} ({meaning})"
    number = parse_number(value, f"{where}{key}", accepted)
    if not low <= number <= high:
        raise InputError(f"{where}{key} = {shown(value)}: out of range, expected {accepted}")
    return number


def _unknown(key: str, where: str) -> InputError:
    close = difflib.get_close_matches(key, [*FIELDS, "outline"], n=1, cutoff=0.6)
    hint = f"did you mean {close[0]!r}?" if close else f"known: {', '.join(FIELDS)}, outline"
    return InputError(f"{where}{shown(key)}: unknown shoe field; {hint}")


def _with(shoe: Shoe, values: dict, where: str, base_dir: Path) -> Shoe:
    """``shoe`` with ``values`` (field -> raw value, or ``outline`` -> CSV path) checked
    and applied."""
    changes: dict = {}
    for key, value in values.items():
        if key == "outline":
            changes["outline"] = read_outline_csv(_path(value, f"{where}outline", base_dir))
        elif key in FIELDS:
            changes[key] = _number(key, value, where)
        else:
            raise _unknown(key, where)
    shoe = replace(shoe, **changes)
    if shoe.shank_end_frac - shoe.shank_start_frac < 0.1:
        raise InputError(f"{where}shank_end_frac = {shoe.shank_end_frac:g}: at least 0.1 "
                         f"beyond shank_start_frac = {shoe.shank_start_frac:g}")
    if shoe.outline:
        xs = [p[0] for p in shoe.outline]
        ys = [p[1] for p in shoe.outline]
        shoe = replace(shoe, inside_length_mm=round(max(xs) - min(xs), 3),
                       inside_width_mm=round(max(ys) - min(ys), 3), heel_width_mm=None)
    return shoe


def _path(value: object, field: str, base_dir: Path) -> Path:
    if not isinstance(value, str) or not value.strip() or "\x00" in value:
        raise InputError(f"{field} = {shown(value)}: expected a file name")
    path = Path(value.strip())
    path = path if path.is_absolute() else base_dir / path
    try:
        found = path.is_file()
    except (OSError, ValueError):
        found = False
    if not found:
        raise InputError(f"{field} = {shown(value)}: no such file ({shown(str(path))})")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise InputError(f"{field} = {shown(value)}: larger than {MAX_FILE_BYTES} bytes")
    return path


def read_outline_csv(path: Path) -> tuple[tuple[float, float], ...]:
    """A liner outline from a CSV of ``x,y`` mm rows (a header row allowed), right-foot
    frame: X heel to toe, +Y medial. Moved so the heel is at x = 0 and the heel's midline
    (at 15 % of the length) at y = 0."""
    field = f"shoe outline {shown(str(path))}"
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{field}: not a readable UTF-8 CSV ({type(exc).__name__})") from None
    rows = [r for r in csv.reader(io.StringIO(text)) if any(c.strip() for c in r)]
    points = []
    for n, row in enumerate(rows, 1):
        if len(row) < 2:
            raise InputError(f"{field}, row {n}: expected two finite numbers x,y in mm")
        try:
            x, y = (parse_number(c, f"{field}, row {n}", "x,y in mm") for c in row[:2])
        except InputError:
            if n == 1 and not points:
                continue  # a header row
            # the cells are not echoed: an order must not read out a file it names
            raise InputError(f"{field}, row {n}: expected two finite numbers x,y in mm") \
                from None
        points.append((x, y))
    if not 8 <= len(points) <= MAX_OUTLINE_POINTS:
        raise InputError(f"{field}: {len(points)} points; expected 8 to {MAX_OUTLINE_POINTS}")
    x0 = min(p[0] for p in points)
    length = max(p[0] for p in points) - x0
    low, high, _ = FIELDS["inside_length_mm"]
    if not low <= length <= high:
        raise InputError(f"{field}: {length:.1f} mm long; expected a liner {low:g} to "
                         f"{high:g} mm long (mm, X along the shoe)")
    band = [p[1] for p in points if p[0] - x0 <= 0.15 * length]
    mid = (min(band) + max(band)) / 2
    return tuple((round(x - x0, 4), round(y - mid, 4)) for x, y in points)


def _read_toml(path: Path, where: str) -> Shoe:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(f"{where}: not a readable TOML shoe file ({exc})") from None
    base = data.pop("type", DEFAULT_FOR_OUTLINE)
    if base not in CATALOGUE:
        raise InputError(f"{where} type = {shown(base)}: expected one of {', '.join(CATALOGUE)}")
    title = data.pop("title", path.stem)
    shoe = replace(CATALOGUE[base], name=path.stem, title=str(title),
                   sources=(f"measured shoe: {path.name}",))
    shoe = _with(shoe, data, f"{where} ", path.parent)
    missing = [k for k in ("inside_length_mm", "inside_width_mm")
               if getattr(shoe, k) is None]
    if missing:
        raise InputError(f"{where}: {missing[0]} missing; a shoe file gives its inside "
                         "length and width (or an outline)")
    return shoe


def parse_shoe(spec: object, base_dir: Path | None = None) -> Shoe:
    """A shoe from ``NAME[:key=value,...]`` (a catalogue type, numbers overridden),
    a ``.toml`` file of numbers or a ``.csv`` liner outline (paths relative to ``base_dir``)."""
    base_dir = base_dir or Path.cwd()
    if not isinstance(spec, str) or not spec.strip():
        raise InputError(f"shoe = {shown(spec)}: expected a shoe type "
                         f"({', '.join(CATALOGUE)}) or a .toml / .csv file")
    text = spec.strip()
    suffix = Path(text).suffix.lower()
    if suffix == ".toml":
        return _read_toml(_path(text, "shoe", base_dir), f"shoe {shown(text)}")
    if suffix == ".csv":
        return _with(replace(CATALOGUE[DEFAULT_FOR_OUTLINE], name=Path(text).stem,
                             title=f"liner {Path(text).name}",
                             sources=(f"liner outline: {Path(text).name}",)),
                     {"outline": text}, "shoe ", base_dir)
    name, _, rest = text.partition(":")
    name = name.strip().lower()
    if name not in CATALOGUE:
        close = difflib.get_close_matches(name, CATALOGUE, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        raise InputError(f"shoe = {shown(spec)}: unknown shoe type; expected one of "
                         f"{', '.join(CATALOGUE)} or a .toml / .csv file{hint}")
    values = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, value = item.partition("=")
        if not eq:
            raise InputError(f"shoe = {shown(spec)}: {shown(item)} is not key=value")
        values[key.strip()] = value.strip()
    return _with(CATALOGUE[name], values, f"shoe {name}: ", base_dir)


def describe(shoe: Shoe) -> str:
    """One line about a catalogue type or shoe."""
    size = ("sized to the foot" if shoe.inside_length_mm is None else
            f"{shoe.inside_length_mm:g} x {shoe.inside_width_mm:g} mm")
    return (f"{shoe.name:10s} {shoe.title}: drop {shoe.heel_pitch_mm:g} mm, counter "
            f"{shoe.heel_counter_height_mm:g} mm, forefoot room {shoe.forefoot_room_mm:g} mm, "
            f"{size}")
