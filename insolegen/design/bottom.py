"""The insole's bottom surface: a height field z_bottom(x, y) >= 0 beside the top.

A full-contact insole rests on the floor everywhere (z_bottom = 0). A shell
(a base with ``shell = true``, see :mod:`insolegen.prescription.bases`) has
its bottom at the top minus the shell thickness, except where it rests on
the floor: under the heel (the rearfoot post, a wedge flat on z = 0) and
along the anterior edge. Whatever the raw shape, the bottom is clipped to
``[0, z_top - min_thickness_mm]``, so the part is never thinner than the
minimum and the solid closes by construction.
"""

from __future__ import annotations

import numpy as np

from insolegen.design.ends import behind_end
from insolegen.design.surface import smoothstep

FRONT_REST_MM = 4.0     # a shell's anterior edge rests on the floor over this much
FRONT_BLEND_MM = 14.0   # ... and rises into the shell over this much behind it


def post_blend_mm(d) -> float:
    """Length (mm) over which a shell's rearfoot post front edge blends into the shell."""
    return 0.25 * d.post_end_mm


def shell_bottom(d, xy: np.ndarray, z_top: np.ndarray) -> np.ndarray:
    """A shell's raw bottom (mm) at (n, 2) points: the top less the stack, down to the floor
    on the rearfoot post (x <= ``d.post_end_mm``, blending over :func:`post_blend_mm`) and
    along the anterior edge (the toe end, or the cut line of a three-quarter or sulcus
    shell: :func:`insolegen.design.ends.behind_end`)."""
    x = xy[:, 0]
    stack = d.params["base_thickness_mm"] + d.params["top_cover_thickness_mm"]
    post = smoothstep((x - d.post_end_mm) / post_blend_mm(d))
    if d.end_line is None:
        end = d.insole_length_mm - FRONT_REST_MM
        front = 1.0 - smoothstep((x - (end - FRONT_BLEND_MM)) / FRONT_BLEND_MM)
    else:
        front = smoothstep((behind_end(d, xy) - FRONT_REST_MM) / FRONT_BLEND_MM)
    return (z_top - stack) * post * front


def bottom_height(d, xy: np.ndarray, z_top: np.ndarray) -> np.ndarray:
    """Bottom height z_bottom (mm) at (n, 2) plan points for design ``d`` whose top there
    is ``z_top`` (n,) mm."""
    raw = shell_bottom(d, xy, z_top) if d.params["shell"] else np.zeros(len(xy))
    return np.clip(raw, 0.0, np.maximum(z_top - d.params["min_thickness_mm"], 0.0))
