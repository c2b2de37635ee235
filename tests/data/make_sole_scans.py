"""Deterministic plantar and foam-box scans made from the real full scans (nothing committed).

Used by tests/test_scan_kinds.py. From the real scans of scans/ (dupontgu, MIT: metres,
Z up, sole near z = 0):

- :func:`lower_envelope`: the scan's surface sampled (seeded) and, per 1 mm cell of
  the XY plane, the lowest point: the faces seen from below;
- :func:`plantar_scan`: that envelope as a height-field mesh (a node per cell, two
  triangles per cell whose four nodes are in the foot's shadow), plus a flat surround at
  the contact level (z = 0) from 2 mm outside the shadow out to 40 mm beyond it: the
  sole seen through glass;
- :func:`foam_box`: a box 60 mm deep whose top (z = 0) has each foot's lower envelope
  pressed in 55 mm (cavity floor at envelope - 55 where that is below the top), feet side
  by side 40 mm apart, with four walls (open below, as a scanner sees it): the
  negative of the soles;
- :func:`posed`: the mesh turned (a rotation about a tilted axis), mirrored in X,
  rescaled (mm per file unit), given Gaussian noise and holes (faces whose centre is
  within a few disks of the plan dropped), all seeded.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

SCANS = Path(__file__).resolve().parents[2] / "scans"
STEP_MM = 1.0
PRESS_MM = 55.0
BOX_DEPTH_MM = 60.0


def real_foot(side: str) -> trimesh.Trimesh:
    """The real scan of ``side`` in mm, sole at z = 0, as the file has it otherwise."""
    mesh = trimesh.load(str(SCANS / f"dupontgu_{side}_m.stl"))
    mesh.apply_scale(1000.0)
    mesh.apply_translation([0, 0, -mesh.bounds[0, 2]])
    return mesh


def lower_envelope(mesh: trimesh.Trimesh, origin: np.ndarray, shape: tuple[int, int]
                   ) -> np.ndarray:
    """(rows, cols) lowest z per cell centred on ``origin + (j, i) * STEP_MM``; NaN off it."""
    points, _ = trimesh.sample.sample_surface(mesh, 600_000, seed=7)
    j = np.round((points[:, 0] - origin[0]) / STEP_MM).astype(int)
    i = np.round((points[:, 1] - origin[1]) / STEP_MM).astype(int)
    ok = (i >= 0) & (i < shape[0]) & (j >= 0) & (j < shape[1])
    z = np.full(shape, np.inf)
    np.minimum.at(z, (i[ok], j[ok]), points[ok, 2])
    z[~np.isfinite(z)] = np.nan
    return z


def _grid_mesh(origin: np.ndarray, z: np.ndarray, cell_ok: np.ndarray) -> tuple[np.ndarray,
                                                                                 np.ndarray]:
    rows, cols = z.shape
    jj, ii = np.meshgrid(np.arange(cols), np.arange(rows))
    vertices = np.column_stack([origin[0] + jj.ravel() * STEP_MM,
                                origin[1] + ii.ravel() * STEP_MM, np.nan_to_num(z.ravel())])
    i, j = np.nonzero(cell_ok)
    a, b, c, d = i * cols + j, i * cols + j + 1, (i + 1) * cols + j + 1, (i + 1) * cols + j
    faces = np.vstack([np.column_stack([a, b, c]), np.column_stack([a, c, d])])
    return vertices, faces


def _cells(nodes: np.ndarray) -> np.ndarray:
    """Cells whose four corner nodes are all set."""
    return nodes[:-1, :-1] & nodes[1:, :-1] & nodes[1:, 1:] & nodes[:-1, 1:]


def plantar_scan(side: str = "right") -> trimesh.Trimesh:
    """The real foot's sole seen from below in a flat surround at z = 0 (mm)."""
    from scipy import ndimage
    mesh = real_foot(side)
    origin = mesh.bounds[0, :2] - 40.0
    shape = tuple(int(v) for v in np.ceil((mesh.bounds[1, :2][::-1] - origin[::-1] + 40.0)
                                          / STEP_MM) + 1)
    z = lower_envelope(mesh, origin, shape)
    foot = np.isfinite(z)
    foot = ndimage.binary_closing(foot, iterations=2) & foot
    surround = ~ndimage.binary_dilation(foot, iterations=2)
    parts = []
    for nodes, heights in ((foot, z), (surround, np.zeros_like(z))):
        parts.append(trimesh.Trimesh(*_grid_mesh(origin, heights, _cells(nodes)),
                                     process=False))
    return trimesh.util.concatenate(parts)


def foam_box(sides: tuple[str, ...] = ("left", "right")) -> trimesh.Trimesh:
    """A foam box with the real feet's soles pressed in, side by side (mm, top at z = 0)."""
    feet = [real_foot(s) for s in sides]
    # Lay the feet side by side along X, 40 mm apart, each foot's own pose kept.
    x = 0.0
    for mesh in feet:
        mesh.apply_translation([x - mesh.bounds[0, 0], -mesh.bounds[0, 1], 0])
        x = mesh.bounds[1, 0] + 40.0
    lo = np.min([m.bounds[0, :2] for m in feet], axis=0) - 30.0
    hi = np.max([m.bounds[1, :2] for m in feet], axis=0) + 30.0
    shape = tuple(int(v) for v in np.ceil((hi - lo)[::-1] / STEP_MM) + 1)
    envelope = np.fmin.reduce([lower_envelope(m, lo, shape) for m in feet])
    top = np.where(np.isfinite(envelope), np.minimum(envelope - PRESS_MM, 0.0), 0.0)
    vertices, faces = _grid_mesh(lo, top, _cells(np.ones(shape, bool)))
    rows, cols = shape
    ring = np.r_[np.arange(cols), np.arange(1, rows) * cols + cols - 1,
                 (rows - 1) * cols + np.arange(cols - 2, -1, -1),
                 np.arange(rows - 2, 0, -1) * cols]
    below = vertices[ring] - [0, 0, BOX_DEPTH_MM]
    base = len(vertices)
    k = np.arange(len(ring))
    a, b = ring, np.roll(ring, -1)
    c, d = base + np.roll(k, -1), base + k
    walls = np.vstack([np.column_stack([a, d, c]), np.column_stack([a, c, b])])
    vertices = np.vstack([vertices, below])
    return trimesh.Trimesh(vertices, np.vstack([faces, walls]), process=False)


def posed(mesh: trimesh.Trimesh, turn: float = 0.0, mirror: bool = False,
          mm_per_unit: float = 1.0, noise_mm: float = 0.0, holes: int = 0, seed: int = 0
          ) -> trimesh.Trimesh:
    """The mesh turned ``turn`` radians about a tilted axis, mirrored in X, in a unit of
    ``mm_per_unit``, with vertex noise and ``holes`` 8 mm holes (faces dropped)."""
    rng = np.random.default_rng(seed)
    mesh = mesh.copy()
    if holes:
        centres = mesh.triangles_center[rng.choice(len(mesh.faces), holes, replace=False)]
        near = np.zeros(len(mesh.faces), bool)
        for c in centres:
            near |= np.linalg.norm(mesh.triangles_center[:, :2] - c[:2], axis=1) < 4.0
        mesh.update_faces(~near)
    if noise_mm:
        mesh.vertices = mesh.vertices + rng.normal(scale=noise_mm, size=mesh.vertices.shape)
    if mirror:
        mesh.apply_transform(np.diag([-1.0, 1.0, 1.0, 1.0]))
    if turn:
        mesh.apply_transform(trimesh.transformations.rotation_matrix(turn, [0.4, 1.0, 0.3]))
    mesh.apply_scale(1.0 / mm_per_unit)
    return mesh
