"""A plate sliced by the real PrusaSlicer CLI, headless: every part printed where the manifest says.

The plate's 3MF is sliced as written (``--dont-arrange``: the slicer keeps
our placement) on a bed of the printer preset's size; the G-code's object
labels (``gcode_label_objects``) name the parts, the extrusion moves of
each object lie inside that part's footprint in ``plates.json``, and the
filament the slicer reports is less than the solid parts (15% infill) and
more than a tenth of them. Coarse insoles (5 mm plan), 0.3 mm layers: one
plate of two parts slices in about 3 s of CPU here.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import trimesh

from insolegen.batch.run import run_batch
from insolegen.plates.plate import make_plates
from insolegen.prescription.printers import printer

SLICER = shutil.which("prusa-slicer")
pytestmark = pytest.mark.skipif(SLICER is None, reason="prusa-slicer is not installed "
                                "(Debian package prusa-slicer; CI installs it)")

CONFIG = """\
bed_shape = 0x0,{x:g}x0,{x:g}x{y:g},0x{y:g}
max_print_height = {z:g}
nozzle_diameter = 0.4
filament_diameter = 1.75
layer_height = 0.3
first_layer_height = 0.3
perimeters = 2
top_solid_layers = 3
bottom_solid_layers = 3
fill_density = 15%
skirts = 1
skirt_distance = 3
gcode_label_objects = 1
use_relative_e_distances = 1
"""


def _extrusions(gcode: str) -> dict[str, np.ndarray]:
    """XY (k, 2) mm of every extruding move, by the object label it is printed under."""
    out: dict[str, list] = {}
    current, x, y = None, None, None
    for line in gcode.splitlines():
        if line.startswith("; printing object "):
            current = line[len("; printing object "):].split(" id:")[0]
        elif line.startswith("; stop printing object"):
            current = None
        elif line.startswith("G1 "):
            mx, my = re.search(r"X(-?[\d.]+)", line), re.search(r"Y(-?[\d.]+)", line)
            me = re.search(r" E(-?[\d.]+)", line)
            x = float(mx.group(1)) if mx else x
            y = float(my.group(1)) if my else y
            if current and me and float(me.group(1)) > 0 and (mx or my):
                out.setdefault(current, []).append((x, y))
    return {k: np.array(v) for k, v in out.items()}


def test_a_plate_slices_with_every_part_where_the_manifest_says(tmp_path):
    orders = [{"order_id": f"s{i}", "foot_length_mm": f, "conditions": "flat_feet",
               "resolution_mm": "5"} for i, f in enumerate(("205", "215"))]
    assert run_batch(orders, tmp_path / "b", workers=0, keep_results=False).exit_code == 0
    mk4 = printer("prusa_mk4")
    manifest = make_plates(tmp_path / "b", mk4, tmp_path / "plates")
    plate = manifest["plates"][0]
    parts = [e for e in manifest["parts"] if e["plate"] == plate["plate"]]
    assert len(parts) >= 2
    ini = tmp_path / "mk4.ini"
    x, y, z = mk4.bed_mm
    ini.write_text(CONFIG.format(x=x, y=y, z=z))
    gcode = tmp_path / "plate.gcode"
    proc = subprocess.run([SLICER, "--datadir", str(tmp_path / "conf"), "--loglevel", "1",
                           "--export-gcode", "--dont-arrange", "--load", str(ini),
                           str(tmp_path / "plates" / plate["file"]), "--output", str(gcode)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    text = gcode.read_text()
    moves = _extrusions(text)
    assert sorted(moves) == sorted(e["name"] for e in parts)  # one label per part, by name
    for entry in parts:
        x0, y0, x1, y1 = entry["footprint_bounds_mm"]
        xy = moves[entry["name"]]
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        # inside the footprint, and filling it to within a line width and the hull's slack
        assert lo[0] >= x0 - 0.05 and lo[1] >= y0 - 0.05, entry["name"]
        assert hi[0] <= x1 + 0.05 and hi[1] <= y1 + 0.05, entry["name"]
        assert np.all(np.abs(lo - (x0, y0)) < 1.5) and np.all(np.abs(hi - (x1, y1)) < 1.5)
    used = float(re.search(r"; filament used \[cm3\] = ([\d.]+)", text).group(1))
    solid = sum(trimesh.load(tmp_path / "b" / e["source"], file_type="stl").volume
                for e in parts) / 1000.0  # cm3
    assert 0.1 * solid < used < solid
    report = json.loads((tmp_path / "plates" / "plates.json").read_text())
    assert report["plates"][0]["sha256"] == plate["sha256"]
