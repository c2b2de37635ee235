"""Properties over the whole parameter space: any valid order gives a good insole, and any
order at all gives either a good insole or an InputError, never anything else.

"Good" is judged on the files as written, read back with trimesh (not with
insolegen's own reader): watertight and consistently wound, a positive
volume, resting on z = 0 with the heel at x = 0, the left file the exact
mirror of the right, and every feature measured on the file within the
tolerances of :mod:`insolegen.tolerances` of what the design report says.

Known geometry bugs are listed in ``KNOWN_BUGS`` with the exact inputs that
show them (see ``test_known_bug_still_reproduces``); the properties accept
only that failure, only in that region, and only with nothing written.
"""

from __future__ import annotations

import ast
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

from insolegen.errors import InputError, InsolegenError
from insolegen.inspection import measure
from insolegen.order import order_from_mapping
from insolegen.parameters import PARAMS
from insolegen.pipeline import compare, generate
from insolegen.profiles import available, prescribe
from insolegen.sizes import SYSTEMS, foot_length_from_size
from insolegen.tolerances import TOL

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
        from insolegen.order import Order
        from insolegen.printability import material
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
        size = draw(st.integers(math.ceil(low * 2), math.floor(high * 2))) / 2
        fields["shoe_size"] = f"{system} {size:g}"
        length = foot_length_from_size(fields["shoe_size"])
    else:
        length = draw(tenths(150, 350))
        fields["foot_length_mm"] = length
    ball = round(0.376 * length, 2)
    if draw(st.booleans()):
        ball = draw(tenths(max(0.28 * length, 50), min(0.50 * length, 150)))
        fields["ball_width_mm"] = ball
    if draw(st.booleans()):
        fields["heel_width_mm"] = draw(tenths(max(0.45 * ball, 35), min(1.0 * ball, 110)))
    if draw(st.booleans()):
        fields["arch_height_mm"] = draw(tenths(max(0.05 * length, 10), min(0.30 * length, 80)))
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


# ---------------------------------------------------------------- known geometry bugs


def _foot(data: dict) -> tuple[float, float, float]:
    length = data.get("foot_length_mm") or foot_length_from_size(data["shoe_size"])
    ball = data.get("ball_width_mm", round(0.376 * length, 2))
    heel = data.get("heel_width_mm", round(ball * 0.269 / 0.376, 2) if "ball_width_mm" in data
                    else round(0.269 * length, 2))
    return length, ball, heel


def _wide_square_foot(data: dict, params: dict | None, exc: BaseException) -> bool:
    length, ball, heel = _foot(data)
    return (isinstance(exc, AttributeError) and "MultiPolygon" in str(exc)
            and ball / length >= 0.47 and heel / ball >= 0.93)


def _failing_features(exc: BaseException) -> set[str]:
    """Features the pipeline's self-check found off the design (empty if not that error)."""
    text = str(exc)
    if type(exc) is not InsolegenError or "does not measure as designed: " not in text:
        return set()
    return set(ast.literal_eval(text.split("does not measure as designed: ", 1)[1]))


# Measurement misses the self-check reports, with when they may happen and what they touch.
MISMEASURED = {
    # The heel spur recess (24 mm, placed by foot length) covers most of the heel seat disk
    # (0.2 heel widths) on small feet, so seat plane, cup depth and tilt miss the design.
    "heel-recess-covers-heel-seat": (
        lambda data, p: bool(p["heel_spur_relief"]),
        {"heel_seat_height_mm", "heel_cup_depth_mm", "rearfoot_tilt_deg"},
        {"order_id": "k2", "conditions": "plantar_fasciitis", "foot_length_mm": 150}),
    # A steep medial edge feature at the arch apex (narrow heel, edge raise or flange), on a
    # coarse plan mesh: linear triangles miss the smooth design surface by more than 0.5 mm.
    "coarse-mesh-misses-steep-arch-edge": (
        lambda data, p: float(data.get("resolution_mm", 1.0)) >= 2.5
        and (p["medial_edge_raise_mm"] > 0 or p["medial_flange_mm"] > 0),
        {"arch_height_mm", "arch_peak_height_mm"},
        {"order_id": "k4", "conditions": "overpronation", "foot_length_mm": 266.8,
         "ball_width_mm": 74.8, "heel_width_mm": 35, "set": {"medial_edge_raise_mm": 10},
         "side": "right", "resolution_mm": 2.9}),
    # A heel nearly half as wide as the foot is long: the cup's fade-out (from 0.22 of the
    # length) starts inside the heel curve, and the rim at the back misses its depth.
    "wide-heel-on-a-short-foot": (
        lambda data, p: _foot(data)[2] / _foot(data)[0] >= 0.44,
        {"heel_cup_depth_mm", "rearfoot_tilt_deg", "heel_seat_height_mm"},
        {"order_id": "k5", "conditions": "flat_feet", "foot_length_mm": 150.1,
         "ball_width_mm": 72, "heel_width_mm": 70.8}),
}


def _mismeasured(data: dict, params: dict | None, exc: BaseException) -> str | None:
    features = _failing_features(exc)
    if not features or params is None:
        return None
    used = [name for name, (applies, touches, _) in MISMEASURED.items()
            if applies(data, params) and features & touches]
    explained = set().union(*(MISMEASURED[n][1] for n in used))
    return "+".join(used) if used and features <= explained else None


KNOWN_BUGS = {
    # The template outline self-intersects (shapely gives a MultiPolygon) for wide, square
    # feet: ball width near half the length and heel width near the ball width.
    "wide-square-foot-outline": (
        lambda data, params, exc: "wide-square-foot-outline" if _wide_square_foot(
            data, params, exc) else None,
        {"order_id": "k1", "conditions": "neutral", "foot_length_mm": 200,
         "ball_width_mm": 99, "heel_width_mm": 98, "resolution_mm": 3}),
    **{name: (_mismeasured, example) for name, (_, _, example) in MISMEASURED.items()},
}


# Sulcus and three-quarter insoles: the resampled outline misses the rearmost point, so the
# heel of the written file sits up to ~0.04 mm ahead of x = 0 (full length: exactly 0).
HEEL_X_KNOWN_MM = 0.05
HEEL_OFF_X0 = {"order_id": "k3", "conditions": "neutral", "foot_length_mm": 200,
               "set": {"insole_length": "three_quarter"}, "resolution_mm": 3, "side": "right"}


def test_known_bug_heel_off_x0_still_reproduces(tmp_path):
    """Strict in the other direction: when the heel of a short insole is at x = 0 this fails,
    so that HEEL_X_KNOWN_MM and this test get removed."""
    generate(order_from_mapping(HEEL_OFF_X0), tmp_path)
    x0 = trimesh.load(tmp_path / "k3_right.stl", force="mesh").bounds[0][0]
    assert TOL.floor_mm < x0 <= HEEL_X_KNOWN_MM, "fixed? remove the heel-off-x0 carve-out"


def known_bug(data: dict, exc: BaseException) -> str | None:
    try:
        params = prescribe(data["conditions"], data.get("set")).parameters
    except InputError:
        params = None
    for matches, _ in KNOWN_BUGS.values():
        try:
            if name := matches(data, params, exc):
                return name
        except Exception:  # a predicate that cannot judge this failure does not excuse it
            continue
    return None


@pytest.mark.parametrize("name", list(KNOWN_BUGS))
@pytest.mark.xfail(strict=True, reason="known geometry bug; see KNOWN_BUGS (lead owns it)")
def test_known_bug_still_reproduces(tmp_path, name):
    """Strict: once the bug is fixed this XPASSes and fails, so its carve-out gets removed."""
    generate(order_from_mapping(KNOWN_BUGS[name][1]), tmp_path)


@pytest.mark.parametrize("name", list(KNOWN_BUGS))
def test_known_bug_failures_write_nothing_and_are_recognised(tmp_path, name):
    data = KNOWN_BUGS[name][1]
    with pytest.raises(Exception) as err:
        generate(order_from_mapping(data), tmp_path / "out")
    assert known_bug(data, err.value) == name
    assert listing(tmp_path / "out") == []


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
        if abs(x0) > TOL.floor_mm:
            short = report["design"]["params"]["insole_length"] != "full"
            assert short and 0 < x0 <= HEEL_X_KNOWN_MM, (side, mesh.bounds)
            event("known bug: heel-off-x0-short-insoles")
        assert abs((x1 - x0) - expected["insole_length_mm"]) <= TOL.length_mm
        down = mesh.face_normals[:, 2] < -0.999
        assert np.all(np.abs(mesh.vertices[mesh.faces[down]][..., 2]) <= TOL.floor_mm), \
            "every downward face lies on z = 0"
        measured = measure(np.asarray(mesh.vertices), np.asarray(mesh.faces), side, landmarks,
                           heel_w)
        checks = compare(measured, expected)
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
        try:
            generate(order, out)
        except InsolegenError as exc:
            if (bug := known_bug(data, exc)) is None:
                raise
            event(f"known bug: {bug}")
            assert listing(out) == []
            return
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
        except Exception as exc:
            if (bug := known_bug(data, exc)) is None:
                raise
            event(f"known bug: {bug}")
            assert listing(out) == []
            return
        event("insole written")
        check_written(out, order.order_id, order.sides)


@settings(PROPERTY, max_examples=200)
@given(measurements())
def test_any_valid_measurements_give_a_foot(fields):
    """Validation alone (cheap, so many examples): every generated foot is accepted."""
    data = {"order_id": "f1", "conditions": "neutral", **fields}
    try:
        order_from_mapping(data)
    except Exception as exc:
        if known_bug(data, exc) is None:
            raise
        event("known bug: wide-square-foot-outline")
