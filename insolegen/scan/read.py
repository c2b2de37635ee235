"""From a 3D foot scan to a :class:`~insolegen.foot.model.Foot`: the scan stages in one place.

::

    read_scan ─► clean_scan ─► align_scan ─► measure_foot_scan ─► Foot
    (scan_load)  (scan_clean)  (scan_align)  (scan_measure)

:func:`foot_from_scan` is what the pipeline calls for an order with a scan;
:func:`measure_scan` is ``insolegen measure``. Both refuse, with a
:class:`~insolegen.core.errors.ScanError` that starts ``scan = '<path>':``, a file
that is not a usable foot scan.
The Foot carries what the scan said (units, what cleaning dropped, the side
cues, the measurements and 3D landmarks in the output frame) in ``Foot.scan``,
so it reaches the job's report.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from insolegen.core.errors import ScanError
from insolegen.foot.model import LANDMARK_NAMES, Foot
from insolegen.scan.align import FootScan, align_scan
from insolegen.scan.clean import clean_scan
from insolegen.scan.load import parse_units, read_scan
from insolegen.scan.measure import (AHI_SOURCE, DORSUM_CUT_MM, ScanMeasurements,
                                    measure_foot_scan)

log = logging.getLogger("insolegen")

# Navicular height over the sole's height under the arch (mm): bone and soft
# tissue, the inverse of Foot.plantar_arch_height_mm's estimate.
NAVICULAR_OVER_PLANTAR_MM = 24.0
DEMO_SCAN = "dupontgu_right_m.stl"
MEASURE_KEYS = ("foot_length_mm", "ball_width_mm", "heel_width_mm", "arch_height_mm",
                "dorsal_height_50_mm", "truncated_foot_length_mm", "arch_height_index",
                "arch_type")


@dataclass(frozen=True)
class ScanResult:
    """Every stage's output for one scan file, and the seconds each stage took."""

    scan: FootScan
    measurements: ScanMeasurements
    timings: dict[str, float]


def named(exc: ScanError, path: Path | str) -> ScanError:
    """``exc`` with its message starting ``scan = '<path>':`` (a leading ``scan:`` replaced)."""
    prefix = f"scan = '{Path(path)}':"
    text = str(exc)
    if text.startswith(prefix):
        return exc
    if text.startswith("scan:"):
        text = text[len("scan:"):].lstrip()
    return type(exc)(f"{prefix} {text}")


@contextmanager
def about(path: Path | str) -> Iterator[None]:
    """Re-raise a :class:`ScanError` from the stages as :func:`named` for ``path``."""
    try:
        yield
    except ScanError as exc:
        renamed = named(exc, path)
        if renamed is exc:
            raise
        raise renamed from None


def process_scan(path: Path | str, units: str | None = None) -> ScanResult:
    """Load, clean, align and measure a scan file.

    Parameters
    ----------
    path : Path
        STL, OBJ, PLY or XYZ file.
    units : str, optional
        ``mm``, ``cm``, ``in`` or ``m``; detected from the size when not given.

    Raises
    ------
    ScanError
        The file is not a usable foot scan; the message starts ``scan = '<path>':``.
    """
    units = None if units is None else parse_units(units)
    t0 = time.perf_counter()
    with about(path):
        raw = read_scan(path)
        offset = raw.offset
        t1 = time.perf_counter()
        clean = clean_scan(raw, units)
        del raw
        t2 = time.perf_counter()
        scan = align_scan(clean)
        del clean
        if offset is not None:  # the scan was centred as read: the transform is from the file
            shift = np.eye(4)
            shift[:3, 3] = -offset
            scan = dataclasses.replace(scan, to_canonical=scan.to_canonical @ shift)
        t3 = time.perf_counter()
        measured = measure_foot_scan(scan)
    t4 = time.perf_counter()
    timings = {"load_s": t1 - t0, "clean_s": t2 - t1, "align_s": t3 - t2, "measure_s": t4 - t3}
    log.info("scan %s: load %.2f s, clean %.2f s, align %.2f s, measure %.2f s",
             Path(path).name, *timings.values())
    return ScanResult(scan, measured, timings)


def _output_frame(point: tuple[float, ...], side: str) -> list[float]:
    """A canonical-frame point in the output frame (a left foot mirrored back in Y)."""
    x, y, *z = point
    return [float(x), float(-y if side == "left" else y), *map(float, z)]


def scan_summary(result: ScanResult) -> dict:
    """What ``insolegen measure`` prints: measurements, side, units, landmarks (output frame)."""
    scan, m = result.scan, result.measurements
    report = scan.report
    out = {"file": report["file"], "units_detected": scan.units,
           "units_source": report["units_source"], "side": scan.side}
    out.update({k: getattr(m, k) for k in MEASURE_KEYS})
    out["arch_type_source"] = AHI_SOURCE
    out["landmarks"] = {k: _output_frame(v, scan.side) for k, v in m.landmarks.items()}
    out["dorsum_cut"] = m.dorsum_cut
    out["notes"] = []
    if m.dorsum_cut:
        out["notes"].append(
            f"the scan stops less than {DORSUM_CUT_MM:g} mm above the dorsum at half length "
            f"(top {float(scan.points[:, 2].max()):.1f} mm): it is cut through the dorsum, so "
            "dorsal_height_50_mm is where the cut is, and it and arch_height_index read low")
    to_output = np.diag([1.0, -1.0 if scan.side == "left" else 1.0, 1.0, 1.0]) @ scan.to_canonical
    out["to_output_frame"] = np.round(to_output, 9).tolist()
    out["cleaning"] = {k: report[k] for k in ("kind", "points_read", "triangles_read",
                                              "floor_removed", "pieces_dropped",
                                              "points_in_dropped_pieces", "points_above_ankle")}
    out["cleaning"]["plantar_holes_filled_fraction"] = m.holes_filled_fraction
    out["detection"] = {k: report[k] for k in ("sole_contact", "next_best_contact",
                                               "heel_toe_contrast", "side_cues")}
    return out


def measure_scan(path: Path | str, units: str | None = None) -> dict:
    """``insolegen measure``: the scan's measurements as a JSON-able dict (mm, output frame)."""
    return scan_summary(process_scan(path, units))


def check_side(detected: str, side: str | None, side_from_scan: bool) -> None:
    """Refuse a scan of the other foot than the order says, unless told to follow the scan."""
    if side in (None, "both") or side == detected or side_from_scan:
        if side not in (None, "both", detected):
            log.warning("order says side %s, the scan is a %s foot: following the scan",
                        side, detected)
        return
    raise ScanError(f"side = {side!r}: the scan is of a {detected} foot (told by its shape); "
                    f"give side {detected}, or --side-from-scan to make the scan's side win")


def foot_from_result(result: ScanResult) -> Foot:
    """The :class:`Foot` of a processed scan, plantar surface and outline from the scan."""
    scan, m = result.scan, result.measurements
    marks = {k: (m.landmarks[k][0], m.landmarks[k][1]) for k in LANDMARK_NAMES}
    source = f"scan ({scan.report['file']})"
    summary = scan_summary(result)
    return Foot(
        foot_length_mm=m.foot_length_mm, ball_width_mm=m.ball_width_mm,
        heel_width_mm=m.heel_width_mm,
        arch_height_mm=round(m.arch_height_mm + NAVICULAR_OVER_PLANTAR_MM, 2),
        side=scan.side, outline=m.outline, landmarks=marks,
        sources={"foot_length_mm": source, "ball_width_mm": source, "heel_width_mm": source,
                 "arch_height_mm": f"{source}: sole under the arch apex "
                                   f"+ {NAVICULAR_OVER_PLANTAR_MM:g} mm (navicular estimate)",
                 "outline": f"{source}: footprint", "plantar": f"{source}: plantar surface"},
        plantar=m.plantar, plantar_arch_mm=m.arch_height_mm, scan=summary)


def sample_scan(name: str = DEMO_SCAN) -> Path:
    """Path of a sample scan shipped with insolegen (``scans/`` in the source tree)."""
    folder = resources.files("insolegen.scan_data")
    names = sorted(p.name for p in folder.iterdir() if p.suffix in (".stl", ".obj"))
    if name not in names:
        raise ScanError(f"sample scan = {name!r}: not shipped; accepted: {', '.join(names)}")
    return Path(str(folder / name))


def foot_from_scan(path: Path | str, units: str | None = None, side: str | None = None,
                   side_from_scan: bool = False) -> Foot:
    """The :class:`Foot` of a scan file, checked against the side the order asks for.

    Parameters
    ----------
    path : Path
        The scan file.
    units : str, optional
        ``mm``, ``cm``, ``in`` or ``m``; detected from the size when not given.
    side : str, optional
        ``left`` or ``right`` if the order names one; a scan of the other foot
        is refused unless ``side_from_scan``.
    side_from_scan : bool
        Take the side from the scan when it differs from ``side``.
    """
    result = process_scan(path, units)
    with about(path):
        check_side(result.scan.side, side, side_from_scan)
    return foot_from_result(result)
