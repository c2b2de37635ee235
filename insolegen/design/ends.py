"""Where a device ends: the metatarsal-head line, the cut of three-quarter and sulcus
devices along it, and the distances the end taper and the forefoot posts are made from.

Canonical right-foot frame (mm, +Y medial). The metatarsal-head line runs through the
1st and 5th heads (the design's landmarks: a scan's, or the template's from the
measurements); it is oblique, the 5th head lying proximal to the 1st. Its unit normal
``n`` points distally; ``s = n . p - n . mth1`` is how far a point lies ahead of the line.

Rules (values for the reference foot, :data:`REFERENCE_FOOT_MM`, scaled with foot length):

- ``three_quarter`` ends :data:`THREE_QUARTER_BEHIND_MM` behind the line, parallel to it:
  "the distal edge of the orthotic frame should be positioned just posterior (proximal)
  to the weight bearing surface of the metatarsal heads and should mirror the patient's
  metatarsal parabola" (KevinRoot Medical, Determining Orthotic Length, lab guidance);
  the 5 mm is lab convention, no publication.
- ``sulcus`` ends :data:`SULCUS_AHEAD_MM` ahead of the line, parallel to it: at the
  sulcus (the crease under the base of the toes), distal to the heads; the 18 mm is lab
  convention, no publication (the toe crease is not measured by the template or a scan).
- the end tapers to the minimum thickness over :data:`CUT_TAPER_MM` behind the cut.
- a met pad is never cut: a device carrying one ends at least :data:`CUT_TAPER_MM` +
  :data:`PAD_MARGIN_MM` ahead of the pad's peak (the pad keeps its full height, its taper
  starts past the peak) and :data:`PAD_MARGIN_MM` past the pad's front edge (which lies
  at the 2nd head). On a three-quarter device that moves the end distally, parallel to
  the line, past the heads: the device carries the pad as a lab extends it to.
"""

from __future__ import annotations

import numpy as np

from insolegen.prescription.parameters import REFERENCE_FOOT_MM

THREE_QUARTER_BEHIND_MM = 5.0
SULCUS_AHEAD_MM = 18.0
CUT_TAPER_MM = 12.0
PAD_MARGIN_MM = 1.0
# Forefoot posts (the condition's wedge and the additions' ray posts) fade out over this
# much behind the sulcus line, so on a full-length device no wedge lifts the toes.
SULCUS_FADE_MM = 8.0
# The condition's forefoot post rises from this far behind the head line to full height
# this far behind it (reference foot): full under the heads and at a three-quarter end.
POST_RISE_MM = (45.0, 20.0)


def head_line(marks: dict[str, tuple[float, float]]) -> tuple[float, float, float]:
    """``(nx, ny, c)``: the metatarsal-head line through mth1 and mth5 as its unit normal
    (pointing distally) and ``c = n . mth1`` (mm)."""
    (x1, y1), (x5, y5) = marks["mth1"][:2], marks["mth5"][:2]
    tx, ty = x1 - x5, y1 - y5
    norm = float(np.hypot(tx, ty))
    if norm < 1.0:  # heads on top of each other: a straight cut across
        nx, ny = 1.0, 0.0
    else:
        nx, ny = ty / norm, -tx / norm
        if nx < 0:
            nx, ny = -nx, -ny
    return nx, ny, nx * x1 + ny * y1


def end_line(marks: dict[str, tuple[float, float]], insole_length: str, foot_length_mm: float,
             pad: tuple[float, float, float, float] | None = None
             ) -> tuple[float, float, float] | None:
    """The device's end ``(nx, ny, e)``: it keeps ``nx x + ny y <= e``; None for ``full``.

    ``pad`` is a met pad ``(x, y, front, side)``: its peak and its front and side
    semi-axes (mm); the end clears it (see the module's rules).
    """
    if insole_length == "full":
        return None
    k = foot_length_mm / REFERENCE_FOOT_MM
    nx, ny, c = head_line(marks)
    e = c - THREE_QUARTER_BEHIND_MM * k if insole_length == "three_quarter" \
        else c + SULCUS_AHEAD_MM * k
    if pad is not None:
        px, py, front, side = pad
        peak = nx * px + ny * py
        reach = float(np.hypot(nx * front, ny * side))  # farthest point of the pad's front half
        e = max(e, peak + CUT_TAPER_MM + PAD_MARGIN_MM, peak + reach + PAD_MARGIN_MM)
    return nx, ny, float(e)


def ahead_of_heads(d, xy: np.ndarray) -> np.ndarray:
    """How far (mm) each (n, 2) point lies ahead of design ``d``'s metatarsal-head line."""
    nx, ny, c = head_line(d.landmarks)
    return nx * xy[:, 0] + ny * xy[:, 1] - c


def behind_end(d, xy: np.ndarray) -> np.ndarray:
    """How far (mm) each (n, 2) point lies behind design ``d``'s end: the cut line of a
    three-quarter or sulcus device, the toe end (along x) of a full-length one."""
    line = d.end_line
    if line is None:
        return d.insole_length_mm - xy[:, 0]
    nx, ny, e = line
    return e - (nx * xy[:, 0] + ny * xy[:, 1])


def scale(d) -> float:
    """Foot length / the reference foot's: what the rules' lengths are multiplied by."""
    return d.foot_length_mm / REFERENCE_FOOT_MM


def end_note(d) -> list[str]:
    """The design note saying where a three-quarter or sulcus device ends (and why it
    ends further forward when it carries a met pad); none for a full-length one."""
    line = d.end_line
    if line is None:
        return []
    length = d.params["insole_length"]
    nx, ny, c = head_line(d.landmarks)
    plain = end_line(d.landmarks, length, d.foot_length_mm)[2]
    said = (f"{length} ends along the metatarsal-head line (mth1-mth5, "
            f"{np.degrees(np.arctan2(-ny, nx)):.1f} deg oblique), "
            f"{abs(plain - c):.1f} mm {'behind' if plain < c else 'ahead of'} it")
    if line[2] > plain + 0.05:
        said += (f"; moved {line[2] - plain:.1f} mm forward to carry the met pad whole (its "
                 f"peak {CUT_TAPER_MM + PAD_MARGIN_MM:g} mm or more behind the end, before "
                 f"the taper)")
    return [said]
