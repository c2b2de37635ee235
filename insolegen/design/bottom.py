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


def bottom_height(d, xy: np.ndarray, z_top: np.ndarray) -> np.ndarray:
    """Bottom height z_bottom (mm) at (n, 2) plan points for design ``d`` whose top there
    is ``z_top`` (n,) mm."""
    raw = np.zeros(len(xy))
    return np.clip(raw, 0.0, np.maximum(z_top - d.params["min_thickness_mm"], 0.0))
