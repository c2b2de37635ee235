"""The ``Foot`` value: what we know about a foot, in the canonical frame.

The canonical frame is the right-foot frame of DESIGN.md: millimetres, X from
the heel (x = 0) to the toe, +Y medial. A left foot is stored mirrored into
this frame and carries ``side = "left"``; insoles are mirrored back on output.
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass, field

import numpy as np
from shapely.geometry import Polygon

from insolegen.foot.outline import width_profile

# Landmarks as fractions of foot length from the heel. Metatarsal heads: the
# 1st at the median ball-of-foot length / foot length of the 6,068 subjects of
# ANSUR II (0.741; Gordon CC et al., 2012 Anthropometric Survey of US Army
# Personnel, NATICK/TR-15/007, 2014), the others following the metatarsal
# parabola (2nd longest, 5th shortest) within DESIGN.md's 0.62-0.74 band.
MTH_FRACS = (0.740, 0.745, 0.725, 0.695, 0.650)
MET5_BASE_FRAC = 0.44
LANDMARK_NAMES = ("heel_centre", "arch_apex", "mth1", "mth2", "mth3", "mth4", "mth5",
                  "met5_base")
ARCH_APEX_U = 0.75  # arch apex across the foot: 0 centreline, 1 medial border
# Navicular height over the sole's height under the arch apex (mm): bone and soft
# tissue between them; lab convention, no publication.
NAVICULAR_OVER_PLANTAR_MM = 24.0
ARCH_FIELDS = ("navicular_height_mm", "plantar_arch_height_mm")  # the two arch heights


@dataclass(frozen=True)
class PlantarSurface:
    """Height of the sole above the ground on a regular grid (canonical frame).

    ``z[i, j]`` is the height (mm) at ``(x0 + j * step, y0 + i * step)``;
    NaN outside the footprint.
    """

    x0: float
    y0: float
    step_mm: float
    z: tuple[tuple[float, ...], ...]

    @functools.cached_property
    def grid(self) -> np.ndarray:
        """``z`` as a read-only (rows, cols) float array (made once)."""
        grid = np.asarray(self.z, dtype=float)
        grid.flags.writeable = False
        return grid

    def heights(self, xy: np.ndarray) -> np.ndarray:
        """Bilinear height at (n, 2) points; NaN outside the grid."""
        grid = self.grid
        fx = (xy[:, 0] - self.x0) / self.step_mm
        fy = (xy[:, 1] - self.y0) / self.step_mm
        j0 = np.clip(np.floor(fx).astype(int), 0, grid.shape[1] - 2)
        i0 = np.clip(np.floor(fy).astype(int), 0, grid.shape[0] - 2)
        tx, ty = fx - j0, fy - i0
        z = (grid[i0, j0] * (1 - tx) * (1 - ty) + grid[i0, j0 + 1] * tx * (1 - ty)
             + grid[i0 + 1, j0] * (1 - tx) * ty + grid[i0 + 1, j0 + 1] * tx * ty)
        inside = (fx >= 0) & (fy >= 0) & (fx <= grid.shape[1] - 1) & (fy <= grid.shape[0] - 1)
        return np.where(inside, z, np.nan)


@dataclass(frozen=True)
class Foot:
    """A foot in the canonical frame; all lengths in mm.

    ``navicular_height_mm`` is the navicular height standing; ``sources`` says for
    each measurement whether it was given, estimated or measured on a scan.
    ``plantar_arch_mm`` is the sole's height under the arch apex when it is known
    (measured on a scan, or given as ``plantar_arch_height_mm``), and ``scan`` what the scan said (JSON-able: units, cleaning,
    side detection, measurements, 3D landmarks in the output frame).
    """

    foot_length_mm: float
    ball_width_mm: float
    heel_width_mm: float
    navicular_height_mm: float
    side: str | None
    outline: Polygon
    landmarks: dict[str, tuple[float, float]]
    sources: dict[str, str] = field(default_factory=dict)
    plantar: PlantarSurface | None = None
    plantar_arch_mm: float | None = None
    scan: dict | None = None

    @property
    def plantar_arch_height_mm(self) -> float:
        """Height of the sole skin under the arch apex (mm).

        Measured on a scan or given; otherwise navicular height less
        :data:`NAVICULAR_OVER_PLANTAR_MM` of bone and soft tissue.
        """
        if self.plantar_arch_mm is not None:
            return self.plantar_arch_mm
        return max(self.navicular_height_mm - NAVICULAR_OVER_PLANTAR_MM, 0.0)

    def to_json(self) -> dict:
        """Plain JSON-able dict; :func:`foot_from_json` reverses it."""
        data = asdict(self)
        data["outline"] = np.round(np.asarray(self.outline.exterior.coords)[:-1], 5).tolist()
        data["landmarks"] = {k: list(v) for k, v in self.landmarks.items()}
        return data


def foot_from_json(data: dict) -> Foot:
    """Rebuild a :class:`Foot` from :meth:`Foot.to_json` output."""
    plantar = data.get("plantar")
    return Foot(
        foot_length_mm=data["foot_length_mm"], ball_width_mm=data["ball_width_mm"],
        heel_width_mm=data["heel_width_mm"],
        navicular_height_mm=data.get("navicular_height_mm", data.get("arch_height_mm")),
        side=data["side"], outline=Polygon(data["outline"]),
        landmarks={k: tuple(v) for k, v in data["landmarks"].items()},
        sources=dict(data.get("sources", {})),
        plantar=None if plantar is None else PlantarSurface(
            plantar["x0"], plantar["y0"], plantar["step_mm"],
            tuple(tuple(r) for r in plantar["z"])),
        plantar_arch_mm=data.get("plantar_arch_mm"),
        scan=data.get("scan"),
    )


def template_landmarks(outline: Polygon, length_mm: float, heel_width_mm: float,
                       arch_apex_frac: float = 0.42,
                       ball_length_mm: float | None = None) -> dict[str, tuple[float, float]]:
    """Landmarks placed on an outline by typical adult proportions.

    The heel centre is the centre of the heel curve (half a heel width ahead
    of the back of the heel, on the heel's midline); the arch apex sits
    three quarters of the way from the midline to the medial border. With a
    measured ``ball_length_mm`` (heel to the 1st metatarsal head) the 1st head
    is placed there and the 2nd-5th keep their distances from it along the foot
    (the template's metatarsal parabola moved as one); otherwise the 1st is at
    ``MTH_FRACS[0]`` (ANSUR II median) of the length.
    """
    shift = 0.0 if ball_length_mm is None else ball_length_mm / length_mm - MTH_FRACS[0]
    xs = np.linspace(0.0, length_mm, 1201)
    y_lat, y_med = width_profile(outline, xs)

    def at(frac_x: float, u: float) -> tuple[float, float]:
        x = frac_x * length_mm
        lo, hi = np.interp(x, xs, y_lat), np.interp(x, xs, y_med)
        centre, half = (lo + hi) / 2, (hi - lo) / 2
        return round(float(x), 3), round(float(centre + u * half), 3)

    marks = {"heel_centre": at(heel_width_mm / 2 / length_mm, 0.0),
             "arch_apex": at(arch_apex_frac, ARCH_APEX_U)}
    # Metatarsal heads spread across the ball, 1st medial to 5th lateral.
    for i, (frac, u) in enumerate(zip(MTH_FRACS, (0.62, 0.30, 0.0, -0.30, -0.62)), start=1):
        marks[f"mth{i}"] = at(frac + shift, u)
    marks["met5_base"] = at(MET5_BASE_FRAC, -0.80)
    return marks
