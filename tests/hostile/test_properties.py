"""Properties over the whole parameter space: any valid order gives a good insole, and any
order at all gives either a good insole or an InputError, never anything else.

"Good" is judged on the files as written, read back with trimesh (not with
insolegen's own reader): watertight and consistently wound, a positive
volume, resting on z = 0 with the heel at x = 0, the left file the exact
mirror of the right, and every feature measured on the file within the
tolerances of :mod:`insolegen.core.tolerances` of what the design report says.

Geometry bugs this suite found (self-crossing outlines of extreme feet, a
heel recess covering the heel seat of small feet, wide heels on short feet,
heels off x = 0 on short insoles) are fixed or refused at the door; the
regression cases are pinned in ``test_former_geometry_bugs``.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import numpy as np
import pytest
import trimesh
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st
from stl.mesh import Mesh

from insolegen.core.errors import InputError, InsolegenError
from insolegen.geometry.inspection import measure
from insolegen.pipeline.order import order_from_mapping
from insolegen.prescription.parameters import PARAMS
from insolegen.check.compare import compare
from insolegen.pipeline.job import generate
from insolegen.prescription.profiles import available, prescribe
from insolegen.foot.sizes import SYSTEMS, foot_length_from_size
from insolegen.core.tolerances import TOL

from ._util import listing

pytestmark = pytest.mark.timeout(240)

PROPERTY = settings(derandomize=True, deadline=None, database=None, print_blob=True,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CONDITIONS = available()
SUBSETS = [tuple(c for i, c in enumerate(CONDITIONS) if mask >> i & 1)
           for mask in range(1, 2 ** len(CONDITIONS))]


def _prescribable(names) -> bool:
    try:
        prescribe(names)
        return True
    except InputError:
        return False


COMPATIBLE = [s for s in SUBSETS if _prescribable(s)]
RECESSES = [f"mth{i}_relief_mm" for i in range(1, 6)] + ["met5_base_relief_mm",
                                                          "heel_recess_depth_mm"]


def _min_wall_mm() -> float:
    """The thinnest wall the default material prints (0 before materials existed)."""
    try:
        from insolegen.pipeline.order import Order
        from insolegen.check.printability import material
    except ImportError:
        return 0.0
    return material(Order.material).min_wall_mm


MIN_WALL_MM = _min_wall_mm()


# ---------------------------------------------------------------- strategies


def tenths(low: float, high: float):
    """Values in [low, high] on a 0.1 mm grid (what an order system sends)."""
    return st.integers(math.ceil(low * 10 - 1e-9), math.floor(high * 10 + 1e-9)).map(
        lambda i: i / 10)


@st.composite
def measurements(draw) -> dict:
    """Any foot the validators accept: length or shoe size, each width and the arch height
    given or left to the population ratios, every ratio in range."""
    fields: dict = {}
    if draw(st.integers(0, 4)) == 0:
        system = draw(st.sampled_from(sorted(SYSTEMS)))
        low, high = SYSTEMS[system][2:4]
        size = draw(st.integers(math.ceil(low * 2), math.floor(high * 2)).map(lambda i: i / 2)
                    .filter(lambda v: 150 <= foot_length_from_size(f"{system} {v:g}") <= 350))
        fields["shoe_size"] = f"{system} {size:g}"
        length = foot_length_from_size(fields["shoe_size"])
    else:
        length = draw(tenths(150, 350))
        fields["foot_length_mm"] = length
    ball = round(0.376 * length, 2)
    if draw(st.booleans()):
        ball = draw(tenths(max(0.28 * length, 50), min(0.48 * length, 150)))
        fields["ball_width_mm"] = ball
    low, high = max(0.45 * ball, 0.17 * length, 35), min(0.95 * ball, 0.40 * length, 110)
    if draw(st.booleans()) and math.ceil(low * 10 - 1e-9) <= math.floor(high * 10 + 1e-9):
        fields["heel_width_mm"] = draw(tenths(low, high))
    if draw(st.booleans()):
        fields["navicular_height_mm"] = draw(tenths(max(0.05 * length, 10),
                                                    min(0.30 * length, 80)))
    return fields


def value_of(param, draw):
    if param.kind is bool:
        return draw(st.booleans())
    if param.kind is str:
        return draw(st.sampled_from(param.choices))
    return draw(st.one_of(st.just(param.low), st.just(param.high),
                          st.floats(param.low, param.high).map(lambda v: round(v, 2))
                          .filter(lambda v: param.low <= v <= param.high)))


@st.composite
def raw_overrides(draw) -> dict:
    """Any set of in-range values, features switched on or not, cross-checks ignored."""
    names = draw(st.lists(st.sampled_from(list(PARAMS)), unique=True, max_size=10))
    return {n: value_of(PARAMS[n], draw) for n in names}


def repaired(conditions, overrides: dict) -> dict:
    """``overrides`` made valid: features of set values switched on, cross-checks met."""
    out = dict(overrides)
    for name in list(out):
        if PARAMS[name].feature:
            out[PARAMS[name].feature] = True
    p = {**prescribe(conditions).parameters, **out}
    stack = p["base_thickness_mm"] + p["top_cover_thickness_mm"]
    if p["min_thickness_mm"] > stack:
        out["min_thickness_mm"] = p["min_thickness_mm"] = min(stack, 5.0)
    if p["min_thickness_mm"] < MIN_WALL_MM:
        out["min_thickness_mm"] = p["min_thickness_mm"] = MIN_WALL_MM
    room = math.floor((stack - p["min_thickness_mm"]) * 100) / 100
    for name in RECESSES:
        if name == "heel_recess_depth_mm" and not p["heel_spur_relief"]:
            continue  # not cut, so not checked (and not to be set while off)
        if p[name] > room:
            out[name] = room
    if p["medial_heel_skive_mm"] > 0 and p["heel_cup_depth_mm"] < 14.0:
        out["heel_cup_depth_mm"] = 14.0
    return out


@st.composite
def valid_orders(draw) -> dict:
    conditions = draw(st.sampled_from(COMPATIBLE))
    return {"order_id": "p1", "conditions": ",".join(conditions), **draw(measurements()),
            "set": repaired(conditions, draw(raw_overrides())),
            "side": draw(st.sampled_from(["both", "both", "left", "right"])),
            "resolution_mm": draw(tenths(2.0, 3.0))}


@st.composite
def any_orders(draw) -> dict:
    conditions = draw(st.sampled_from(SUBSETS))
    return {"order_id": "p2", "conditions": ",".join(conditions), **draw(measurements()),
            "set": draw(raw_overrides()), "resolution_mm": draw(tenths(2.0, 3.0))}


# ---------------------------------------------------------------- former geometry bugs

FORMER_BUGS = {
    # the outline of a very wide, square foot crossed itself: now refused at the door
    "wide-square-foot": {"order_id": "k1", "conditions": "neutral", "foot_length_mm": 200,
                         "ball_width_mm": 99, "heel_width_mm": 98, "resolution_mm": 3},
    # a 24 mm recess covered the heel seat of a 150 mm foot: recesses now at most 0.35 heel
    "heel-recess-covers-heel-seat": {"order_id": "k2", "conditions": "plantar_fasciitis",
                                     "foot_length_mm": 150,
                                     "set": {"heel_recess_diameter_mm": 40}},
    # a coarse mesh missed a steep medial edge at the arch: tolerances now scale with edges
    "coarse-mesh-steep-arch-edge": {"order_id": "k4", "conditions": "neutral",
                                    "foot_length_mm": 164.4, "ball_width_mm": 52,
                                    "set": {"medial_flange_mm": 15}, "resolution_mm": 3},
    # a heel nearly half the foot long: heel width / length now at most 0.40
    "wide-heel-on-a-short-foot": {"order_id": "k5", "conditions": "flat_feet",
                                  "foot_length_mm": 150.1, "ball_width_mm": 72,
                                  "heel_width_mm": 70.8},
    # short insoles had the heel up to 0.04 mm off x = 0
    "heel-off-x0": {"order_id": "k3", "conditions": "neutral", "foot_length_mm": 200,
                    "set": {"insole_length": "three_quarter"}, "resolution_mm": 3,
                    "side": "right"},
    # a recess left 11 seat vertices on a small heel at 3 mm: the seat fit fell back to the
    # recess's own slopes (tilt -0.86 for 0); the seat disk now grows past the recess
    "recess-leaves-too-few-seat-vertices": {
        "order_id": "p1", "conditions": "plantar_fasciitis", "shoe_size": "Mondopoint 153",
        "heel_width_mm": 44.7, "resolution_mm": 3.0},
    "recess-on-a-posted-child-heel": {
        "order_id": "p2", "conditions": "flat_feet", "shoe_size": "EU 25", "heel_width_mm": 35.0,
        "resolution_mm": 2.8,
        "set": {"base_thickness_mm": 1.5, "top_cover_thickness_mm": 0.0,
                "min_thickness_mm": 1.0, "insole_length": "three_quarter", "heel_lift_mm": 0.0,
                "heel_recess_position_frac": 0.12, "toe_allowance_mm": 0.0,
                "arch_support_height_mm": 0.0, "heel_spur_relief": True,
                "heel_recess_depth_mm": 0.5}},
    # spur relief on with a 0 mm deep recess still left the seat out of the tilt fit: a
    # recess that cuts nothing is no longer an exclusion
    "zero-depth-recess-excluded-the-seat": {
        "order_id": "p3", "conditions": "flat_feet", "foot_length_mm": 150.0,
        "ball_width_mm": 65.4, "heel_width_mm": 57.4, "resolution_mm": 2.0,
        "set": {"insole_length": "three_quarter", "forefoot_post_deg": -8.0,
                "heel_recess_depth_mm": 0.0, "rearfoot_post_deg": 8.0,
                "heel_spur_relief": True}},
}

# Open: a heel 0.38 of the foot long, an 8 deg post and a real recess at 1.9 mm. The recess
# leaves only a lateral crescent of the seat disk, where this wide heel's seat is not the
# posted plane: 7.402 deg read for 8.0, tolerance 0.5 (docs/reliability.md, Known gaps).
# (At 2 mm it read 7.467 until three-quarter devices were cut along the metatarsal-head
# line: the plan's vertices in the heel moved, and 2 mm now reads 7.643.)
KNOWN_GAPS = {
    "wide-posted-heel-around-a-recess": {
        **FORMER_BUGS["zero-depth-recess-excluded-the-seat"], "order_id": "g1",
        "resolution_mm": 1.9,
        "set": {**FORMER_BUGS["zero-depth-recess-excluded-the-seat"]["set"],
                "heel_recess_depth_mm": 1.0}},
}


@pytest.mark.xfail(strict=True, raises=InsolegenError, reason="known gap: seat plane of a "
                   "wide posted heel measured around a recess (docs/reliability.md)")
@pytest.mark.parametrize("name", sorted(KNOWN_GAPS))
def test_known_gaps(tmp_path, name):
    order = order_from_mapping(KNOWN_GAPS[name])
    generate(order, tmp_path / "out")
    check_written(tmp_path / "out", order.order_id, order.sides)


@pytest.mark.parametrize("name", list(FORMER_BUGS))
def test_former_geometry_bugs(tmp_path, name):
    """Each former failure is now a good insole or a one-line InputError, nothing written."""
    data = FORMER_BUGS[name]
    out = tmp_path / "out"
    try:
        order = order_from_mapping(data)
    except InputError as exc:
        assert name in ("wide-square-foot", "wide-heel-on-a-short-foot"), exc
        assert "heel_width_mm" in str(exc) or "ball_width_mm" in str(exc)
        return
    generate(order, out)
    check_written(out, order.order_id, order.sides)


# ---------------------------------------------------------------- checking written files


def check_written(out: Path, order_id: str, sides: tuple[str, ...]) -> None:
    """Everything the properties promise, judged on the files in ``out``."""
    assert listing(out) == sorted([f"{order_id}.json", *(f"{order_id}_{s}.stl" for s in sides)])
    report = json.loads((out / f"{order_id}.json").read_text(encoding="utf-8"))
    expected = report["design"]["expected"]
    landmarks = {k: tuple(v) for k, v in report["design"]["landmarks"].items()}
    heel_w = report["design"]["foot"]["heel_width_mm"]
    for side in sides:
        mesh = trimesh.load(out / f"{order_id}_{side}.stl", force="mesh")
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.is_volume, side
        assert mesh.volume > 0, side
        (x0, _, z0), (x1, _, _) = mesh.bounds
        assert abs(z0) <= TOL.floor_mm, (side, mesh.bounds)
        assert abs(x0) <= TOL.floor_mm, (side, mesh.bounds)
        assert abs((x1 - x0) - expected["insole_length_mm"]) <= TOL.length_mm
        down = mesh.face_normals[:, 2] < -0.999
        assert np.all(np.abs(mesh.vertices[mesh.faces[down]][..., 2]) <= TOL.floor_mm), \
            "every downward face lies on z = 0"
        measured = measure(np.asarray(mesh.vertices), np.asarray(mesh.faces), side, landmarks,
                           heel_w, tuple(map(tuple, report["design"]["seat_exclusions"])))
        checks = compare(measured, expected, report["design"]["resolution_mm"])
        bad = {k: v for k, v in checks.items() if not v["ok"]}
        assert not bad, f"{side} does not measure as designed: {bad}"
    if len(sides) == 2:
        right = Mesh.from_file(str(out / f"{order_id}_right.stl")).vectors
        left = Mesh.from_file(str(out / f"{order_id}_left.stl")).vectors
        assert np.array_equal(right[:, ::-1] * np.array([1, -1, 1], np.float32), left)


# ---------------------------------------------------------------- the properties


@settings(PROPERTY, max_examples=30)
@given(valid_orders())
def test_any_valid_order_gives_a_watertight_insole_as_designed(data):
    note(repr(data))
    order = order_from_mapping(data)  # valid by construction: this must not raise
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        generate(order, out)
        event("insole written")
        check_written(out, order.order_id, order.sides)


@settings(PROPERTY, max_examples=30)
@given(any_orders())
def test_any_order_gives_an_insole_or_an_input_error(data):
    """Contradictory conditions, features set while off, cross-checks broken: InputError,
    one of ours, with the field named; never another exception, never a file."""
    note(repr(data))
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out"
        try:
            order = order_from_mapping(data)
            generate(order, out)
        except InputError as exc:
            event(f"refused: {str(exc).split(':')[0][:40]}")
            assert str(exc) and "\n" not in str(exc)
            assert listing(out) == []
            return
        event("insole written")
        check_written(out, order.order_id, order.sides)


@settings(PROPERTY, max_examples=200)
@given(measurements())
def test_any_valid_measurements_give_a_foot(fields):
    """Validation alone (cheap, so many examples): every generated foot is accepted."""
    data = {"order_id": "f1", "conditions": "neutral", **fields}
    order_from_mapping(data)
