"""Deterministic test images of paper tracings: an outline drawn on a sheet, photographed.

Used by tests/test_tracing.py (nothing binary is committed): the outline (mm,
y up) is drawn as a dark line on a sheet raster (:data:`SHEET_PX_PER_MM`),
the sheet is seen by a pinhole camera tilted by ``tilt_deg`` (the homography
of its four corners), laid on a darker table, lit unevenly (a linear and a
radial fall-off to ``dim`` of full light), blurred, given noise, and encoded
as JPEG or PNG. Run it to write examples: ``python tests/data/make_tracing.py OUT_DIR``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np

SHEET_PX_PER_MM = 5.0
A4 = (210.0, 297.0)


def sheet_raster(lines_mm: list[np.ndarray], sheet_mm: tuple[float, float] = A4,
                 line_mm: float = 1.0) -> np.ndarray:
    """A white sheet (float 0-1, rows down the page) with each (n, 2) ring drawn on it,
    closed; ring coordinates in mm from the sheet's lower left corner, y up."""
    w, h = (int(round(s * SHEET_PX_PER_MM)) for s in sheet_mm)
    image = np.full((h, w), 0.93, np.float32)
    for ring in lines_mm:
        px = np.column_stack([ring[:, 0], sheet_mm[1] - ring[:, 1]]) * SHEET_PX_PER_MM
        cv2.polylines(image, [np.round(px * 16).astype(np.int32)], True, 0.12,
                      thickness=max(int(round(line_mm * SHEET_PX_PER_MM)), 1),
                      lineType=cv2.LINE_AA, shift=4)
    return image


def on_sheet(outline_mm: np.ndarray, sheet_mm: tuple[float, float] = A4,
             turn_deg: float = 3.0) -> np.ndarray:
    """An outline (mm, X along the foot) laid along the sheet's long side, turned a
    further ``turn_deg``, centred."""
    t = np.radians(90.0 + turn_deg)
    rot = np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])
    xy = outline_mm @ rot.T
    return xy - (xy.min(axis=0) + xy.max(axis=0)) / 2 + np.array(sheet_mm) / 2


def photograph(sheet: np.ndarray, tilt_deg: float, image_px: tuple[int, int] = (1600, 1200),
               yaw_deg: float = 12.0, dim: float = 0.55, blur_px: float = 1.2,
               noise: float = 0.015, seed: int = 0) -> np.ndarray:
    """The sheet raster as a camera tilted ``tilt_deg`` from straight down sees it (uint8)."""
    rng = np.random.default_rng(seed)
    h, w = sheet.shape
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float) - [w / 2, h / 2]
    t, y = np.radians(tilt_deg), np.radians(yaw_deg)
    yaw = np.array([[np.cos(y), -np.sin(y), 0], [np.sin(y), np.cos(y), 0], [0, 0, 1]])
    tilt = np.array([[1, 0, 0], [0, np.cos(t), -np.sin(t)], [0, np.sin(t), np.cos(t)]])
    world = np.column_stack([corners, np.zeros(4)]) @ yaw.T @ tilt.T
    distance = 1.6 * max(w, h)
    projected = world[:, :2] / (distance + world[:, 2:3])
    lo, hi = projected.min(axis=0), projected.max(axis=0)
    fit = 0.8 * min(image_px[0] / (hi - lo)[0], image_px[1] / (hi - lo)[1])
    target = (projected - (lo + hi) / 2) * fit + np.array(image_px) / 2
    src = (corners + [w / 2, h / 2]).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, target.astype(np.float32))
    table = 0.28 + 0.04 * cv2.GaussianBlur(rng.random(image_px[::-1]).astype(np.float32),
                                           (0, 0), 6)
    paper = cv2.warpPerspective(sheet, matrix, image_px, flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.ones_like(sheet), matrix, image_px, flags=cv2.INTER_AREA)
    image = table * (1 - mask) + paper * mask
    yy, xx = np.mgrid[0:image_px[1], 0:image_px[0]] / max(image_px)
    light = 1.0 - (1 - dim) * (0.6 * xx + 0.4 * np.hypot(xx - 0.2, yy - 0.1))
    image = cv2.GaussianBlur((image * light).astype(np.float32), (0, 0), blur_px)
    image = image + noise * rng.standard_normal(image.shape)
    return np.clip(image * 255, 0, 255).astype(np.uint8)


def encode(image: np.ndarray, ext: str = ".jpg", dpi: float | None = None) -> bytes:
    """JPEG (quality 90) or PNG bytes, with a stated resolution if ``dpi``."""
    if dpi is None:
        params = [cv2.IMWRITE_JPEG_QUALITY, 90] if ext == ".jpg" else []
        ok, data = cv2.imencode(ext, image, params)
        return data.tobytes()
    import io

    from PIL import Image
    out = io.BytesIO()
    Image.fromarray(image).save(out, format="PNG" if ext == ".png" else "JPEG",
                                dpi=(dpi, dpi))
    return out.getvalue()


def template_outline() -> np.ndarray:
    """A 265 mm right foot's template outline (mm), for running this file alone."""
    from insolegen.foot.outline import foot_outline
    return np.asarray(foot_outline(265.0, 100.0, 70.0).exterior.coords)[:-1]


if __name__ == "__main__":
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".")
    out.mkdir(parents=True, exist_ok=True)
    for tilt in (0, 15, 30):
        image = photograph(sheet_raster([on_sheet(template_outline())]), tilt)
        (out / f"tracing_tilt{tilt}.jpg").write_bytes(encode(image))
        print(out / f"tracing_tilt{tilt}.jpg")
