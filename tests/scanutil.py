"""Shared helpers of the scan tests: the sample scans, variants built from them, and
measurements made without insolegen's own scan code (trimesh and plain numpy)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh
from scipy.spatial import Delaunay

from conftest import ROOT

SCANS = ROOT / "scans"
# file -> (side, units, index of the file's up axis), as scans/README.md states them.
SAMPLES = {
    "dupontgu_left_m.stl": ("left", "m", 2),
    "dupontgu_right_m.stl": ("right", "m", 2),
    "makehuman_left_mm_yup.obj": ("left", "mm", 1),
}
MM_PER = {"mm": 1.0, "cm": 10.0, "in": 25.4, "m": 1000.0}
MEASURES = ("foot_length_mm", "ball_width_mm", "heel_width_mm", "plantar_arch_height_mm",
            "dorsal_height_50_mm", "ball_length_mm")


def sample_mesh(name: str) -> trimesh.Trimesh:
    """A sample scan as a trimesh mesh with its corners merged, in the file's units."""
    return trimesh.load(str(SCANS / name), force="mesh", process=True)


def write(mesh: trimesh.Trimesh, path: Path) -> Path:
    mesh.export(str(path))
    return path


def transformed(mesh: trimesh.Trimesh, matrix: np.ndarray) -> trimesh.Trimesh:
    """``mesh`` moved by a 4x4 ``matrix`` (faces re-wound if it mirrors)."""
    out = mesh.copy()
    out.apply_transform(matrix)
    return out


def mirrored(mesh: trimesh.Trimesh) -> trimesh.Trimesh:
    return transformed(mesh, np.diag([-1.0, 1.0, 1.0, 1.0]))


def holed(mesh: trimesh.Trimesh, fraction: float, seed: int = 0) -> trimesh.Trimesh:
    """``mesh`` with ``fraction`` of its faces deleted at random."""
    keep = np.random.default_rng(seed).random(len(mesh.faces)) >= fraction
    return trimesh.Trimesh(mesh.vertices, mesh.faces[keep], process=False)


def noisy(mesh: trimesh.Trimesh, sigma_mm: float, unit_mm: float, seed: int = 0
          ) -> trimesh.Trimesh:
    """Gaussian noise of ``sigma_mm`` on every vertex."""
    rng = np.random.default_rng(seed)
    return trimesh.Trimesh(mesh.vertices + rng.normal(0, sigma_mm / unit_mm, mesh.vertices.shape),
                           mesh.faces, process=False)


def with_floor(mesh: trimesh.Trimesh, up: int, unit_mm: float, gap_mm: float = 0.3
               ) -> trimesh.Trimesh:
    """``mesh`` standing on a floor: a triangulated plate reaching well beyond it,
    ``gap_mm`` under its lowest point, facing up."""
    lo, hi = mesh.bounds
    centre, size = (lo + hi) / 2, float((hi - lo).max())
    a, b = [i for i in range(3) if i != up]
    g = np.linspace(-1.0, 1.0, 50)
    ga, gb = np.meshgrid(g, g)
    plate = np.zeros((ga.size, 3))
    plate[:, a] = centre[a] + 0.8 * size * ga.ravel()
    plate[:, b] = centre[b] + 0.6 * size * gb.ravel()
    plate[:, up] = lo[up] - gap_mm / unit_mm
    faces = Delaunay(plate[:, [a, b]]).simplices
    corners = plate[faces]
    normals = np.cross(corners[:, 1] - corners[:, 0], corners[:, 2] - corners[:, 0])
    faces = np.where((normals[:, up] < 0)[:, None], faces[:, ::-1], faces)
    return trimesh.util.concatenate([mesh, trimesh.Trimesh(plate, faces, process=False)])


def horizontal_extents(mesh: trimesh.Trimesh, up: int, unit_mm: float) -> tuple[float, float]:
    """Length and width (mm) of a scan standing with axis ``up`` vertical: its extents
    along the principal axes of its surface (area-sampled), projected on the floor."""
    points = mesh.sample(200_000, seed=0) * unit_mm
    plan = np.delete(points, up, axis=1)
    plan = plan - plan.mean(axis=0)
    axes = np.linalg.eigh(plan.T @ plan)[1]
    extents = np.ptp(plan @ axes, axis=0)
    return float(extents[1]), float(extents[0])


def lowest_z(triangles: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Lowest z where a vertical line through each (k, 2) point meets (m, 3, 3)
    triangles; NaN where it meets none."""
    a, b, c = triangles[:, 0], triangles[:, 1], triangles[:, 2]
    det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    ok = np.abs(det) > 1e-12
    a, b, c, det = a[ok], b[ok], c[ok], det[ok]
    out = np.full(len(xy), np.nan)
    for k, (px, py) in enumerate(xy):
        l1 = ((px - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (py - a[:, 1])) / det
        l2 = ((b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (px - a[:, 0]) * (b[:, 1] - a[:, 1])) / det
        hit = (l1 >= 0) & (l2 >= 0) & (l1 + l2 <= 1)
        if hit.any():
            z = a[hit, 2] + l1[hit] * (b[hit, 2] - a[hit, 2]) + l2[hit] * (c[hit, 2] - a[hit, 2])
            out[k] = z.min()
    return out


def highest_z(triangles: np.ndarray, xy: np.ndarray) -> np.ndarray:
    """Highest z where a vertical line through each point meets the triangles."""
    flipped = triangles * np.array([1.0, 1.0, -1.0])
    return -lowest_z(flipped, xy)
