"""Measuring an aligned foot scan: lengths, widths, heights, landmarks, arch type.

All in the canonical frame of a :class:`~insolegen.scan.align.FootScan` (mm,
X heel to toe, +Y medial, Z up, ground z = 0). Definitions:

- ``foot_length_mm``: heel to the longest toe along X (all of the scan below
  the ankle cut);
- ``ball_width_mm``: breadth across the forefoot (ahead of half length)
  between planes parallel to X, as calipers measure it (ANSUR II "foot
  breadth, horizontal"), of the foot below the footprint height;
- ``heel_width_mm``: the same behind :data:`HEEL_BREADTH_FRAC` of the length
  (behind the malleoli);
- ``ball_length_mm``: heel to the 1st metatarsal head, taken at the most
  medial point of the forefoot's border (ANSUR II "ball of foot length";
  Williams & McClay's "truncated foot length"); an order's ``ball_length_mm``
  is the same quantity;
- ``dorsal_height_50_mm``: highest point of the dorsum at half the foot length
  (``dorsum_cut`` when the scan stops within :data:`DORSUM_CUT_MM` above it:
  then the dorsum is cut off and this is where the cut is);
- ``arch_height_index``: dorsal height at 50% over ball length (truncated foot length)
  (Williams & McClay 2000);
- ``plantar_arch_height_mm``: medial plantar height at the arch (not the
  navicular height, about 24 mm higher): the highest point of
  the sole along the line three quarters of the way from the midline to the
  medial border (the arch apex), between 25% and 65% of the length;
- ``arch_type``: :func:`arch_type` of the index.

The plantar surface is the lowest surface point per :data:`PLANTAR_STEP_MM`
cell within the footprint, holes filled smoothly; the outline is the
footprint closed over toe gaps and smoothed (:func:`insolegen.scan.plantar.smooth_outline`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import shapely
from shapely.geometry import Polygon

from insolegen.core.errors import ScanError
from insolegen.foot.model import ARCH_APEX_U, MET5_BASE_FRAC, MTH_FRACS, PlantarSurface
from insolegen.foot.outline import BALL_ZONE_FRAC, width_profile
from insolegen.scan.plantar import fill_holes, lowest_grid
from insolegen.scan.align import FOOTPRINT_HEIGHT_FRAC, FootScan

PLANTAR_STEP_MM = 2.0
PLANTAR_MARGIN_MM = 30.0   # grid beyond the footprint: room for the toe allowance
ARCH_SEARCH = (0.25, 0.65)  # of the length: where the arch apex is looked for
# Where the metatarsal heads' prominences are looked for, as fractions of the length.
# 1st: ANSUR II ball-of-foot length is 0.69-0.80 of foot length in all 6,068 subjects.
MTH1_SEARCH = (0.66, 0.82)
MTH5_SEARCH = (0.55, 0.78)
HEEL_BREADTH_FRAC = 0.18   # heel breadth is measured behind this: behind the malleoli
PEAK_SMOOTH_MM = 4.0
PEAK_TOP_MM = 0.5
DORSUM_WINDOW_MM = 12.0
# A scan that reaches less than this above the dorsum at half length was cut through
# the dorsum (a foot scan reaches up the ankle, well above the instep).
DORSUM_CUT_MM = 10.0

# Arch Height Index cut-offs (standing): "low" below, "high" above. Williams DS,
# McClay IS, Hamill J. Arch structure and injury patterns in runners. Clin Biomech
# 2001;16(4):341-347 classified runners as low-arched at AHI < 0.275 and high-arched
# at AHI > 0.356 (1.5 SD either side of their laboratory's mean). The index itself:
# Williams DS, McClay IS. Measurements used to characterize the foot and the medial
# longitudinal arch: reliability and validity. Phys Ther 2000;80(9):864-871.
AHI_LOW, AHI_HIGH = 0.275, 0.356
AHI_SOURCE = ("AHI = dorsal height at 50% of foot length / truncated foot length (Williams & "
              "McClay, Phys Ther 2000;80(9):864-871); low < 0.275, high > 0.356 as used by "
              "Williams, McClay & Hamill, Clin Biomech 2001;16(4):341-347")

# Plausible proportions of a foot (checked to refuse shapes that are not feet).
RATIOS = {"ball_width_mm": (0.28, 0.50), "heel_width_mm": (0.18, 0.42),
          "dorsal_height_50_mm": (0.12, 0.45)}
FOOT_LENGTH_RANGE_MM = (100.0, 360.0)


@dataclass(frozen=True)
class ScanMeasurements:
    """What :func:`measure_foot_scan` finds, canonical frame, mm.

    ``landmarks`` maps a name to ``(x, y, z)``; ``plantar`` is the filled
    height map and ``outline`` the smoothed footprint.
    """

    foot_length_mm: float
    ball_width_mm: float
    heel_width_mm: float
    plantar_arch_height_mm: float
    dorsal_height_50_mm: float | None
    ball_length_mm: float
    arch_height_index: float | None
    arch_type: str | None
    landmarks: dict[str, tuple[float, float, float]]
    plantar: PlantarSurface
    outline: Polygon
    holes_filled_fraction: float
    dorsum_cut: bool


def arch_type(index: float) -> str:
    """``low``, ``normal`` or ``high`` for a standing arch height index (see :data:`AHI_SOURCE`)."""
    return "low" if index < AHI_LOW else "high" if index > AHI_HIGH else "normal"


def _smooth(xs: np.ndarray, ys: np.ndarray, sigma_mm: float) -> np.ndarray:
    """Gaussian smoothing of a profile sampled evenly along ``xs``, ends held."""
    step = xs[1] - xs[0]
    half = int(np.ceil(3 * sigma_mm / step))
    kernel = np.exp(-0.5 * (np.arange(-half, half + 1) * step / sigma_mm) ** 2)
    padded = np.pad(ys, half, mode="edge")
    return np.convolve(padded, kernel / kernel.sum(), "valid")


def _peak(xs: np.ndarray, ys: np.ndarray, sign: float, zone: tuple[float, float]) -> float:
    """Where ``sign * ys`` peaks within ``zone`` of ``xs``.

    The profile is smoothed over :data:`PEAK_SMOOTH_MM`; the peak is the
    centre (weighted by height) of the run of stations within
    :data:`PEAK_TOP_MM` of the maximum, so that a flat top gives its middle,
    not whichever of its bumps is a hair higher.
    """
    smooth = sign * _smooth(xs, ys, PEAK_SMOOTH_MM)
    inside = np.flatnonzero((xs >= zone[0]) & (xs <= zone[1]))
    k = inside[np.argmax(smooth[inside])]
    floor = smooth[k] - PEAK_TOP_MM
    lo, hi = k, k
    while lo > inside[0] and smooth[lo - 1] >= floor:
        lo -= 1
    while hi < inside[-1] and smooth[hi + 1] >= floor:
        hi += 1
    weight = smooth[lo:hi + 1] - floor
    return float(np.average(xs[lo:hi + 1], weights=weight + 1e-12))


def _borders(points: np.ndarray, xs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Lowest and highest y of the (n, 3) points at each station of evenly spaced ``xs``
    (points binned to the nearest station; empty stations interpolated)."""
    step = xs[1] - xs[0]
    k = np.clip(np.round((points[:, 0] - xs[0]) / step).astype(np.int64), 0, len(xs) - 1)
    lo = np.full(len(xs), np.inf)
    hi = np.full(len(xs), -np.inf)
    np.minimum.at(lo, k, points[:, 1])
    np.maximum.at(hi, k, points[:, 1])
    seen = np.isfinite(lo)
    return np.interp(xs, xs[seen], lo[seen]), np.interp(xs, xs[seen], hi[seen])


def _dorsum(points: np.ndarray, x: float) -> tuple[float, float]:
    """Height of the dorsum at station ``x`` (mm), and the y of its highest point there.

    The highest point per 1 mm station within :data:`DORSUM_WINDOW_MM` of ``x``,
    then the upper hull of those: a hole in the scan only lowers a station, so
    the hull bridges it.
    """
    near = points[np.abs(points[:, 0] - x) <= DORSUM_WINDOW_MM]
    if len(near) == 0:
        return 0.0, 0.0
    k = np.round(near[:, 0] - x).astype(np.int64)
    order = np.lexsort((near[:, 2], k))
    last = np.r_[k[order][1:] != k[order][:-1], True]
    top = near[order][last]                      # the highest point of each station
    xs, zs = top[:, 0], top[:, 2]
    hull = [0]
    for i in range(1, len(xs)):                  # upper hull, monotone chain (tens of points)
        while len(hull) >= 2 and ((xs[hull[-1]] - xs[hull[-2]]) * (zs[i] - zs[hull[-2]])
                                  - (zs[hull[-1]] - zs[hull[-2]]) * (xs[i] - xs[hull[-2]])) >= 0:
            hull.pop()
        hull.append(i)
    z = float(np.interp(x, xs[hull], zs[hull]))
    nearest = top[np.argmin(np.abs(xs - x))]
    return z, float(nearest[1])


def _plantar(scan: FootScan) -> tuple[PlantarSurface, float]:
    """The sole's height map over the footprint, holes filled; and the fraction filled."""
    s = PLANTAR_STEP_MM
    x0, y0, x1, y1 = scan.footprint.bounds
    m = PLANTAR_MARGIN_MM
    bounds = (np.floor((x0 - m) / s) * s, np.floor((y0 - m) / s) * s,
              np.ceil((x1 + m) / s) * s, np.ceil((y1 + m) / s) * s)
    grid = lowest_grid(scan.points, s, bounds)
    xs = bounds[0] + s * np.arange(grid.shape[1])
    ys = bounds[1] + s * np.arange(grid.shape[0])
    inside = shapely.contains_xy(scan.footprint, *np.meshgrid(xs, ys))
    grid[~inside] = np.nan
    holes = float(np.isnan(grid[inside]).mean())
    z = np.round(fill_holes(grid), 3)
    return PlantarSurface(float(bounds[0]), float(bounds[1]), s,
                          tuple(tuple(map(float, row)) for row in z)), holes


def measure_foot_scan(scan: FootScan, dorsum: bool = True) -> ScanMeasurements:
    """Measure an aligned scan (definitions in the module docstring); without ``dorsum``
    (a plantar or impression scan: the sole only) the dorsal height, the arch height
    index and the arch type are ``None``, not guessed.

    Raises
    ------
    ScanError
        Length or proportions outside what a foot can have.
    """
    pts = scan.points
    x_min, x_max = float(pts[:, 0].min()), float(pts[:, 0].max())
    length = x_max - x_min
    low = pts[pts[:, 2] <= FOOTPRINT_HEIGHT_FRAC * length]
    lo_len, hi_len = FOOT_LENGTH_RANGE_MM
    if not lo_len <= length <= hi_len:
        raise ScanError(f"scan: foot length {length:.0f} mm; a foot is {lo_len:g}-{hi_len:g} mm "
                        "(check --scan-units)")
    fore = low[low[:, 0] >= x_min + BALL_ZONE_FRAC * length]
    rear = low[low[:, 0] <= x_min + HEEL_BREADTH_FRAC * length]
    ball_w = float(np.ptp(fore[:, 1]))
    heel_w = float(np.ptp(rear[:, 1]))
    dorsal, dorsal_y = _dorsum(pts, x_min + 0.5 * length) if dorsum else (None, None)
    values = {"ball_width_mm": ball_w, "heel_width_mm": heel_w, "dorsal_height_50_mm": dorsal}
    for name, (lo, hi) in RATIOS.items():
        if values[name] is None:
            continue
        if not lo <= values[name] / length <= hi:
            raise ScanError(f"scan: {name} = {values[name]:.0f} mm is {values[name] / length:.2f}"
                            f" x foot length ({length:.0f} mm); a foot's is {lo:g}-{hi:g}: "
                            "not a foot")

    plantar, holes = _plantar(scan)
    outline = scan.outline
    xs = np.linspace(x_min, x_max, 1201)
    y_lat, y_med = width_profile(scan.footprint, xs)
    # The metatarsal heads are found on the border traced by the points themselves,
    # finer than the footprint's raster.
    b_lat, b_med = _borders(low, xs)

    def across(x: np.ndarray | float, u: float) -> np.ndarray:
        """(x, y) at position ``u`` across the footprint (-1 lateral, 0 mid, +1 medial)."""
        lo, hi = np.interp(x, xs, y_lat), np.interp(x, xs, y_med)
        return np.column_stack([np.ravel(x), np.ravel((lo + hi) / 2 + u * (hi - lo) / 2)])

    x1 = _peak(xs, b_med, 1.0, tuple(x_min + f * length for f in MTH1_SEARCH))
    x5 = _peak(xs, b_lat, -1.0, tuple(x_min + f * length for f in MTH5_SEARCH))
    marks = {"heel_centre": across(x_min + heel_w / 2, 0.0)}

    # Arch apex: the sole's highest point along the line at ARCH_APEX_U across.
    ax = np.linspace(x_min + ARCH_SEARCH[0] * length, x_min + ARCH_SEARCH[1] * length, 201)
    apex_x = _peak(ax, plantar.heights(across(ax, ARCH_APEX_U)), 1.0, (ax[0], ax[-1]))
    marks["arch_apex"] = across(apex_x, ARCH_APEX_U)
    for i, (frac, u) in enumerate(zip(MTH_FRACS, (0.62, 0.30, 0.0, -0.30, -0.62)), start=1):
        t = (frac - MTH_FRACS[4]) / (MTH_FRACS[0] - MTH_FRACS[4])
        marks[f"mth{i}"] = across(x5 + t * (x1 - x5), u)
    marks["met5_base"] = across(x_min + MET5_BASE_FRAC * length, -0.80)
    xy = np.vstack(list(marks.values()))
    landmarks = {k: (round(float(x), 2), round(float(y), 2), round(float(h), 2))
                 for k, (x, y), h in zip(marks, xy, plantar.heights(xy))}
    if dorsum:
        landmarks["dorsum_50"] = (round(x_min + 0.5 * length, 2), round(dorsal_y, 2),
                                  round(dorsal, 2))
    back = pts[np.argmin(pts[:, 0])]
    tip = pts[np.argmax(pts[:, 0])]
    landmarks["heel_back"] = tuple(round(float(c), 2) for c in back)
    landmarks["toe_tip"] = tuple(round(float(c), 2) for c in tip)

    arch = float(landmarks["arch_apex"][2])
    truncated = x1 - x_min
    index = None if dorsal is None else dorsal / truncated
    return ScanMeasurements(
        foot_length_mm=round(length, 2), ball_width_mm=round(ball_w, 2),
        heel_width_mm=round(heel_w, 2), plantar_arch_height_mm=round(arch, 2),
        dorsal_height_50_mm=None if dorsal is None else round(dorsal, 2),
        ball_length_mm=round(truncated, 2),
        arch_height_index=None if index is None else round(index, 4),
        arch_type=None if index is None else arch_type(index), landmarks=landmarks,
        plantar=plantar, outline=outline, holes_filled_fraction=round(holes, 4),
        dorsum_cut=dorsum and bool(pts[:, 2].max() - dorsal < DORSUM_CUT_MM))
