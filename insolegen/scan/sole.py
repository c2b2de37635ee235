"""Plantar and impression scans: a sole seen from one side, in a flat surround.

- **Surround**: the plane (RANSAC) that holds the most points, at least
  :data:`MIN_SURROUND_FRACTION` of them, its normal ``n`` towards the side the
  scan reaches farthest: away from the scanner.
- **Visible layer**: per :data:`GRID_MM` cell of the plane, the point nearest
  the scanner (lowest along ``n``); a closed box's bottom, or a dorsum behind
  a sole, is behind it and drops out.
- **Feet**: the surround is the cells whose visible point lies on the plane
  (within :data:`PLANE_TOLERANCE_MM`) joined (8-neighbours) to the grid's
  edge; what is seen and not surround forms regions, holes filled. A
  plantar scan's contact patches lie on the plane too: they count as foot
  where the sole's rising border or a gap in the scan parts them from the
  surround (where the skin meets the glass with neither, the border cannot
  be told). Regions of a foot's area (:data:`MIN_FOOT_AREA_MM2`) are feet:
  one or two.
- **Kind**: ``impression`` when the region's core (:data:`CORE_MM` in from its
  border) lies deeper than its border band (a cavity: a foam box); ``foot``
  when behind the visible layer the core holds a second layer at least
  :data:`DORSUM_LAYER_MM` behind it (a dorsum over the sole: a full scan on a
  platform, for :mod:`insolegen.scan.align`); otherwise ``plantar``.
- **Sole**: plantar: the foot stood on the plane from the far side, so up is
  ``n`` and the heights are as seen. Impression: up is ``-n``, so the
  cavity's floor becomes the sole, inverted (its deepest point is the sole's
  lowest), and the surround and the rim go.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from insolegen.core.errors import ScanError
from insolegen.core.points import dot

log = logging.getLogger("insolegen")

KINDS = ("foot", "plantar", "impression")
GRID_MM = 1.0
PLANE_TOLERANCE_MM = 2.0
MIN_FOOT_AREA_MM2 = 6000.0       # a small child's footprint is about 8000 mm2
MAX_FEET = 2
CORE_MM = 10.0
DORSUM_LAYER_MM = 20.0           # a foot's dorsum is 40 mm or more above its sole
LAYER_CELL_MM = 5.0
IMPRESSION_MARGIN_MM = 3.0       # core this much deeper than the border band: a cavity
MIN_SURROUND_FRACTION = 0.2      # of the (evenly spread) points on the surround plane
RANSAC_PLANES = 300
SAMPLE_MM = 2.0


@dataclass(frozen=True)
class Sole:
    """One foot's sole from a plantar or impression scan: ``points`` (n, 3) mm in the
    file's frame (scaled), facing ``-up``; ``report`` what was found."""

    kind: str
    points: np.ndarray
    up: np.ndarray
    report: dict = field(default_factory=dict)


def parse_kind(text: object) -> str:
    """``foot``, ``plantar`` or ``impression`` for what a user typed."""
    key = str(text).strip().lower() if isinstance(text, str) else None
    if key not in KINDS:
        from insolegen.core.errors import InputError
        raise InputError(f"scan_kind = {text!r}: expected foot, plantar or impression")
    return key


def _layers(d: np.ndarray, cell: np.ndarray, cells: int) -> tuple[np.ndarray, np.ndarray,
                                                                    np.ndarray]:
    """Per cell: index of the nearest point (-1 if none), its depth, the farthest depth."""
    order = np.lexsort((d, cell))
    c = cell[order]
    first = np.r_[True, c[1:] != c[:-1]]
    last = np.r_[c[1:] != c[:-1], True]
    nearest = np.full(cells, -1)
    nearest[c[first]] = order[first]
    near_d = np.full(cells, np.nan)
    near_d[c[first]] = d[order[first]]
    far_d = np.full(cells, np.nan)
    far_d[c[last]] = d[order[last]]
    return nearest, near_d, far_d


def surround_plane(points: np.ndarray) -> tuple[np.ndarray, float] | None:
    """``(normal, offset)`` of the plane holding the most of the (n, 3) points (mm), if it
    holds :data:`MIN_SURROUND_FRACTION` of them; the normal towards the side the points
    reach farthest."""
    keys = np.unique(np.floor(points / SAMPLE_MM).astype(np.int64), axis=0, return_index=True)[1]
    sample = points[np.sort(keys)]
    if len(sample) < 100:
        return None
    rng = np.random.default_rng(0)
    idx = rng.integers(0, len(sample), size=(RANSAC_PLANES, 3))
    a, b, c = sample[idx[:, 0]], sample[idx[:, 1]], sample[idx[:, 2]]
    normals = np.cross(b - a, c - a)
    size = np.linalg.norm(normals, axis=1)
    ok = size > 1e-6
    if not ok.any():
        return None
    normals = normals[ok] / size[ok, None]
    offsets = np.einsum("ij,ij->i", normals, a[ok])
    test = sample[:: max(1, len(sample) // 4000)]
    inliers = (np.abs(dot(test, normals) - offsets) < PLANE_TOLERANCE_MM).sum(axis=0)
    best = int(np.argmax(inliers))
    near = np.abs(dot(sample, normals[best]) - offsets[best]) < PLANE_TOLERANCE_MM
    if near.mean() < MIN_SURROUND_FRACTION:
        return None
    centre = sample[near].mean(axis=0)
    normal = np.linalg.svd(sample[near] - centre, full_matrices=False)[2][-1]
    offset = float(normal @ centre)
    dist = dot(sample, normal) - offset
    if np.percentile(dist, 99.5) < -np.percentile(dist, 0.5):
        normal, offset = -normal, -offset
    return normal, offset


def find_soles(points: np.ndarray, kind: str | None = None) -> list[Sole] | None:
    """The soles of a plantar or impression scan, or ``None`` for a full foot scan.

    Parameters
    ----------
    points : (n, 3) float
        The scan's surface points (mm), evenly spread.
    kind : str, optional
        ``plantar`` or ``impression`` to override what the shape says; ``foot`` is
        not asked here.

    Raises
    ------
    ScanError
        A kind given but no surround, more than two feet, or no foot-sized region.
    """
    plane = surround_plane(points)
    if plane is None:
        if kind is not None:
            raise ScanError(f"scan: scan_kind = {kind!r} but no flat surround found round the "
                            "sole (a plane the sole or cavity sits in); give scan_kind foot "
                            "for a full 3D scan")
        return None
    n, offset = plane
    basis = np.linalg.svd(n[None, :])[2][1:]
    if np.linalg.det(np.vstack([basis, n])) < 0:
        basis = basis[::-1]
    d = dot(points, n) - offset
    uv = dot(points, basis)
    lo = uv.min(axis=0)
    ij = np.floor((uv - lo) / GRID_MM).astype(np.int64)
    shape = tuple(ij.max(axis=0) + 1)
    if shape[0] * shape[1] > 4_000_000:
        raise ScanError(f"scan: the surround spans {shape[0] * GRID_MM:.0f} x "
                        f"{shape[1] * GRID_MM:.0f} mm; accepted: up to 2000 x 2000 mm")
    cell = ij[:, 0] * shape[1] + ij[:, 1]
    nearest, near_d, far_d = (a.reshape(shape) for a in _layers(d, cell, shape[0] * shape[1]))
    off = near_d > PLANE_TOLERANCE_MM
    seen = nearest >= 0
    on, _ = ndimage.label(seen & ~off, structure=np.ones((3, 3)))
    edge = np.unique(np.concatenate([on[0], on[-1], on[:, 0], on[:, -1]]))
    surround = np.isin(on, edge[edge > 0])
    labels, count = ndimage.label(seen & ~surround, structure=np.ones((3, 3)))
    areas = np.bincount(labels.ravel())[1:] * GRID_MM ** 2
    feet = [k + 1 for k in np.argsort(-areas) if areas[k] >= MIN_FOOT_AREA_MM2]
    if not feet:
        if kind is not None:
            raise ScanError(f"scan: scan_kind = {kind!r} but nothing foot-sized stands off the "
                            f"surround plane (largest {areas.max(initial=0):.0f} mm2; a foot "
                            f"{MIN_FOOT_AREA_MM2:g} mm2 or more)")
        return None
    if len(feet) > MAX_FEET:
        raise ScanError(f"scan: {len(feet)} foot-sized regions in the surround; accepted: one "
                        "or two feet per file")
    regions = [ndimage.binary_fill_holes(labels == k) for k in feet]
    core_px = int(round(CORE_MM / GRID_MM))
    core = ndimage.binary_erosion(regions[0], iterations=core_px)
    band = regions[0] & ~core
    inner, border = float(np.nanmedian(near_d[core])), float(np.nanmedian(near_d[band]))
    # What lies behind the visible layer, over LAYER_CELL_MM cells (a sparse cloud has
    # few points per fine cell).
    k = int(round(LAYER_CELL_MM / GRID_MM))
    coarse = (ij[:, 0] // k) * (shape[1] // k + 1) + ij[:, 1] // k
    far_coarse = _layers(d, coarse, (shape[0] // k + 1) * (shape[1] // k + 1))[2]
    ci, cj = np.nonzero(core)
    behind = far_coarse[(ci // k) * (shape[1] // k + 1) + cj // k] - near_d[ci, cj]
    layer = float(np.nanmedian(behind)) if len(behind) else 0.0
    detected = ("impression" if inner > border + IMPRESSION_MARGIN_MM else
                "foot" if layer >= DORSUM_LAYER_MM else "plantar")
    report = {"scan_kind": kind or detected, "scan_kind_source": "given" if kind else "detected",
              "scan_kind_detected": detected,
              "surround": {"normal": [round(float(c), 4) for c in n],
                           "core_depth_mm": round(inner, 1), "border_depth_mm": round(border, 1),
                           "layer_behind_mm": round(layer, 1)},
              "feet_in_file": len(feet)}
    kind = kind or detected
    log.info("scan kind: %s (%s); core %.1f mm, border %.1f mm, layer behind %.1f mm",
             kind, report["scan_kind_source"], inner, border, layer)
    if kind == "foot":
        return None
    soles = []
    for region in regions:
        keep = region & (nearest >= 0)
        if kind == "impression":
            keep &= off  # the rim and the surround go
        idx = nearest[keep]
        up = n if kind == "plantar" else -n
        depth = float(np.percentile(near_d[keep], 99.5)) if kind == "impression" else None
        soles.append(Sole(kind, points[idx], up, {
            **report, "sole_area_mm2": round(float(region.sum() * GRID_MM ** 2)),
            "cavity_depth_mm": None if depth is None else round(depth, 1)}))
    return soles
