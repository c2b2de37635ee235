"""A photo or flatbed scan of a paper tracing (JPEG, PNG) to the traced outline in mm.

1. **Size first**: the pixel count is read from the header (Pillow opens
   lazily) and checked against :data:`MAX_PIXELS` before anything is decoded.
2. **Sheet**: the largest bright region, its border simplified to four
   corners (a convex quadrilateral of at least :data:`MIN_SHEET_FRACTION` of
   the image). Its long sides are the sheet's long sides; the homography from
   the corners to a :data:`PX_PER_MM` raster of the sheet (A4 unless stated)
   undoes perspective and sets the scale. A flatbed scan whose page fills the
   whole image has no corners to find: its scale is its stated resolution (dpi).
3. **Line**: on the rectified sheet, pixels darker than :data:`LINE_DARKNESS`
   of the local paper brightness (a wide blur of the paper with the line
   closed over), so uneven light does not matter; specks are dropped; there
   must be one line.
4. **Closed**: gaps up to :data:`MAX_GAP_MM` are bridged; the line must
   enclose exactly one region (two means it crosses itself). The outline is
   that region grown by half the line's width: the line's centre.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
from scipy import ndimage

from insolegen.tracing.shape import OutlineError

SHEETS_MM = {"a4": (210.0, 297.0), "letter": (215.9, 279.4), "a3": (297.0, 420.0)}
MAX_PIXELS = 50_000_000        # 50 MP: a 300 dpi A3 scan is 17 MP
WORK_MAX_SIDE_PX = 2000        # images are shrunk to this before the sheet is looked for
MIN_SHEET_FRACTION = 0.10      # of the image's area
PX_PER_MM = 4.0                # the rectified sheet's raster
EDGE_MARGIN_MM = 4.0           # sheet border band ignored (shading at the paper's edge)
LINE_DARKNESS = 0.72           # of the local paper brightness
MIN_SPECK_MM2 = 20.0           # dark blobs smaller than this are dirt
SECOND_LINE_FRACTION = 0.2     # a second line this big (of the first) is a second line
MAX_GAP_MM = 12.0
MIN_REGION_MM2 = 2000.0        # a region a foot could be (a small child's foot: ~8000)


def parse_sheet(text: object) -> tuple[float, float, str]:
    """``A4``, ``Letter``, ``A3`` or ``WxH`` (mm) as (short side, long side, name)."""
    key = str(text).strip().lower() if isinstance(text, str) else ""
    if key in SHEETS_MM:
        return (*SHEETS_MM[key], key.capitalize() if key == "letter" else key.upper())
    m = re.fullmatch(r"(\d+(?:\.\d+)?)\s*[x×*]\s*(\d+(?:\.\d+)?)\s*(?:mm)?", key)
    if m:
        a, b = sorted((float(m.group(1)), float(m.group(2))))
        if 50 <= a and b <= 1500:
            return a, b, f"{a:g} x {b:g} mm"
    raise OutlineError(f"sheet = {text!r}: expected A4, Letter, A3 or WxH in mm "
                       "(e.g. 210x297), sides 50-1500 mm")


def _decode(path: Path, data: bytes) -> tuple[np.ndarray, float | None]:
    """The image as a float grey array (0-1) and its resolution (dpi) if it states one."""
    import io

    from PIL import Image, UnidentifiedImageError

    what = f"outline = '{path}'"
    try:
        with warnings.catch_warnings():  # the pixel count is checked here, just below
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:  # Pillow's own limit, from the header
        found = re.search(r"\((\d+) pixels\)", str(exc))
        size = f"{int(found.group(1)) / 1e6:.0f} MP" if found else "too many pixels"
        raise OutlineError(f"{what}: {size}; accepted: at most {MAX_PIXELS / 1e6:g} MP") from None
    except (UnidentifiedImageError, OSError, ValueError) as exc:
        raise OutlineError(f"{what}: not a readable image ({exc})") from None
    w, h = image.size
    if w * h > MAX_PIXELS:
        raise OutlineError(f"{what}: {w} x {h} pixels ({w * h / 1e6:.0f} MP); accepted: at "
                           f"most {MAX_PIXELS / 1e6:g} MP")
    if image.format not in ("JPEG", "PNG"):
        raise OutlineError(f"{what}: a {image.format} image; accepted: JPEG or PNG")
    try:
        grey = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise OutlineError(f"{what}: image cannot be decoded ({exc})") from None
    dpi = image.info.get("dpi")
    return grey, (float(dpi[0]) if dpi and float(dpi[0]) > 30 else None)


def _sheet_corners(grey: np.ndarray) -> np.ndarray | None:
    """The sheet's four corners (4, 2) in pixels (x, y), or None if the page fills the image."""
    import cv2

    smooth = cv2.GaussianBlur((grey * 255).astype(np.uint8), (0, 0), 2)
    _, bright = cv2.threshold(smooth, 0, 1, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    bright = cv2.morphologyEx(bright, cv2.MORPH_CLOSE, np.ones((9, 9), np.uint8))
    labels, n = ndimage.label(bright)
    if n == 0:
        return None if bright.all() else np.empty((0, 2))
    largest = labels == (np.argmax(np.bincount(labels.ravel())[1:]) + 1)
    region = ndimage.binary_fill_holes(largest)
    h, w = grey.shape
    border = np.concatenate([region[0], region[-1], region[:, 0], region[:, -1]])
    if border.mean() > 0.9:
        return None  # the page fills the image: a flatbed scan
    contours, _ = cv2.findContours(region.astype(np.uint8), cv2.RETR_EXTERNAL,
                                   cv2.CHAIN_APPROX_SIMPLE)
    contour = max(contours, key=cv2.contourArea)
    if cv2.contourArea(contour) < MIN_SHEET_FRACTION * w * h:
        return np.empty((0, 2))
    hull = cv2.convexHull(contour)
    for eps in (0.01, 0.02, 0.03, 0.05):
        quad = cv2.approxPolyDP(hull, eps * cv2.arcLength(hull, True), True)
        if len(quad) == 4:
            break
    if len(quad) != 4 or not cv2.isContourConvex(quad):
        return np.empty((0, 2))
    # A sheet fills its quadrilateral and no more; a blob of another shape does not.
    if abs(cv2.contourArea(contour) / max(cv2.contourArea(quad), 1.0) - 1.0) > 0.04:
        return np.empty((0, 2))
    return quad.reshape(4, 2).astype(np.float64)


def _ordered(quad: np.ndarray) -> np.ndarray:
    """Corners in order round the sheet, starting so that the first side is a short side."""
    centre = quad.mean(axis=0)
    quad = quad[np.argsort(np.arctan2(quad[:, 1] - centre[1], quad[:, 0] - centre[0]))]
    sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
    return quad if sides[0] + sides[2] <= sides[1] + sides[3] else np.roll(quad, -1, axis=0)


def _rectified(path: Path, grey: np.ndarray, dpi: float | None, sheet: tuple[float, float, str],
               sheet_given: bool) -> tuple[np.ndarray, float, dict]:
    """The sheet as a raster of :data:`PX_PER_MM`, its mm per pixel, and how the scale was found."""
    import cv2

    what = f"outline = '{path}'"
    shrink = min(1.0, WORK_MAX_SIDE_PX / max(grey.shape))
    work = cv2.resize(grey, None, fx=shrink, fy=shrink, interpolation=cv2.INTER_AREA) \
        if shrink < 1 else grey
    corners = _sheet_corners(work)
    if corners is None:
        if dpi is None:
            raise OutlineError(f"{what}: no sheet edges in the image and no resolution (dpi) "
                               "stated: photograph the whole sheet on a darker surface, or "
                               "scan it flatbed with its dpi")
        mm_per_px = 25.4 / dpi
        size = int(round(max(grey.shape) * mm_per_px * PX_PER_MM))
        fx = mm_per_px * PX_PER_MM
        if size * min(grey.shape) / max(grey.shape) * size > MAX_PIXELS:
            raise OutlineError(f"{what}: {dpi:g} dpi makes a sheet too large to trace")
        out = cv2.resize(grey, None, fx=fx, fy=fx, interpolation=cv2.INTER_AREA
                         if fx < 1 else cv2.INTER_LINEAR)
        how = (f"the image's stated resolution, {round(dpi, 1):g} dpi (the page fills the "
               "image: a flatbed scan)")
        return out, 1.0 / PX_PER_MM, {"scale_from": how}
    if len(corners) != 4:
        raise OutlineError(f"{what}: no sheet of paper found (a bright four-cornered region of "
                           f"at least {MIN_SHEET_FRACTION:.0%} of the image)")
    quad = _ordered(corners / shrink)
    short, long_, name = sheet
    w, h = int(round(short * PX_PER_MM)), int(round(long_ * PX_PER_MM))
    target = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float32)
    matrix = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    out = cv2.warpPerspective(grey, matrix, (w, h), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_REPLICATE)
    sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
    return out, 1.0 / PX_PER_MM, {
        "scale_from": f"the sheet's four corners, a {name} sheet ({short:g} x {long_:g} mm, "
                      f"{'given' if sheet_given else 'assumed: give --sheet if it is not'})",
        "sheet_corners_px": np.round(quad, 1).tolist(),
        "sheet_sides_px": np.round(sides, 1).tolist()}


def _line_mask(sheet: np.ndarray, mm_per_px: float) -> np.ndarray:
    """Pixels of the drawn line: darker than :data:`LINE_DARKNESS` of the local paper."""
    import cv2

    k = int(round(6.0 / mm_per_px)) | 1
    paper = cv2.morphologyEx(sheet, cv2.MORPH_CLOSE, np.ones((k, k), np.uint8))
    paper = cv2.GaussianBlur(paper, (0, 0), 15.0 / mm_per_px)
    line = sheet < LINE_DARKNESS * np.maximum(paper, 1e-3)
    margin = int(round(EDGE_MARGIN_MM / mm_per_px))
    line[:margin], line[-margin:], line[:, :margin], line[:, -margin:] = False, False, False, False
    return line


def traced_outline(path: Path, data: bytes, sheet: str | None = None
                   ) -> tuple[np.ndarray, dict]:
    """The traced outline (n, 2) in mm on the sheet, and the report of how it was found."""
    what = f"outline = '{path}'"
    dims = parse_sheet(sheet if sheet is not None else "A4")
    grey, dpi = _decode(path, data)
    rect, mm_per_px, report = _rectified(path, grey, dpi, dims, sheet is not None)
    line = _line_mask(rect, mm_per_px)
    labels, n = ndimage.label(line, structure=np.ones((3, 3)))
    areas = np.bincount(labels.ravel())[1:] * mm_per_px ** 2
    big = np.flatnonzero(areas >= MIN_SPECK_MM2)
    if len(big) == 0:
        raise OutlineError(f"{what}: no traced line found on the sheet (nothing darker than "
                           f"{LINE_DARKNESS:.0%} of the paper over {MIN_SPECK_MM2:g} mm2)")
    main = big[np.argmax(areas[big])]
    others = big[(big != main) & (areas[big] >= SECOND_LINE_FRACTION * areas[main])]
    if len(others):
        raise OutlineError(f"{what}: {len(others) + 1} separate lines on the sheet; expected "
                           "one closed line round the foot")
    line = labels == main + 1
    for gap in (1.0, 3.0, 6.0, MAX_GAP_MM):
        r = max(int(round(gap / 2 / mm_per_px)), 1)
        disk = np.hypot(*np.mgrid[-r:r + 1, -r:r + 1]) <= r
        closed = ndimage.binary_closing(line, structure=disk, border_value=0)
        inside, count = ndimage.label(~closed)
        sizes = np.bincount(inside.ravel())[1:] * mm_per_px ** 2
        edge = np.unique(np.concatenate([inside[0], inside[-1], inside[:, 0], inside[:, -1]]))
        regions = [k for k in range(1, count + 1) if k not in edge
                   and sizes[k - 1] >= MIN_REGION_MM2]
        if regions:
            break
    if not regions:
        raise OutlineError(f"{what}: the traced line is not closed (a gap wider than "
                           f"{MAX_GAP_MM:g} mm) or encloses less than {MIN_REGION_MM2:g} mm2")
    if len(regions) > 1:
        raise OutlineError(f"{what}: the traced line encloses {len(regions)} separate regions "
                           "(it crosses itself); expected one closed line round the foot")
    region = inside == regions[0]
    outer = ndimage.binary_fill_holes(closed)
    import cv2
    rings = []
    for mask in (region, outer):
        contours, _ = cv2.findContours(mask.astype(np.uint8), cv2.RETR_EXTERNAL,
                                       cv2.CHAIN_APPROX_NONE)
        rings.append(max(contours, key=len).reshape(-1, 2).astype(float))
    ring = rings[0]
    perimeter = 0.5 * mm_per_px * sum(cv2.arcLength(r.astype(np.float32), True) for r in rings)
    width_mm = float((outer.sum() - region.sum()) * mm_per_px ** 2 / max(perimeter, 1e-9))
    from shapely.geometry import Polygon
    # Image rows run down the page; the sheet seen from above has +Y up it.
    polygon = Polygon((ring + 0.5) * [mm_per_px, -mm_per_px]).buffer(0.5 * mm_per_px + width_mm / 2,
                                                        quad_segs=4)
    if polygon.geom_type != "Polygon":
        polygon = max(polygon.geoms, key=lambda g: g.area)
    report.update({"format": "image", "pixels": [int(grey.shape[1]), int(grey.shape[0])],
                   "line_width_mm": round(width_mm, 2), "gap_bridged_mm": gap})
    return np.asarray(polygon.exterior.coords)[:-1], report
