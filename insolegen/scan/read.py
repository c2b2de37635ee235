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
from insolegen.foot.model import LANDMARK_NAMES, NAVICULAR_OVER_PLANTAR_MM, Foot
from insolegen.scan.align import FootScan, align_scan, align_sole
from insolegen.scan.clean import clean_scan
from insolegen.scan.load import UNITS, parse_units, read_scan, scan_extent
from insolegen.scan.sole import parse_kind
from insolegen.scan.measure import (AHI_SOURCE, DORSUM_CUT_MM, ScanMeasurements,
                                    measure_foot_scan)

log = logging.getLogger("insolegen")

DEMO_SCAN = "dupontgu_right_m.stl"
MEASURE_KEYS = ("foot_length_mm", "ball_width_mm", "heel_width_mm", "plantar_arch_height_mm",
                "dorsal_height_50_mm", "ball_length_mm", "arch_height_index",
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


def _length_check(result_scan: FootScan, measured: ScanMeasurements, given_mm: float) -> dict:
    """The given foot length against the measured one, and the standard unit nearest the
    scale (how far off it is), for the report."""
    scale = result_scan.report["scale_mm_per_unit"]
    nearest = min(UNITS, key=lambda u: abs(np.log(scale / UNITS[u])))
    return {"given_mm": given_mm, "measured_mm": measured.foot_length_mm,
            "residual_mm": round(measured.foot_length_mm - given_mm, 2),
            "scale_mm_per_unit": round(scale, 6), "nearest_unit": nearest,
            "nearest_unit_off_percent": round(100 * (scale / UNITS[nearest] - 1), 2)}


def _stages(raw, units: str | None, scale: float | None, kind: str | None
            ) -> list[tuple[FootScan, ScanMeasurements]]:
    """Clean, align and measure a read scan: one (scan, measurements) per foot in it."""
    clean = clean_scan(raw, units, scale, kind)
    if clean.soles:
        return [(scan, measure_foot_scan(scan, dorsum=False))
                for scan in (align_sole(clean, sole) for sole in clean.soles)]
    scans = [align_scan(clean)] + ([] if clean.second is None else [align_scan(clean.second)])
    return [(scan, measure_foot_scan(scan)) for scan in scans]


def process_feet(path: Path | str, units: str | None = None,
                 foot_length_mm: float | None = None, kind: str | None = None
                 ) -> list[ScanResult]:
    """Load, clean, align and measure a scan file: one result per foot in it (one or two,
    left first).

    Parameters
    ----------
    path : Path
        STL, OBJ, PLY or XYZ file.
    units : str, optional
        ``mm``, ``cm``, ``in`` or ``m``; detected from the size when not given.
    foot_length_mm : float, optional
        The foot's length as the technician measured it. Without ``units`` it
        scales the scan (an unscaled scan: a first pass at the scale that makes
        the scan's extent this long, a second at the scale that makes its
        measured foot length, the mean of its feet's, this long); with
        ``units`` it is only checked. Either way the report's
        ``foot_length_check`` has the residual.
    kind : str, optional
        ``foot``, ``plantar`` or ``impression``; told from the shape when not given.

    Raises
    ------
    ScanError
        The file is not a usable foot scan; the message starts ``scan = '<path>':``.
    """
    units = None if units is None else parse_units(units)
    kind = None if kind is None else parse_kind(kind)
    t0 = time.perf_counter()
    with about(path):
        raw = read_scan(path)
        offset = raw.offset
        t1 = time.perf_counter()
        scale = None
        if foot_length_mm is not None and units is None:
            scale = foot_length_mm / max(scan_extent(raw.vertices), 1e-300)
        staged = _stages(raw, units, scale, kind)
        if scale is not None:
            scale *= foot_length_mm / float(np.mean([m.foot_length_mm for _, m in staged]))
            staged = _stages(raw, units, scale, kind)
        del raw
        if offset is not None:  # the scan was centred as read: the transform is from the file
            shift = np.eye(4)
            shift[:3, 3] = -offset
            staged = [(dataclasses.replace(scan, to_canonical=scan.to_canonical @ shift), m)
                      for scan, m in staged]
        if len(staged) == 2 and staged[0][0].side == staged[1][0].side:
            raise ScanError(f"scan: two feet in the file, both told to be {staged[0][0].side} "
                            "feet by their shape; expected a left and a right")
        for scan, measured in staged:
            if foot_length_mm is not None:
                scan.report["foot_length_check"] = _length_check(scan, measured, foot_length_mm)
    t2 = time.perf_counter()
    timings = {"load_s": t1 - t0, "clean_align_measure_s": t2 - t1}
    log.info("scan %s: %d foot/feet, load %.2f s, the rest %.2f s", Path(path).name,
             len(staged), *timings.values())
    staged.sort(key=lambda item: item[0].side != "left")
    return [ScanResult(scan, measured, timings) for scan, measured in staged]


def pick_feet(results: list[ScanResult], foot: str | None, path: Path | str
              ) -> list[ScanResult]:
    """The feet asked for (``left``, ``right``, or ``both``/None: all) of a file's feet."""
    if foot in (None, "both"):
        return results
    chosen = [r for r in results if r.scan.side == foot]
    if not chosen:
        held = " and ".join(r.scan.side for r in results)
        raise named(ScanError(f"scan: foot = {foot!r}: the file holds a {held} foot only"
                              ), path)
    return chosen


def process_scan(path: Path | str, units: str | None = None,
                 foot_length_mm: float | None = None, kind: str | None = None,
                 foot: str | None = None) -> ScanResult:
    """One foot of a scan file (see :func:`process_feet`); ``foot`` (``left`` or ``right``)
    picks one of a file that holds two."""
    return process_scan_pick(process_feet(path, units, foot_length_mm, kind), foot, path)


def _output_frame(point: tuple[float, ...], side: str) -> list[float]:
    """A canonical-frame point in the output frame (a left foot mirrored back in Y)."""
    x, y, *z = point
    return [float(x), float(-y if side == "left" else y), *map(float, z)]


def scan_summary(result: ScanResult) -> dict:
    """What ``insolegen measure`` prints: measurements, side, units, landmarks (output frame)."""
    scan, m = result.scan, result.measurements
    report = scan.report
    out = {"file": report["file"], "units_detected": scan.units,
           "units_source": report["units_source"],
           "units_confidence": report.get("units_confidence"),
           "scale_mm_per_unit": report.get("scale_mm_per_unit"), "side": scan.side}
    if "foot_length_check" in report:
        out["foot_length_check"] = report["foot_length_check"]
    out["kind"] = report.get("scan_kind", "foot")
    out["kind_source"] = report.get("scan_kind_source", "detected")
    out.update({k: getattr(m, k) for k in MEASURE_KEYS})
    out["arch_type_source"] = AHI_SOURCE
    out["cannot_measure"] = [k for k in MEASURE_KEYS if getattr(m, k) is None]
    out["landmarks"] = {k: _output_frame(v, scan.side) for k, v in m.landmarks.items()}
    out["dorsum_cut"] = m.dorsum_cut
    out["notes"] = []
    if out["cannot_measure"]:
        out["notes"].append(f"a {out['kind']} scan holds the sole only: "
                            f"{', '.join(out['cannot_measure'])} cannot be measured")
    if out["kind"] != "foot":
        out["sole"] = {k: report.get(k) for k in ("surround", "feet_in_file", "sole_area_mm2",
                                                  "cavity_depth_mm", "scan_kind_detected")}
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


def measure_scan(path: Path | str, units: str | None = None,
                 foot_length_mm: float | None = None, kind: str | None = None,
                 foot: str | None = None) -> dict:
    """``insolegen measure``: the scan's measurements as a JSON-able dict (mm, output frame);
    for a file of two feet (and ``foot`` both or not given) ``{"file", "feet": [left, right]}``."""
    results = pick_feet(process_feet(path, units, foot_length_mm, kind), foot, path)
    if len(results) == 1:
        return scan_summary(results[0])
    return {"file": Path(path).name, "feet": [scan_summary(r) for r in results]}


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
        navicular_height_mm=round(m.plantar_arch_height_mm + NAVICULAR_OVER_PLANTAR_MM, 2),
        side=scan.side, outline=m.outline, landmarks=marks,
        sources={"foot_length_mm": source, "ball_width_mm": source, "heel_width_mm": source,
                 "plantar_arch_height_mm": f"{source}: sole under the arch apex",
                 "navicular_height_mm": f"{source}: sole under the arch apex "
                                   f"+ {NAVICULAR_OVER_PLANTAR_MM:g} mm (navicular estimate)",
                 "outline": f"{source}: footprint", "plantar": f"{source}: plantar surface"},
        plantar=m.plantar, plantar_arch_mm=m.plantar_arch_height_mm, scan=summary)


def sample_scan(name: str = DEMO_SCAN) -> Path:
    """Path of a sample scan shipped with insolegen (``scans/`` in the source tree)."""
    folder = resources.files("insolegen.scan_data")
    names = sorted(p.name for p in folder.iterdir() if p.suffix in (".stl", ".obj"))
    if name not in names:
        raise ScanError(f"sample scan = {name!r}: not shipped; accepted: {', '.join(names)}")
    return Path(str(folder / name))


def foot_from_scan(path: Path | str, units: str | None = None, side: str | None = None,
                   side_from_scan: bool = False, foot_length_mm: float | None = None,
                   kind: str | None = None, foot: str | None = None) -> Foot:
    """The :class:`Foot` of a scan file, checked against the side the order asks for.

    Parameters
    ----------
    path : Path
        The scan file.
    units : str, optional
        ``mm``, ``cm``, ``in`` or ``m``; detected from the size when not given.
    side : str, optional
        ``left`` or ``right`` if the order names one; a scan of the other foot
        is refused unless ``side_from_scan``. Of a file of two feet, that foot.
    side_from_scan : bool
        Take the side from the scan when it differs from ``side``.
    foot_length_mm : float, optional
        Scales an unscaled scan, or checks a scaled one (see :func:`process_feet`).
    kind : str, optional
        ``foot``, ``plantar`` or ``impression``; told from the shape when not given.
    foot : str, optional
        ``left`` or ``right``: which foot of a file of two (default: ``side``).
    """
    results = process_feet(path, units, foot_length_mm, kind)
    if len(results) > 1 and foot in (None, "both"):
        foot = side
    result = process_scan_pick(results, foot, path)
    with about(path):
        check_side(result.scan.side, side, side_from_scan)
    return foot_from_result(result)


def feet_from_scan(path: Path | str, units: str | None = None,
                   foot_length_mm: float | None = None, kind: str | None = None
                   ) -> dict[str, Foot]:
    """Each foot of a scan file by its side (one or two)."""
    return {r.scan.side: foot_from_result(r)
            for r in process_feet(path, units, foot_length_mm, kind)}


def process_scan_pick(results: list[ScanResult], foot: str | None, path: Path | str
                      ) -> ScanResult:
    """The one foot ``foot`` picks of ``results``; two left unpicked is refused."""
    chosen = pick_feet(results, foot, path)
    if len(chosen) > 1:
        raise named(ScanError("scan: two feet in the file (a left and a right); give foot "
                              "left or right (--foot), or side left or right"), path)
    return chosen[0]
