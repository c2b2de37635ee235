"""The printers an order may name: build volume, technology and the room a plate needs (mm).

A :class:`Printer` is the build volume (X by Y by Z, mm, as the maker's
spec sheet states it), its technology (``fdm`` prints parts side by side on
a bed; ``mjf`` and ``sls`` fuse parts anywhere in a powder volume), the
margin kept clear along every edge of the volume and the spacing kept
between two parts. :meth:`Printer.usable_mm` is the volume a part must fit
in, the margins taken off. ``--bed WxDxH`` alone is a printer of its own
(``custom``, FDM, no margin: the bed as given is what may be used);
``--printer NAME --bed WxDxH`` keeps the preset's technology and room and
changes its size.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from insolegen.core.errors import InputError
from insolegen.core.numbers import parse_number

TECHNOLOGIES = ("fdm", "mjf", "sls")
POWDER = ("mjf", "sls")
BED_RANGE_MM = (10.0, 3000.0)

# Room on a plate. Lab conventions, not a maker's figure: an FDM part keeps
# 5 mm from the bed's edge, room for the skirt (PrusaSlicer's bundled Prusa
# profiles print 1 skirt loop 2-3 mm from the part: skirts = 1,
# skirt_distance = 2..3 in PrusaResearch.ini) and 6 mm from its neighbour;
# a powder part keeps 10 mm from the chamber's walls, floor and top and
# 5 mm from its neighbours, in X, Y and Z.
FDM_MARGIN_MM, FDM_SPACING_MM = 5.0, 6.0
POWDER_MARGIN_MM, POWDER_SPACING_MM = 10.0, 5.0


@dataclass(frozen=True)
class Printer:
    """A build volume ``bed_mm`` (x, y, z) mm of a ``technology``, with the ``margin_mm``
    kept along its edges and the ``spacing_mm`` kept between parts."""

    name: str
    title: str
    technology: str
    bed_mm: tuple[float, float, float]
    margin_mm: float
    spacing_mm: float
    source: str

    @property
    def powder(self) -> bool:
        """Whether parts may be stacked in the volume (powder bed fusion) or stand on a bed."""
        return self.technology in POWDER

    def usable_mm(self) -> tuple[float, float, float]:
        """The volume a part must fit in (mm): the margin off every side; an FDM bed's
        height is all usable (parts stand on the bed), a powder volume's loses its
        floor and top margins too."""
        x, y, z = self.bed_mm
        m = self.margin_mm
        return (x - 2 * m, y - 2 * m, z - 2 * m if self.powder else z)

    def to_json(self) -> dict:
        """Plain JSON-able dict."""
        return {"name": self.name, "title": self.title, "technology": self.technology,
                "bed_mm": list(self.bed_mm), "margin_mm": self.margin_mm,
                "spacing_mm": self.spacing_mm, "usable_mm": list(self.usable_mm()),
                "source": self.source}


def _fdm(name: str, title: str, bed: tuple[float, float, float], source: str) -> Printer:
    return Printer(name, title, "fdm", bed, FDM_MARGIN_MM, FDM_SPACING_MM, source)


def _powder(name: str, title: str, tech: str, bed: tuple[float, float, float],
            source: str) -> Printer:
    return Printer(name, title, tech, bed, POWDER_MARGIN_MM, POWDER_SPACING_MM, source)


PRINTERS: dict[str, Printer] = {p.name: p for p in [
    _fdm("prusa_mk4", "Original Prusa MK4", (250.0, 210.0, 220.0),
         "Prusa Research, Original Prusa MK4 technical specifications: build volume "
         "25 x 21 x 22 cm"),
    _fdm("prusa_mk3s", "Original Prusa i3 MK3S+", (250.0, 210.0, 210.0),
         "Prusa Research, Original Prusa i3 MK3S+ specifications: build volume 25 x 21 x 21 cm "
         "(PrusaSlicer's bundled profile: bed_shape 0x0,250x0,250x210,0x210)"),
    _fdm("prusa_xl", "Original Prusa XL", (360.0, 360.0, 360.0),
         "Prusa Research, Original Prusa XL specifications: build volume 36 x 36 x 36 cm"),
    _fdm("prusa_mini", "Original Prusa MINI+", (180.0, 180.0, 180.0),
         "Prusa Research, Original Prusa MINI+ specifications: build volume 18 x 18 x 18 cm "
         "(PrusaSlicer's bundled profile: bed_shape 0x0,180x0,180x180,0x180)"),
    _fdm("bambu_x1c", "Bambu Lab X1 Carbon", (256.0, 256.0, 256.0),
         "Bambu Lab, X1-Carbon specifications: build volume 256 x 256 x 256 mm"),
    _powder("hp_mjf_5200", "HP Jet Fusion 5200", "mjf", (380.0, 284.0, 380.0),
            "HP Jet Fusion 5200 Series 3D printing solution data sheet: effective building "
            "volume 380 x 284 x 380 mm"),
    _powder("eos_p396", "EOS P 396", "sls", (340.0, 340.0, 600.0),
            "EOS P 396 technical data: building volume 340 x 340 x 600 mm"),
    _powder("formlabs_fuse1", "Formlabs Fuse 1", "sls", (165.0, 165.0, 300.0),
            "Formlabs Fuse 1 technical specifications: build volume 165 x 165 x 300 mm"),
]}


def parse_bed(text: object) -> tuple[float, float, float]:
    """Build volume ``'250x210x220'`` (X by Y by Z, mm) as three floats."""
    accepted = (f"a build volume XxYxZ in mm, e.g. 250x210x220, each "
                f"{BED_RANGE_MM[0]:g}-{BED_RANGE_MM[1]:g}")
    parts = str(text).lower().replace("*", "x").split("x") if isinstance(text, str) else []
    if len(parts) != 3:
        raise InputError(f"bed = {text!r}: expected {accepted}")
    values = tuple(parse_number(p.strip(), "bed", accepted) for p in parts)
    if not all(BED_RANGE_MM[0] <= v <= BED_RANGE_MM[1] for v in values):
        raise InputError(f"bed = {text!r}: out of range, expected {accepted}")
    return values


def printer(name: object = None, bed: object = None) -> Printer | None:
    """The printer an order or a command names: a preset (``name``, case-insensitive),
    its size changed by ``bed`` ('WxDxH' or three numbers) when given; ``bed`` alone is a
    ``custom`` FDM bed without margins; neither is None."""
    if isinstance(bed, str) or bed is None:
        size = None if bed is None or not str(bed).strip() else parse_bed(bed)
    else:
        size = parse_bed("x".join(str(v) for v in bed)) if isinstance(bed, (list, tuple)) \
            else parse_bed(bed)
    blank = name is None or (isinstance(name, str) and not name.strip())
    if blank:
        if size is None:
            return None
        return Printer("custom", "custom bed", "fdm", size, 0.0, FDM_SPACING_MM,
                       "the bed size given with the order, used whole (no margin)")
    key = name.strip().lower().replace("-", "_") if isinstance(name, str) else None
    if key not in PRINTERS:
        raise InputError(f"printer = {name!r}: expected one of {', '.join(PRINTERS)}")
    preset = PRINTERS[key]
    if size is not None:
        usable = replace(preset, bed_mm=size).usable_mm()
        if min(usable) <= 0:
            raise InputError(f"bed = {bed!r}: leaves no room inside {preset.name}'s "
                             f"{preset.margin_mm:g} mm margins")
        preset = replace(preset, bed_mm=size, source=f"{preset.title}, bed size as given")
    return preset
