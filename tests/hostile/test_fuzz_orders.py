"""Issue 15: a property-based fuzz of whole orders through the command line, whose oracle
is the promise itself: exit 0 with a valid measured pair, or exit 2 with one line and
nothing written. Never exit 1, never anything else.

Orders are drawn over every field `generate` takes (foot, shoe size, conditions, side,
overrides in and out of range, resolution over its whole coarse range and beyond,
formats, engraving) with some values made hostile (out of range, not numbers, huge).
The files of an exit 0 are read back with trimesh and numpy, not insolegen's reader.

Budget in CI: ``FUZZ_EXAMPLES`` orders (derandomized, so every run draws the same ones;
about 1 s each at these resolutions). A longer run, random each time:
``python benchmarks/fuzz_orders.py --examples 500``.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import trimesh
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from stl.mesh import Mesh

from insolegen.foot.sizes import foot_length_from_size
from insolegen.prescription.parameters import PARAMS

from ._util import cli_inprocess, listing
from .test_properties import COMPATIBLE, SUBSETS, measurements, raw_overrides, repaired, tenths

FUZZ_EXAMPLES = int(os.environ.get("INSOLEGEN_FUZZ_EXAMPLES", "14"))
FUZZ = settings(max_examples=FUZZ_EXAMPLES,
                derandomize=not os.environ.get("INSOLEGEN_FUZZ_RANDOM"), deadline=None, database=None, print_blob=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])
HOSTILE = st.sampled_from(["", "nan", "-0", "1e309", "２６５", "0x10", "abc", "9" * 5000,
                           "250\n--force", "-5", "1e-300"])
FLAGS = {"foot_length_mm": "--foot-length", "ball_width_mm": "--ball-width",
         "heel_width_mm": "--heel-width", "navicular_height_mm": "--navicular-height",
         "shoe_size": "--shoe-size"}


@st.composite
def whole_orders(draw) -> list[str]:
    """``insolegen generate`` arguments (without ``--out``) of an order: three in four
    valid by construction (then refused only if the resolution is too coarse for the
    foot), the rest with one hostile part."""
    hostile = draw(st.integers(0, 3)) == 0
    part = draw(st.sampled_from(["measurement", "condition", "side", "override", "key",
                                 "resolution", "format"])) if hostile else None
    feet = draw(measurements())
    length = float(feet.get("foot_length_mm") or foot_length_from_size(feet["shoe_size"]))
    fields = {k: str(v) for k, v in feet.items()}
    if part == "measurement":
        fields[draw(st.sampled_from(sorted(FLAGS)))] = draw(HOSTILE)
    args = [a for k, v in fields.items() for a in (FLAGS[k], v)]
    names = draw(st.sampled_from(COMPATIBLE if part != "condition" else SUBSETS))
    conditions = ",".join(names)
    if part == "condition" and draw(st.booleans()):
        conditions = draw(st.sampled_from(["", "bogus", "flat_feet,,", "a" * 100, "Flat-Feet"]))
    side = draw(st.sampled_from(["both", "both", "left", "right"]))
    args += ["--condition", conditions, "--side", "middle" if part == "side" else side]
    overrides = draw(raw_overrides())
    if part != "override" and names in COMPATIBLE:
        overrides = repaired(names, overrides)
    for name, value in overrides.items():
        text = str(value).lower() if isinstance(value, bool) else str(value)
        args += ["--set", f"{name}={text}"]
    if part == "key":
        args += ["--set", draw(st.sampled_from(["nosuch=1", "=1", "arch_support_height_mm",
                                                f"{next(iter(PARAMS))}=1e400"]))]
    coarsest = max(1.5, min(5.0, length / 50))
    resolution = draw(st.one_of(tenths(1.5, coarsest), tenths(1.5, 5.0)))
    if part == "resolution":
        resolution = draw(st.one_of(HOSTILE, st.sampled_from(["0.29", "5.01", "0"])))
    args += ["--resolution-mm", str(resolution)]
    formats = draw(st.sampled_from(["stl", "stl", "stl,3mf", "stl,obj"]))
    args += ["--format", "gif" if part == "format" else formats]
    if draw(st.integers(0, 5)) == 0:
        args += ["--engrave"]
    return ["generate", "--id", "z1", *args]


def _valid_pair(out: Path) -> None:
    """The files of an exit 0, judged independently: every STL watertight, on z = 0 with
    the heel at x = 0; the left the exact mirror of the right (unless engraved); the report
    lists what is there."""
    report = json.loads((out / "z1.json").read_text(encoding="utf-8"))
    names = report["files"]
    assert names, report
    for side, name in names.items():
        mesh = trimesh.load(str(out / name), force="mesh")
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0, name
        lo = mesh.bounds[0]
        assert abs(lo[2]) <= 1e-3 and abs(lo[0]) <= 1e-3, (name, lo)
    if len(names) == 2 and not report["making"].get("engraving"):
        right = Mesh.from_file(str(out / names["right"])).vectors
        left = Mesh.from_file(str(out / names["left"])).vectors
        assert np.array_equal(right[:, ::-1] * np.array([1, -1, 1], np.float32), left)
    listed = set(report["making"]["sha256"]) | {"z1.json"}
    assert set(listing(out)) == listed, (listing(out), listed)


@FUZZ
@given(args=whole_orders())
def test_any_whole_order_is_made_or_refused_in_one_line(capsys, args):
    note(" ".join(args))
    with tempfile.TemporaryDirectory() as folder:
        out = Path(folder) / "out"
        result = cli_inprocess(capsys, *args, "--out", str(out))
        event(f"exit {result.code}")
        assert result.code in (0, 2), (result.code, result.err)
        if result.code == 2:
            assert len(result.err.splitlines()) == 1, result.err
            assert listing(out) == [], "exit 2 must write nothing"
        else:
            _valid_pair(out)

