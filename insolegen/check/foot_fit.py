"""The device against the foot: how far a written insole's top cuts into the scanned foot.

The report's ``foot_fit``, by the definitions of :mod:`insolegen.geometry.penetration`,
the foot's surface being its scanned sole seen from below (the scan's plantar
height map, :class:`~insolegen.foot.model.PlantarSurface`).
"""

from __future__ import annotations

import numpy as np

from insolegen.geometry.penetration import penetration


def region(x_mm: float, foot_length_mm: float) -> str:
    """Where along the foot a point is: heel, midfoot, forefoot or toes."""
    frac = x_mm / foot_length_mm
    return ("heel" if frac < 0.3 else "midfoot" if frac < 0.6 else
            "forefoot" if frac < 0.8 else "toes")


def foot_fit(vertices: np.ndarray, faces: np.ndarray, side: str, design) -> dict | None:
    """The report's ``foot_fit`` of a written insole (output frame, mm) against its design's
    scanned foot, or None when the foot is not from a scan. ``design`` is an
    :class:`~insolegen.design.model.InsoleDesign`."""
    foot = design.foot
    if foot.plantar is None:
        return None
    v = vertices * np.array([1.0, -1.0, 1.0]) if side == "left" else vertices
    f = faces[:, ::-1] if side == "left" else faces
    out = penetration(v, f, foot.plantar.heights, foot.landmarks["heel_centre"],
                      foot.heel_width_mm, design.seat_exclusions)
    out["where"] = region(out["at_mm"][0], foot.foot_length_mm)
    out["allowance_mm"] = design.params.get("heel_compression_mm")
    out["definition"] = ("largest penetration of the top into the scanned foot: top height "
                         "minus the scanned sole's height above it, the foot resting on the "
                         "top at the heel seat (insolegen.check.foot_fit)")
    return out
