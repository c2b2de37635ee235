"""A real slicer prints the zones at their densities (PrusaSlicer 2.5 CLI, headless).

One coarse right insole (240 mm, 3 mm plan edges), sliced three times with
the same fixed settings (rectilinear infill, 0.3 mm layers, 2 perimeters,
3 top and 3 bottom solid layers, no extra solid infill near slopes or in
small areas): uniform at 40 % and at 10 % (the plain 3MF), and the zoned 3MF
of a soft heel (heel zone 10 %, every other zone 40 %). The saving of the
soft heel must be the uniform saving times the heel's share of the sparse
infill volume, within 15 %. That share is measured on the written zoned
3MF, not taken from the design: the part's top surface rasterised at
0.25 mm, each 0.3 mm layer's slice inset by the perimeters and kept 3
layers from the top and bottom, counted inside the heel modifier's own
footprint.
"""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
import shapely
from scipy import ndimage
from scipy.interpolate import LinearNDInterpolator
from shapely.geometry import Polygon

from conftest import make_pair
from test_zones import footprint, read_zoned

SLICER = shutil.which("prusa-slicer")
pytestmark = pytest.mark.skipif(SLICER is None, reason="prusa-slicer is not installed "
                                "(Debian package prusa-slicer; CI installs it)")
LAYER, PERIMETERS, WIDTH, SOLID_LAYERS = 0.3, 2, 0.45, 3
SETTINGS = ["--bed-shape", "0x0,320x0,320x320,0x320", "--center", "160,160", "--skirts", "0",
            "--layer-height", str(LAYER), "--first-layer-height", str(LAYER),
            "--perimeters", str(PERIMETERS), "--top-solid-layers", str(SOLID_LAYERS),
            "--bottom-solid-layers", str(SOLID_LAYERS), "--fill-pattern", "rectilinear",
            "--top-solid-min-thickness", "0", "--bottom-solid-min-thickness", "0",
            "--extrusion-width", str(WIDTH), "--solid-infill-below-area", "0",
            "--no-ensure-vertical-shell-thickness", "--filament-diameter", "1.75"]


def filament_mm(model, density: str, out) -> float:
    """Filament (mm) PrusaSlicer's G-code says it uses for ``model`` at ``density``."""
    gcode = out / f"{model.stem}_{density.rstrip('%')}.gcode"
    done = subprocess.run([SLICER, "--export-gcode", *SETTINGS, "--fill-density", density,
                           "--output", str(gcode), str(model)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    used = re.search(r"^; filament used \[mm\] = ([0-9.]+)$", gcode.read_text(), re.M)
    return float(used.group(1))


def sparse_volumes(path) -> tuple[float, dict[str, float]]:
    """Sparse-infill volume (mm^3) of the part and within each modifier, from the file.

    The part is its model volumes (the base and the top cover on it): its top at each plan
    point is the highest of their upward faces there."""
    (v, f, vols), = read_zoned(path).values()
    models = [(a, b) for a, b, m in vols if m["volume_type"] == "ModelPart"]
    modifiers = [(a, b, m) for a, b, m in vols if m["volume_type"] != "ModelPart"]
    px = 0.25
    everything = v[np.unique(np.concatenate([f[a:b + 1].ravel() for a, b in models]))]
    lo, hi = everything[:, :2].min(axis=0) - 1, everything[:, :2].max(axis=0) + 1
    X, Y = np.meshgrid(np.arange(lo[0], hi[0], px), np.arange(lo[1], hi[1], px), indexing="ij")
    Z = np.zeros_like(X)
    for first, last in models:
        part = f[first:last + 1]
        tri = v[part]
        up = part[np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])[:, 2] > 1e-9]
        ids = np.unique(up)
        plan = shapely.union_all([Polygon(t[:, :2]) for t in v[up]]).buffer(0)
        Z = np.maximum(Z, np.where(shapely.contains_xy(plan, X, Y), np.nan_to_num(
            LinearNDInterpolator(v[ids, :2], v[ids, 2])(X, Y)), 0.0))
    sparse = np.zeros_like(Z)
    for z in np.arange(LAYER / 2, Z.max(), LAYER):
        inside = Z > z
        inset = ndimage.distance_transform_edt(inside) * px > PERIMETERS * WIDTH
        keep = inside & inset & (Z > z + SOLID_LAYERS * LAYER) & (z > SOLID_LAYERS * LAYER)
        sparse += keep * LAYER * px * px
    zones = {m["name"]: float(sparse[shapely.contains_xy(footprint(v, f[a:b + 1]), X, Y)].sum())
             for a, b, m in modifiers}
    return float(sparse.sum()), zones


def test_soft_heel_saves_the_filament_its_zone_volume_predicts(tmp_path):
    stiff = {f"set.zone_{z}_infill_pct": "40" for z in ("arch", "forefoot", "met_heads",
                                                         "relief")}
    make_pair(tmp_path, side="right", foot_length_mm="240", resolution_mm="3.0",
              formats="3mf,zoned-3mf", **stiff, **{"set.zone_heel_infill_pct": "10"})
    zoned, plain = tmp_path / "t_zoned.3mf", tmp_path / "t.3mf"
    uniform_40 = filament_mm(plain, "40%", tmp_path)
    uniform_10 = filament_mm(plain, "10%", tmp_path)
    soft_heel = filament_mm(zoned, "40%", tmp_path)
    total, zones = sparse_volumes(zoned)
    heel = sum(vol for name, vol in zones.items() if name.startswith("zone heel"))
    assert 0.1 < heel / total < 0.6
    predicted = (uniform_40 - uniform_10) * heel / total
    saved = uniform_40 - soft_heel
    assert saved > 0
    assert saved == pytest.approx(predicted, rel=0.15), (saved, predicted, heel, total)
