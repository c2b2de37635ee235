"""Additions change the written mesh where and by how much their parameters say, leave the
rest alone, and combine with every condition and base without opening the solid."""

from __future__ import annotations

import io

import numpy as np
import pytest
import trimesh

from conftest import CONDITIONS, load
from insolegen.core.errors import InputError
from insolegen.design.additions import ADDITIONS, TAPER_MM, parse_additions, ray_band
from insolegen.pipeline.job import generate, render
from insolegen.pipeline.order import order_from_mapping
from insolegen.prescription.bases import available as bases_available
from scanutil import highest_z

FOOT = {"foot_length_mm": "265", "ball_width_mm": "99", "heel_width_mm": "70"}
KID_FOOT = {"foot_length_mm": "200", "ball_width_mm": "80", "heel_width_mm": "56"}


def _order(additions=None, **extra):
    data = {"order_id": "a", "side": "right", "conditions": "neutral", "resolution_mm": "2",
            **FOOT, **extra}
    if additions:
        data["additions"] = additions
    return order_from_mapping(data)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    out = tmp_path_factory.mktemp("plain")
    result = generate(_order(), out)
    return result.design, load(out / "a_right.stl")


def _probe(d, name, q):
    """(where the addition acts, its expected change in mm, a point it must leave alone)."""
    m = d.landmarks
    if name == "morton_extension":
        return (m["mth1"][0] + 15, m["mth1"][1]), q["thickness_mm"], m["mth4"]
    if name == "reverse_morton":
        return (m["mth3"][0] + 15, m["mth3"][1]), q["thickness_mm"], m["mth1"]
    if name in ("kinetic_wedge", "first_ray_cutout"):
        return m["mth1"], -q["depth_mm"], m["mth4"]
    if name == "cuboid_pad":
        bx, by = m["met5_base"]
        return (bx - q["behind_mm"], by + q["inward_mm"]), q["height_mm"], m["mth1"]
    if name == "medial_forefoot_post":
        return m["mth1"], q["height_mm"], m["mth5"]
    if name == "lateral_forefoot_post":
        return m["mth5"], q["height_mm"], m["mth1"]
    if name == "heel_lift":
        return m["heel_centre"], q["height_mm"], m["mth2"]
    if name == "soft_plug":
        return m[q["at"]], -q["depth_mm"], m["mth2"]
    raise AssertionError(name)


SPECS = ["morton_extension:thickness_mm=4", "reverse_morton", "kinetic_wedge:depth_mm=1.5",
         "first_ray_cutout", "cuboid_pad:height_mm=5", "medial_forefoot_post:to_ray=2",
         "lateral_forefoot_post:from_ray=4,height_mm=2", "heel_lift:height_mm=8",
         "soft_plug:depth_mm=1.5,diameter_mm=22"]


def test_every_addition_is_tested():
    assert {s.split(":")[0] for s in SPECS} == set(ADDITIONS)


@pytest.mark.parametrize("spec", SPECS)
def test_addition_changes_the_file_where_and_by_how_much_it_says(tmp_path, plain, spec):
    base_design, base_mesh = plain
    result = generate(_order(spec), tmp_path)
    mesh = load(tmp_path / "a_right.stl")
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert abs(mesh.bounds[0][2]) < 1e-4  # still on z = 0
    (name, q), = parse_additions(spec)
    at, change, away = _probe(result.design, name, q)
    pts = np.array([at, away, base_design.landmarks["arch_apex"]], float)
    if name == "cuboid_pad":
        pts[2] = base_design.landmarks["heel_centre"]
    if name == "heel_lift":  # it fades out through the arch
        pts[2] = base_design.landmarks["mth4"]
    new = highest_z(mesh.triangles, pts)
    old = highest_z(base_mesh.triangles, pts)
    assert new[0] - old[0] == pytest.approx(change, abs=0.2)  # where, and by how much
    assert abs(new[1] - old[1]) < 0.05 and abs(new[2] - old[2]) < 0.05  # the rest alone
    # Volume changes by about the addition's own height field integrated over the plan.
    assert (mesh.volume - base_mesh.volume) * np.sign(change) > 0


def test_ray_bands_cover_the_forefoot_without_overlap(plain):
    d, _ = plain
    bands = [ray_band(d, range(i, i + 1)) for i in range(1, 6)]
    for (lo_a, _), (_, hi_b) in zip(bands, bands[1:]):
        assert lo_a == pytest.approx(hi_b)  # ray i's lateral edge is ray i+1's medial one
    for i, (lo, hi) in enumerate(bands, 1):
        assert lo < d.landmarks[f"mth{i}"][1] < hi
    assert TAPER_MM < min(hi - lo for lo, hi in bands[1:4])


@pytest.fixture(scope="module")
def pairs() -> list[tuple[str, str]]:
    """(condition, base) pairs covering every condition and every base, each pair one the
    bases' own rules accept (a diabetic base takes no posting)."""
    def ok(condition, base):
        try:
            order_from_mapping({"order_id": "c", "conditions": condition, "base": base, **FOOT})
            return True
        except InputError:
            return False
    out = []
    for base in bases_available():
        out.append((next(c for c in CONDITIONS if ok(c, base)), base))
    for condition in CONDITIONS:
        if all(c != condition for c, _ in out):
            out.append((condition, next(b for b in bases_available() if ok(condition, b))))
    return out


@pytest.mark.parametrize("spec", SPECS)
def test_addition_combines_with_every_condition_and_base(spec, pairs):
    refused = 0
    for condition, base in pairs:
        order = order_from_mapping({"order_id": "c", "side": "right", "conditions": condition,
                                    "base": base, "resolution_mm": "4",
                                    **(KID_FOOT if base == "kids" else FOOT),
                                    "additions": spec})
        try:
            rendered = render(order)  # self-checked: closed, on z = 0, as designed, printable
        except InputError as exc:  # a documented rule, never a broken solid
            assert any(rule in str(exc) for rule in ("needs insole_length", "would leave",
                                                     "lifts", "raises ray")), str(exc)
            refused += 1
            continue
        mesh = trimesh.load(io.BytesIO(rendered.files["c_right.stl"]), file_type="stl")
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert refused < len(pairs)
    assert {c for c, _ in pairs} == set(CONDITIONS)


@pytest.mark.parametrize("specs, message", [
    ("morton_extension;first_ray_cutout", "both act on ray 1"),
    ("medial_forefoot_post:to_ray=3;lateral_forefoot_post:from_ray=3", "both act on ray 3"),
    ("heel_lift;heel_lift", "given twice"),
    ("heel_lift:height_mm=11", "out of range"),
    ("heel_lift:height=5", "unknown parameter of heel_lift; did you mean 'height_mm'"),
    ("mortons_extension", "did you mean 'morton_extension'"),
    ("medial_forefoot_post:to_ray=1.5", "whole number"),
    ("soft_plug:at=knee", "expected one of heel_centre"),
    ("cuboid_pad:height_mm", "is not key=value"),
])
def test_bad_additions_are_refused_at_the_door(specs, message):
    with pytest.raises(InputError, match=message):
        _order(specs)


@pytest.mark.parametrize("fields, message", [
    ({"additions": "morton_extension", "set.insole_length": "sulcus"}, "needs insole_length full"),
    ({"additions": "heel_lift:height_mm=8", "set.heel_lift_mm": "4"}, "at most 10 in all"),
    ({"additions": "first_ray_cutout:depth_mm=4"}, "below min_thickness_mm"),
])
def test_rules_that_need_the_design_are_refused(fields, message):
    with pytest.raises(InputError, match=message):
        render(_order(**fields))


def test_soft_plug_is_a_separate_body_filling_its_recess_in_the_3mf(tmp_path, plain):
    base_design, base_mesh = plain
    spec = "soft_plug:at=mth1,depth_mm=2,diameter_mm=18"
    result = generate(_order(spec, formats="stl,3mf"), tmp_path)
    scene = trimesh.load(str(tmp_path / "a.3mf"))
    names = sorted(scene.geometry)
    assert any(n.endswith("soft plug at mth1") for n in names), names
    plug = next(g for n, g in scene.geometry.items() if "right soft plug" in n)
    assert plug.is_watertight and plug.is_winding_consistent
    assert plug.volume == pytest.approx(np.pi * 9.0 ** 2 * 2.0, rel=0.03)
    # Set in its recess (both in the insole's own frame) it is flush with the surface.
    insole = load(tmp_path / "a_right.stl")
    centre = np.array([result.design.landmarks["mth1"]])
    top_before = highest_z(base_mesh.triangles, centre)[0]
    floor = highest_z(insole.triangles, centre)[0]
    assert top_before - floor == pytest.approx(2.0, abs=0.1)
    pv = plug.vertices
    assert pv[:, 2].max() - pv[:, 2].min() == pytest.approx(2.0, abs=0.2)
    # the 3MF places the insole (its parts) and its plug on the plate by the same move
    placed = next(g for n, g in scene.geometry.items() if n.endswith("a right"))
    move = placed.bounds[0] - insole.bounds[0]
    assert move[2] == pytest.approx(0.0, abs=1e-6)
    assert np.hypot(*(plug.bounds.mean(axis=0)[:2] - move[:2] - centre[0])) < 0.5  # landmark
    assert plug.bounds[1][0] - plug.bounds[0][0] == pytest.approx(18.0, abs=0.2)


@pytest.mark.parametrize("name", list(ADDITIONS))
def test_every_addition_source_is_a_publication_or_a_stated_convention(name):
    from test_citations import _ok
    assert ADDITIONS[name].sources
    assert [s for s in ADDITIONS[name].sources if not _ok(s)] == []
