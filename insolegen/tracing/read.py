"""An outline file or a tracing to a :class:`~insolegen.foot.model.Foot`: the door.

:func:`foot_from_outline` is what the pipeline calls for an order with an
``outline``; :func:`measure_outline` is ``insolegen measure --outline``. The
file's size is checked (``os.stat``) before it is opened, and read whole
only then; the format is told by the extension: ``.csv``/``.txt`` outline
CSV, ``.dxf``, ``.svg``, ``.jpg``/``.jpeg``/``.png`` a photo or flatbed scan
of a paper tracing.
"""

from __future__ import annotations

import os
from pathlib import Path

from insolegen.foot.model import Foot
from insolegen.tracing.shape import OutlineError, checked_polygon, foot_from_polygon

FORMATS = {".csv": "csv", ".txt": "csv", ".dxf": "dxf", ".svg": "svg", ".jpg": "image",
           ".jpeg": "image", ".png": "image"}
MAX_OUTLINE_MB = {"csv": 20.0, "dxf": 50.0, "svg": 20.0, "image": 60.0}
SUMMARY_KEYS = ("foot_length_mm", "ball_width_mm", "heel_width_mm")


def read_outline(path: Path | str, sheet: str | None = None) -> tuple[list, dict]:
    """The outline's points (n, 2) in mm in the file's frame, and what the reading found."""
    from insolegen.tracing import files, photo

    path = Path(path)
    what = f"outline = '{path}'"
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise OutlineError(f"{what}: unsupported file type {path.suffix or '(none)'!r}; "
                           f"accepted: {', '.join(sorted(FORMATS))}")
    if sheet is not None and kind != "image":
        raise OutlineError(f"sheet = {sheet!r}: only with a photo or scan of a tracing "
                           "(JPEG or PNG)")
    if sheet is not None:
        photo.parse_sheet(sheet)
    try:
        size = os.stat(path).st_size
    except OSError as exc:
        raise OutlineError(f"{what}: cannot be read ({exc.strerror or exc})") from None
    limit = MAX_OUTLINE_MB[kind] * 1e6
    if size > limit:
        raise OutlineError(f"{what}: {size / 1e6:.1f} MB; accepted: at most "
                           f"{MAX_OUTLINE_MB[kind]:g} MB for {kind}")
    if size == 0:
        raise OutlineError(f"{what}: empty file (0 bytes)")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise OutlineError(f"{what}: cannot be read ({exc.strerror or exc})") from None
    if kind == "csv":
        xy, report = files.read_csv(path, data)
    elif kind == "dxf":
        xy, report = files.read_dxf(path, data)
    elif kind == "svg":
        xy, report = files.read_svg(path, data)
    else:
        xy, report = photo.traced_outline(path, data, sheet)
    return xy, {"file": path.name, **report}


def foot_from_outline(path: Path | str, side: str | None = None, sheet: str | None = None
                      ) -> Foot:
    """The :class:`Foot` of an outline file or tracing (see :mod:`insolegen.tracing.shape`).

    Parameters
    ----------
    path : Path
        CSV, DXF, SVG, JPEG or PNG.
    side : str, optional
        ``left`` or ``right``; detected from the outline's shape when not given.
    sheet : str, optional
        For a photo: ``A4`` (default), ``Letter``, ``A3`` or ``WxH`` mm.
    """
    xy, report = read_outline(path, sheet)
    what = f"outline = '{Path(path)}'"
    return foot_from_polygon(checked_polygon(xy, what), what, side, report)


def measure_outline(path: Path | str, side: str | None = None, sheet: str | None = None
                    ) -> dict:
    """``insolegen measure --outline``: what the outline gives, JSON-able (mm, output frame)."""
    foot = foot_from_outline(path, side, sheet)
    out = dict(foot.scan or {})
    out["landmarks"] = {k: [v[0], -v[1] if foot.side == "left" else v[1]]
                        for k, v in foot.landmarks.items()}
    out["sources"] = foot.sources
    return out
