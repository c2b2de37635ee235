"""Tolerances in one place (mm and degrees)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Tolerances:
    """How closely a written insole must match its design."""

    length_mm: float = 1.0
    floor_mm: float = 0.01
    heel_cup_depth_mm: float = 0.5
    arch_height_mm: float = 0.5
    heel_seat_height_mm: float = 0.5
    rearfoot_tilt_deg: float = 0.5
    thickness_mm: float = 0.05
    foot_fit_mm: float = 0.05  # penetration into a scanned foot beyond heel_compression_mm


TOL = Tolerances()
