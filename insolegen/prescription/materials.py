"""What an insole is made of: density (g/cm^3) and the thinnest wall each material makes well (mm)."""

from __future__ import annotations

from dataclasses import dataclass

from insolegen.core.errors import InputError


@dataclass(frozen=True)
class Material:
    """A material an insole is made of: density (g/cm^3), thinnest wall it makes well (mm)."""

    name: str
    process: str
    density_g_cm3: float
    min_wall_mm: float
    source: str


MATERIALS: dict[str, Material] = {m.name: m for m in [
    Material("pp", "FDM, polypropylene filament", 0.90, 1.2,
             "density: PP homopolymer 0.90-0.91 g/cm3 (Maier C, Calafut T. Polypropylene: "
             "the definitive user's guide and databook. Plastics Design Library; 1998); wall: "
             "3 perimeters of a 0.4 mm nozzle, the usual structural FDM minimum (0.8 mm is the "
             "printable minimum in FDM design guides): a printing convention, no publication"),
    Material("eva", "CNC-milled closed-cell EVA foam block", 0.20, 1.0,
             "density: crosslinked EVA foams 150-250 kg/m3 (Verdejo & Mills, The Engineering "
             "of Sport 4, 2002, pp 580-587); wall: 1 mm, the thinnest EVA cover layer labs "
             "mill (covers are 1-3 mm): a lab convention, no publication"),
    Material("pa12", "MJF / SLS powder bed fusion, polyamide 12", 1.01, 1.0,
             "density: HP 3D High Reusability PA 12 data sheet, parts 1.01 g/cm3 (ASTM D792); "
             "wall: Materialise PA 12 (MJF) design guide, minimum 1 mm"),
    Material("tpu", "FDM, TPU filament (Shore 85-95A)", 1.22, 1.2,
             "density: Ultimaker TPU 95A technical data sheet, 1.22 g/cm3 (ISO 1183); wall: "
             "3 perimeters of a 0.4 mm nozzle, as for PP (flexible filament is not printed "
             "thinner): a printing convention, no publication"),
]}
DEFAULT_MATERIAL = "pa12"


def material(name: object) -> Material:
    """The material called ``name`` (case-insensitive), or InputError."""
    key = str(name).strip().lower() if isinstance(name, str) else None
    if key not in MATERIALS:
        raise InputError(f"material = {name!r}: expected one of {', '.join(MATERIALS)}")
    return MATERIALS[key]
