"""A written insole's measured features against its design, each with its tolerance."""

from __future__ import annotations

from insolegen.core.tolerances import TOL


def compare(measured: dict, expected: dict, resolution_mm: float = 1.0) -> dict[str, dict]:
    """Per feature: expected, measured, tolerance and whether it holds.

    Heights are read off a mesh by linear interpolation, so their tolerances
    (:data:`insolegen.core.tolerances.TOL`, stated for plan edges up to 2 mm)
    grow in proportion to coarser edges.
    """
    k = max(1.0, resolution_mm / 2.0)
    tol = {"insole_length_mm": ("length_mm", TOL.length_mm),
           "heel_seat_height_mm": ("heel_seat_height_mm", TOL.heel_seat_height_mm),
           "heel_cup_depth_mm": ("heel_cup_depth_mm", TOL.heel_cup_depth_mm),
           "rearfoot_tilt_deg": ("rearfoot_tilt_deg", TOL.rearfoot_tilt_deg),
           "arch_rise_mm": ("arch_rise_mm", TOL.arch_height_mm),
           "arch_peak_height_mm": ("arch_peak_height_mm", TOL.arch_height_mm)}
    out = {}
    for key, (mkey, t) in tol.items():
        t = t if key == "insole_length_mm" else round(t * k, 3)
        diff = measured[mkey] - expected[key]
        out[key] = {"expected": expected[key], "measured": measured[mkey], "tolerance": t,
                    "ok": bool(abs(diff) <= t)}
    t_min = expected["min_thickness_mm"]
    out["min_thickness_mm"] = {"expected": t_min, "measured": measured["min_thickness_mm"],
                               "tolerance": TOL.thickness_mm,
                               "ok": bool(measured["min_thickness_mm"] >= t_min - TOL.thickness_mm)}
    return out
