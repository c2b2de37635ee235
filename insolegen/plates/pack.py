"""Where each part goes: FDM beds (one layer of parts) and powder volumes (layers stacked in Z).

An FDM plate is one sheet of :func:`insolegen.plates.nest.nest` on the bed
less its margins. A powder build (MJF, SLS) is a stack of such sheets:
every sheet is a layer of parts standing on the layer's floor, the layer as
tall as its tallest part, the next layer the spacing above it, as many
layers as the usable height holds, then a new build. Insoles are flat, so
this keeps the honest simplicity of layers over a free 3D packing; parts
of one layer never interlock with the layer above.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from insolegen.core.errors import InputError
from insolegen.plates.nest import fitting_turns, nest, turned
from insolegen.plates.parts import Part
from insolegen.prescription.printers import Printer


@dataclass(frozen=True)
class Spot:
    """One part's place: plate (0-based), layer in it (0 on an FDM bed), the turn about Z
    (degrees) then the translation (mm) that put the part's own frame there."""

    plate: int
    layer: int
    turn_deg: float
    offset_mm: tuple[float, float, float]

    def placement(self) -> np.ndarray:
        """The (4, 4) transform: turn about Z, then translate."""
        a = np.radians(self.turn_deg)
        m = np.eye(4)
        m[:2, :2] = [[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]
        m[:3, 3] = self.offset_mm
        return m


def refuse_unfit(parts: list[Part], printer: Printer) -> None:
    """InputError naming the first part that fits the printer's usable volume at no turn."""
    ux, uy, uz = printer.usable_mm()
    for part in parts:
        corners = np.asarray(part.footprint.exterior.coords)[:-1]
        if part.height_mm > uz or not fitting_turns(corners, ux, uy):
            size = np.ptp(part.vertices, axis=0)
            raise InputError(
                f"{part.path}: {size[0]:.1f} x {size[1]:.1f} x {size[2]:.1f} mm fits no plate "
                f"of {printer.name} (bed {printer.bed_mm[0]:g} x {printer.bed_mm[1]:g} x "
                f"{printer.bed_mm[2]:g} mm, usable {ux:g} x {uy:g} x {uz:g} mm inside its "
                f"{printer.margin_mm:g} mm margins) at any turn about Z")


def place(parts: list[Part], printer: Printer) -> list[Spot]:
    """A :class:`Spot` for every part, in the order given (see the module's docstring)."""
    refuse_unfit(parts, printer)
    m = printer.margin_mm
    bx, by, bz = printer.bed_mm
    rect = (m, m, bx - m, by - m)
    sheets = nest([p.footprint for p in parts], rect, printer.spacing_mm)
    if not printer.powder:
        return [Spot(s.sheet, 0, s.turn_deg,
                     (s.x_mm, s.y_mm, -float(parts[s.index].vertices[:, 2].min())))
                for s in sheets]
    tallest: dict[int, float] = {}
    for s in sheets:
        tallest[s.sheet] = max(tallest.get(s.sheet, 0.0), parts[s.index].height_mm)
    floor: dict[int, tuple[int, int, float]] = {}  # sheet -> (build, layer, z of its floor)
    build, layer, z = 0, 0, m
    for sheet in sorted(tallest):
        if z + tallest[sheet] > bz - m + 1e-9 and layer > 0:
            build, layer, z = build + 1, 0, m
        floor[sheet] = (build, layer, z)
        z += tallest[sheet] + printer.spacing_mm
        layer += 1
    spots = []
    for s in sheets:
        b, k, z0 = floor[s.sheet]
        z_min = float(parts[s.index].vertices[:, 2].min())
        spots.append(Spot(b, k, s.turn_deg, (s.x_mm, s.y_mm, z0 - z_min)))
    return spots


def placed_footprint(part: Part, spot: Spot) -> np.ndarray:
    """The part's footprint corners (k, 2) mm where ``spot`` puts them."""
    corners = np.asarray(part.footprint.exterior.coords)[:-1]
    return turned(corners, spot.turn_deg) + spot.offset_mm[:2]
