"""The sole as seen from below: plantar height map and footprint outline of an aligned scan.

Works in the foot's frame (mm, Z up, ground on z = 0):

- :func:`surface_samples` spreads points over the scan's faces, so a coarse
  mesh (10 mm triangles) shades every cell as a fine one does;
- :func:`lowest_grid` keeps the lowest surface point per grid cell: the
  plantar surface, NaN where the scan has no point (holes, outside the foot);
- :func:`fill_holes` fills every NaN cell smoothly (the harmonic
  interpolation of its known neighbours: a discrete Laplace equation);
- :func:`footprint` is the foot's outline in plan: the shadow of the scan
  below a height, closed over small gaps, its border smoothed;
  :func:`smooth_outline` makes it an insole's outline.
"""

from __future__ import annotations

import numpy as np
import shapely
from contourpy import LineType, contour_generator
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.linalg import spsolve
from shapely.geometry import Polygon
from shapely.geometry.polygon import orient

from insolegen.core.errors import ScanError

SAMPLE_BUDGET = 600_000  # points added on long faces, at most (a foot needs ~150k)
CHUNK = 1 << 18        # faces per step: temporaries stay small and cached
# Telling a cell seen through a hole in the sole (see_through), mm.
SEE_THROUGH_WINDOW_MM = 14.0
SEE_THROUGH_STEP_MM = 15.0      # the foot is thicker than this nearly everywhere
SEE_THROUGH_THIN_STEP_MM = 5.0
THIN_LAYER_MM = 3.0
THIN_HIGH_MM = 12.0             # a thin layer this high is a dorsum over a missing sole
OUTLINE_CLOSE_MM = 6.0   # closes the gaps between toes in an insole outline
OUTLINE_OPEN_MM = 2.0    # rounds off spikes


def surface_samples(vertices: np.ndarray, faces: np.ndarray | None, spacing_mm: float
                    ) -> np.ndarray:
    """Points on the surface, about ``spacing_mm`` apart or closer.

    Parameters
    ----------
    vertices : (n, 3) float
    faces : (m, 3) int or None
        For a point cloud (``None``) the vertices are returned as they are.

    Returns
    -------
    (k, 3) float
        The vertices; and on every face with an edge longer than
        ``spacing_mm``, points along its edges every ``spacing_mm`` and
        inside it two per ``spacing_mm`` squared, spread at random (seeded,
        so the same file gives the same points) in proportion to its area:
        long thin faces get points along their length, not a grid of
        thousands.
    """
    if faces is None or len(faces) == 0:
        return vertices
    long = []
    for start in range(0, len(faces), CHUNK):  # chunks keep the temporaries small
        a, b, c = (vertices[faces[start:start + CHUNK, i]] for i in range(3))
        edge2 = np.maximum(np.maximum(np.einsum("ij,ij->i", b - a, b - a),
                                      np.einsum("ij,ij->i", c - b, c - b)),
                           np.einsum("ij,ij->i", a - c, a - c))
        long.append(start + np.flatnonzero(edge2 > spacing_mm ** 2))
    long = np.concatenate(long)
    if len(long) == 0:
        return vertices
    tri = vertices[faces[long]]
    rng = np.random.default_rng(0)
    start_pt = tri.reshape(-1, 3)
    delta = tri[:, [1, 2, 0]].reshape(-1, 3) - start_pt
    area = 0.5 * np.linalg.norm(np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0]), axis=1)
    n_edge = np.ceil(np.linalg.norm(delta, axis=1) / spacing_mm)
    n_inside = np.ceil(2.0 * area / spacing_mm ** 2)
    total = n_edge.sum() + n_inside.sum()
    if total > SAMPLE_BUDGET:  # huge faces (a floor plate, or junk): thinner, not unbounded
        n_edge, n_inside = n_edge * SAMPLE_BUDGET / total, n_inside * SAMPLE_BUDGET / total
    n_edge = np.maximum(np.ceil(n_edge), 1).astype(np.int64)
    n_inside = np.ceil(n_inside).astype(np.int64)

    # Along the edges, evenly.
    edge = np.repeat(np.arange(len(n_edge)), n_edge)
    step = np.arange(len(edge)) - np.repeat(np.cumsum(n_edge) - n_edge, n_edge)
    along = start_pt[edge] + delta[edge] * (step / n_edge[edge])[:, None]

    # Inside, at random in proportion to the area (in chunks: small temporaries).
    faces_of = np.repeat(np.arange(len(tri)), n_inside)
    inside = []
    for start in range(0, len(faces_of), CHUNK // 2):
        face = faces_of[start:start + CHUNK // 2]
        u, v = rng.random(len(face)), rng.random(len(face))
        flip = u + v > 1.0
        u[flip], v[flip] = 1.0 - u[flip], 1.0 - v[flip]
        a = tri[face, 0]
        inside.append(a + u[:, None] * (tri[face, 1] - a) + v[:, None] * (tri[face, 2] - a))
    return np.concatenate([vertices, along, *inside])


def lowest_grid(points: np.ndarray, step_mm: float, bounds: tuple[float, float, float, float]
                ) -> np.ndarray:
    """Lowest z of the (n, 3) points in each cell of a grid, looking through no holes.

    Parameters
    ----------
    step_mm : float
        Cell size; cell ``[i, j]`` is centred on ``(x0 + j * step, y0 + i * step)``.
    bounds : (x0, y0, x1, y1)
        Centres of the first and last cells (mm).

    Returns
    -------
    (rows, cols) float
        NaN where no point falls, and where the lowest point is seen through a
        hole in the sole (:func:`see_through`).
    """
    x0, y0, x1, y1 = bounds
    cols = int(round((x1 - x0) / step_mm)) + 1
    rows = int(round((y1 - y0) / step_mm)) + 1
    j = np.floor((points[:, 0] - x0) / step_mm + 0.5).astype(np.int64)
    i = np.floor((points[:, 1] - y0) / step_mm + 0.5).astype(np.int64)
    inside = (i >= 0) & (i < rows) & (j >= 0) & (j < cols)
    cell = i[inside] * cols + j[inside]
    low = np.full(rows * cols, np.inf)
    high = np.full(rows * cols, -np.inf)
    np.minimum.at(low, cell, points[inside, 2])
    np.maximum.at(high, cell, points[inside, 2])
    low[np.isinf(low)] = np.nan
    low, high = low.reshape(rows, cols), high.reshape(rows, cols)
    low[see_through(low, high, step_mm)] = np.nan
    return low


def see_through(low: np.ndarray, high: np.ndarray, step_mm: float) -> np.ndarray:
    """Cells whose lowest point is the dorsum seen through a hole in the sole.

    A scan with holes (or a sparse point cloud) leaves cells where the sole
    is missing and the lowest point is on the upper surface. Such a cell
    stands out from its neighbourhood (:data:`SEE_THROUGH_WINDOW_MM` across):
    its lowest point is more than :data:`SEE_THROUGH_STEP_MM` above the
    neighbourhood's median, or more than :data:`SEE_THROUGH_THIN_STEP_MM`
    above it while the cell holds a single thin layer of surface (no sole
    below the dorsum). A thin layer higher than :data:`THIN_HIGH_MM` is a
    dorsum over a missing sole whatever its neighbours (a large hole: the sole
    a floor took with it). A steep wall at the foot's border holds a tall
    layer and a modest step, and stays.
    """
    half = max(int(round(SEE_THROUGH_WINDOW_MM / step_mm / 2)), 1)
    padded = np.pad(low, half, constant_values=np.nan)
    rows, cols = low.shape
    window = np.stack([padded[di:di + rows, dj:dj + cols]
                       for di in range(2 * half + 1) for dj in range(2 * half + 1)])
    with np.errstate(all="ignore"):
        import warnings
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN windows stay NaN
            median = np.nanmedian(window, axis=0)
        step = low - median
        thin = (high - low) < THIN_LAYER_MM
        return ((step > SEE_THROUGH_STEP_MM) | (thin & (step > SEE_THROUGH_THIN_STEP_MM))
                | (thin & (low > THIN_HIGH_MM)))


def fill_holes(z: np.ndarray) -> np.ndarray:
    """Every NaN cell of a (rows, cols) grid filled smoothly from the known cells.

    The filled values solve the discrete Laplace equation (each the mean of
    its 4-neighbours) with the known cells fixed and no flux through the
    grid's border: a membrane stretched over the holes.
    """
    known = np.isfinite(z)
    if known.all():
        return z.copy()
    if not known.any():
        raise ScanError("scan: no plantar surface found under the foot")
    rows, cols = z.shape
    unknown = np.flatnonzero(~known.ravel())
    number = np.full(rows * cols, -1)
    number[unknown] = np.arange(len(unknown))
    r, c = np.divmod(unknown, cols)
    flat = np.where(known, z, 0.0).ravel()
    diag = np.zeros(len(unknown))
    rhs = np.zeros(len(unknown))
    a_rows, a_cols = [], []
    for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        rr, cc = r + dr, c + dc
        ok = (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
        nb = rr[ok] * cols + cc[ok]
        diag[ok] += 1.0
        is_known = known.ravel()[nb]
        rhs[np.flatnonzero(ok)[is_known]] += flat[nb[is_known]]
        a_rows.append(np.flatnonzero(ok)[~is_known])
        a_cols.append(number[nb[~is_known]])
    ar, ac = np.concatenate(a_rows), np.concatenate(a_cols)
    n = len(unknown)
    matrix = coo_matrix((np.concatenate([diag, -np.ones(len(ar))]),
                         (np.concatenate([np.arange(n), ar]), np.concatenate([np.arange(n), ac]))),
                        shape=(n, n)).tocsr()
    out = z.ravel().copy()
    out[unknown] = spsolve(matrix, rhs)
    return out.reshape(rows, cols)


def footprint(xy: np.ndarray, step_mm: float = 1.0, close_mm: float = 3.0,
              smooth_mm: float = 1.5) -> Polygon:
    """The outline in plan of (n, 2) points: their shadow, closed, filled and smoothed.

    Parameters
    ----------
    step_mm : float
        Raster cell size.
    close_mm : float
        Gaps narrower than about twice this are closed.
    smooth_mm : float
        Gaussian blur of the shadow before its border is traced at half
        height: rounds corners of about this radius, keeps straight borders.

    Returns
    -------
    Polygon
        The largest piece's outer border, counter-clockwise.
    """
    pad = close_mm + 4 * smooth_mm + 2 * step_mm
    lo = xy.min(axis=0) - pad
    shape = np.ceil((xy.max(axis=0) + pad - lo) / step_mm).astype(int) + 1
    cell = np.floor((xy - lo) / step_mm + 0.5).astype(np.int64)
    image = np.zeros((shape[1], shape[0]), bool)
    image[cell[:, 1], cell[:, 0]] = True
    radius = max(int(round(close_mm / step_mm)), 1)
    disk = np.hypot(*np.mgrid[-radius:radius + 1, -radius:radius + 1]) <= radius
    image = ndimage.binary_closing(image, structure=disk, border_value=0)
    image = ndimage.binary_fill_holes(image)
    labels, n = ndimage.label(image)
    if n == 0:
        raise ScanError("scan: no footprint found")
    largest = np.argmax(np.bincount(labels.ravel())[1:]) + 1
    blurred = ndimage.gaussian_filter((labels == largest).astype(float), smooth_mm / step_mm)
    xs = lo[0] + step_mm * np.arange(shape[0])
    ys = lo[1] + step_mm * np.arange(shape[1])
    lines = contour_generator(xs, ys, blurred, line_type=LineType.Separate).lines(0.5)
    ring = max(lines, key=len)
    # The traced border runs half a cell outside the shadow's points: take it back.
    polygon = Polygon(ring).buffer(-step_mm / 2)
    if polygon.geom_type != "Polygon":
        polygon = max(polygon.geoms, key=lambda g: g.area)
    return orient(Polygon(polygon.exterior.coords), 1.0)


def smooth_outline(footprint: Polygon) -> Polygon:
    """The footprint as an insole outline: the gaps between the toes closed
    (:data:`OUTLINE_CLOSE_MM`), spikes rounded off (:data:`OUTLINE_OPEN_MM`),
    counter-clockwise, starting at its rearmost point (so that the ring the
    mesh is built on, resampled from there, has a point on the heel's back)."""
    closed = footprint.buffer(OUTLINE_CLOSE_MM, quad_segs=16).buffer(-OUTLINE_CLOSE_MM,
                                                                     quad_segs=16)
    opened = closed.buffer(-OUTLINE_OPEN_MM, quad_segs=16).buffer(OUTLINE_OPEN_MM, quad_segs=16)
    if opened.geom_type != "Polygon":
        opened = max(opened.geoms, key=lambda g: g.area)
    ring = np.asarray(orient(shapely.simplify(opened, 0.05), 1.0).exterior.coords)[:-1]
    return Polygon(np.roll(ring, -int(np.argmin(ring[:, 0])), axis=0))
