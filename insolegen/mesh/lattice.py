"""The lattice insole: a gyroid fill inside a solid skin, one closed body.

For printers and powder-bed processes that know no density zones, the zones
(:attr:`insolegen.design.model.InsoleDesign.infill`) are built into the part:
the insole's own outer surface (exactly the solid of the STL) is kept, and
inside it, deeper than the skin, the material is a sheet gyroid
``|g(x, y, z)| <= t``, one cell size for the part and the sheet thickness ``t``
set per zone (blended over a few millimetres at zone borders), so each zone
has the density it was designed with. The cavities
between the gyroid's sheets are meshed with scikit-image's marching cubes
(Lewiner) on a voxel grid of the implicit field; they lie at least a skin's
thickness inside the outer surface, so the part is the outer surface plus
the cavities' surfaces turned inward, closed by construction.

Gyroid sheet density: a sheet of thickness ``w`` in cells of size ``a``
fills about ``3.09 w / a`` of the volume (the gyroid's area per cell is
3.09 a^2; Schoen AH, Infinite periodic minimal surfaces without self-
intersections, NASA TN D-5541, 1970); ``t`` is set from the field's own
distribution so the zone's fill fraction is exact on the grid.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon

from insolegen.mesh.solid import Solid

AREA_PER_CELL = 3.09     # gyroid minimal surface area per cell, in cell size squared (Schoen 1970)
CELL_RANGE_MM = (5.0, 20.0)
VOXEL_MM = 0.5
WALL_MARGIN_MM = 0.3     # sheets and skin this much above the material's minimum wall
BLEND_MM = 2.0           # zones blend over about this distance
SMOOTH_VOXELS = 1.5      # the field is smoothed over about this many voxels before meshing
NECK_MM = 0.3            # cavities shrunk by this: no thin fins where two cavity lobes nearly meet


@dataclass(frozen=True)
class LatticeZone:
    """One zone as built: cell size and sheet wall (mm), the density asked for and built."""

    name: str
    cell_mm: float
    wall_mm: float
    density_asked: float
    density: float

    def to_json(self) -> dict:
        return {"name": self.name, "cell_mm": self.cell_mm, "wall_mm": self.wall_mm,
                "density_asked": self.density_asked, "density": self.density}


@dataclass(frozen=True)
class Lattice:
    """The lattice body, its zones, its skin (mm) and what the design says it weighs.

    ``volume_mm3`` is the material volume the design gives: the outer solid's
    less the cavities' counted on the voxel grid (not on the marching-cubes mesh).
    """

    solid: Solid
    zones: tuple[LatticeZone, ...]
    skin_mm: float
    voxel_mm: float
    volume_mm3: float
    seconds: float

    def to_json(self) -> dict:
        return {"skin_mm": self.skin_mm, "voxel_mm": self.voxel_mm,
                "volume_mm3": round(self.volume_mm3, 1), "pattern": "gyroid (sheet)",
                "zones": [z.to_json() for z in self.zones], "build_s": round(self.seconds, 2),
                "triangles": int(len(self.solid.faces))}


def _gyroid(x: np.ndarray, y: np.ndarray, z: np.ndarray, cell_mm: float) -> np.ndarray:
    k = np.float32(2.0 * np.pi / cell_mm)
    sx, cx = np.sin(k * x), np.cos(k * x)
    sy, cy = np.sin(k * y), np.cos(k * y)
    sz, cz = np.sin(k * z), np.cos(k * z)
    return sx * cy + sy * cz + sz * cx


@functools.cache
def _unit_cell() -> tuple[np.ndarray, np.ndarray]:
    """|g| and |grad g| (per radian) sampled over one cell, flattened."""
    s = 2 * np.pi * (np.arange(48) + 0.5) / 48.0
    x, y, z = np.meshgrid(s, s, s, indexing="ij")
    g = np.sin(x) * np.cos(y) + np.sin(y) * np.cos(z) + np.sin(z) * np.cos(x)
    gx = np.cos(x) * np.cos(y) - np.sin(z) * np.sin(x)
    gy = -np.sin(x) * np.sin(y) + np.cos(y) * np.cos(z)
    gz = -np.sin(y) * np.sin(z) + np.cos(z) * np.cos(x)
    return np.abs(g).ravel(), np.sqrt(gx ** 2 + gy ** 2 + gz ** 2).ravel()


def _sheet_level(density: float, wall_mm: float, cell_mm: float) -> tuple[float, float]:
    """The half-thickness ``t`` of the sheet ``|g| <= t`` and the share of space it fills:
    ``density`` of it, or more where the sheet would be thinner than ``wall_mm`` anywhere
    (its local thickness is 2 t / |grad g| in cells of ``cell_mm``)."""
    g, grad = _unit_cell()
    t = float(np.quantile(g, density))
    k = 2 * np.pi / cell_mm
    for _ in range(4):
        steep = float(np.quantile(grad[np.abs(g - t) < 0.03], 0.995))
        t = max(t, 0.5 * wall_mm * k * steep)
    return t, float(np.mean(g <= t))


def zone_cells(regions, min_wall_mm: float) -> tuple[LatticeZone, ...]:
    """Cell size and wall of each zone. One cell size for the part, so that the sheets run
    on unbroken across zone borders: the size at which the sparsest zone's sheets are the
    material's thinnest printable wall (plus a margin) on average, kept within
    :data:`CELL_RANGE_MM`; each zone's sheet then gives its density, made denser where
    the sheet would be thinner than that wall anywhere (and it says so)."""
    wall = min_wall_mm + WALL_MARGIN_MM
    sparsest = min((r.density for r in regions), default=1.0)
    cell = float(np.clip(AREA_PER_CELL * wall / sparsest, *CELL_RANGE_MM))
    out = []
    for r in regions:
        _, density = _sheet_level(r.density, wall, cell)
        out.append(LatticeZone(r.name, round(cell, 2), round(density * cell / AREA_PER_CELL, 3),
                               r.density, round(density, 4)))
    return tuple(out)


def build_lattice(design, solid: Solid, min_wall_mm: float, voxel_mm: float = VOXEL_MM
                  ) -> Lattice:
    """The lattice body of ``design``'s right insole ``solid`` (its zones in
    ``design.infill``), every sheet and the skin at least ``min_wall_mm`` thick."""
    from scipy import ndimage
    from skimage.measure import marching_cubes
    t0 = time.perf_counter()
    zones = zone_cells(design.infill, min_wall_mm)
    skin = max(max((r.skin_mm for r in design.infill), default=1.0), min_wall_mm + WALL_MARGIN_MM)
    h = float(voxel_mm)
    lo = solid.vertices.min(axis=0)
    hi = solid.vertices.max(axis=0)
    xs = np.arange(lo[0] - h, hi[0] + 1.5 * h, h, dtype=np.float32)
    ys = np.arange(lo[1] - h, hi[1] + 1.5 * h, h, dtype=np.float32)
    zs = np.arange(-0.5 * h, hi[2] + 1.5 * h, h, dtype=np.float32)
    X, Y = np.meshgrid(xs, ys, indexing="ij")
    inside = shapely.contains_xy(design.outline, X, Y)
    top = np.zeros(X.shape, np.float32)
    top[inside] = design.top(np.column_stack([X[inside], Y[inside]]))
    mask = zs[None, None, :] < top[:, :, None]
    mask[:, :, 0] = False  # the row below z = 0
    depth = ndimage.distance_transform_edt(mask, sampling=h).astype(np.float32)
    # distances to voxel centres step from voxel to voxel: smoothed, the skin's inner face
    # has no steps for marching cubes to fold
    depth = ndimage.gaussian_filter(depth, 1.0)
    # a voxel centre's distance to the nearest outside centre overstates the surface's by h/2
    field = np.float32(skin + 0.5 * h - NECK_MM) - depth  # NECK_MM is added back below
    del depth
    weights = []
    for r in design.infill:
        w = shapely.contains_xy(Polygon(r.outline), X, Y).astype(np.float32)
        weights.append(ndimage.gaussian_filter(w, BLEND_MM / h))
    total = np.maximum(np.sum(weights, axis=0), 1e-6)
    level = np.zeros(X.shape, np.float32)  # the sheet's half-thickness t, blended across zones
    for z, w in zip(zones, weights):
        level += (w / total) * np.float32(_sheet_level(z.density, z.wall_mm, z.cell_mm)[0])
    cell = zones[0].cell_mm if zones else CELL_RANGE_MM[1]
    sheet = _gyroid(X[:, :, None], Y[:, :, None], zs[None, None, :], cell)
    np.abs(sheet, out=sheet)
    np.subtract(level[:, :, None], sheet, out=sheet)
    sheet *= np.float32(cell / (2 * np.pi))
    # a cavity: deeper than the skin and between sheets; the two meet in a rounded edge
    # (polynomial smooth maximum over 2 voxels), as a sharp crease inside a voxel would fold
    # the marching-cubes surface into wrinkles a few hundredths of a millimetre deep
    k = np.float32(2.0 * h)
    blend = np.maximum(k - np.abs(field - sheet), 0.0) / k
    np.maximum(field, sheet, out=field)
    field += blend * blend * (k / 4) + np.float32(NECK_MM)
    del sheet, blend
    # no feature finer than a voxel: marching cubes would resolve two cavity lobes that meet
    # across one voxel with a fin of material a tenth of a millimetre thick
    field = ndimage.gaussian_filter(field, SMOOTH_VOXELS)
    cavity = field < 0
    # partial volumes: a voxel within half a voxel of the surface is cavity by the share the
    # field's local slope puts below zero
    near = np.abs(field) < h
    slope = np.sqrt(sum(gr[near] ** 2 for gr in np.gradient(field, h)))
    share = float(np.sum(field < -h)) + float(np.clip(
        0.5 - field[near] / (np.float32(h) * np.maximum(slope, 0.1)), 0.0, 1.0).sum())
    tri = solid.triangles
    outer = float(np.einsum("ij,ij->", tri[:, 0], np.cross(tri[:, 1], tri[:, 2]))) / 6.0
    volume = outer - share * h ** 3
    field[0, :, :] = field[-1, :, :] = field[:, 0, :] = field[:, -1, :] = 1.0
    field[:, :, 0] = field[:, :, -1] = 1.0
    if cavity.any():
        # no sample within 5 % of a voxel of the surface: marching cubes then makes no
        # sliver triangles around a sample (the surface moves by at most 0.05 voxel)
        eps = np.float32(0.05 * h)
        close = np.abs(field) < eps
        field[close] = np.where(field[close] < 0, -eps, eps)
        verts, faces, _, _ = marching_cubes(field, 0.0, spacing=(h, h, h))
        verts = verts.astype(np.float64) + np.array([xs[0], ys[0], zs[0]], dtype=np.float64)
        faces = faces.astype(np.int64)
        a, b, c = (verts[faces[:, i]] for i in range(3))
        if np.einsum("ij,ij->", a, np.cross(b, c)) > 0:  # cavities must enclose negative volume
            faces = faces[:, ::-1]
    else:
        verts, faces = np.zeros((0, 3)), np.zeros((0, 3), np.int64)
    n = len(solid.vertices)
    body = Solid(np.vstack([solid.vertices, verts]),
                 np.vstack([solid.faces, faces + n]).astype(np.int64))
    return Lattice(body, zones, round(skin, 3), h, volume, time.perf_counter() - t0)
