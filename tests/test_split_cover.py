"""Issue 11: the top cover as its own body (--split-cover), measured on the written files.

The STLs are read by trimesh and numpy-stl, the 3MFs by zipfile and ElementTree, none of
it through insolegen's writers or readers. Tolerances: the cover thickness by vertical rays
within 0.05 mm of top_cover_thickness_mm where the part is at least the cover plus the
material's 1 mm minimum wall thick (8 mm in from the border); thinner, the base at least
that wall and the cover at least its 0.2 mm feather, within 0.01 mm; cover and base
volumes adding up to the one-piece file's within 0.1 % (they are built to 1e-6); the mirror
exact to the bit.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import zipfile
from xml.etree import ElementTree

import numpy as np
import pytest
import shapely
import trimesh
from shapely.geometry import Polygon

from conftest import load, make_pair, run_cli, stl_vectors

FIELDS = {"conditions": "flat_feet", "foot_length_mm": 255, "resolution_mm": 2.0}
NS = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"
SLICER = shutil.which("prusa-slicer")


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    split, whole = tmp_path_factory.mktemp("split"), tmp_path_factory.mktemp("whole")
    result = make_pair(split, split_cover="true",
                       formats="stl,3mf,zoned-3mf,zoned-3mf-orca", **FIELDS)
    make_pair(whole, formats="stl", **FIELDS)
    return result, split, whole


def test_split_files_replace_the_one_piece_stl_and_are_listed(made):
    result, split, _ = made
    names = sorted(p.name for p in split.iterdir())
    assert names == ["t.3mf", "t.json", "t_left_base.stl", "t_left_cover.stl",
                     "t_right_base.stl", "t_right_cover.stl", "t_zoned.3mf", "t_zoned_orca.3mf"]
    report = json.loads((split / "t.json").read_text())
    assert report["files"] == {"right_cover": "t_right_cover.stl", "right_base": "t_right_base.stl",
                               "left_cover": "t_left_cover.stl", "left_base": "t_left_base.stl"}
    assert set(report["making"]["sha256"]) == set(names) - {"t.json"}
    assert report["order"]["split_cover"] is True
    section = report["making"]["split_cover"]
    assert (section["cover_material"], section["base_material"]) == ("EVA", "PA12")
    assert {"right_cover", "right_base", "left_cover", "left_base"} <= set(result.files)


@pytest.mark.parametrize("side", ["left", "right"])
def test_cover_and_base_are_closed_and_add_up_to_the_one_piece_insole(made, side):
    _, split, whole = made
    cover, base = load(split / f"t_{side}_cover.stl"), load(split / f"t_{side}_base.stl")
    one = load(whole / f"t_{side}.stl")
    for mesh in (cover, base):
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    assert abs(base.bounds[0][2]) < 1e-4            # the base on the floor
    assert cover.bounds[0][2] > 0.3                  # the cover above it
    assert cover.volume + base.volume == pytest.approx(one.volume, rel=1e-3)
    assert np.allclose(cover.bounds[1], one.bounds[1], atol=1e-4)  # the top is the cover's
    # the interface is shared exactly: the base's top vertices are the cover's bottom ones
    up = base.vertices[base.faces[base.face_normals[:, 2] > 1e-6].ravel()]
    down = cover.vertices[cover.faces[cover.face_normals[:, 2] < -1e-6].ravel()]
    assert {tuple(r) for r in np.round(up, 5)} == {tuple(r) for r in np.round(down, 5)}


@pytest.mark.parametrize("part", ["cover", "base"])
def test_left_parts_are_exact_mirrors_of_the_right(made, part):
    _, split, _ = made
    right, left = stl_vectors(split / f"t_right_{part}.stl"), stl_vectors(split / f"t_left_{part}.stl")
    assert np.array_equal(right[:, ::-1] * np.array([1, -1, 1], np.float32), left)


def _crossings(mesh: trimesh.Trimesh, xy: np.ndarray) -> list[np.ndarray]:
    """Heights where vertical lines at ``xy`` (k, 2) cross the mesh's triangles (barycentric
    in plan, vertical faces skipped), distinct and sorted, per line."""
    tri = mesh.triangles
    a, b, c = tri[:, 0], tri[:, 1], tri[:, 2]
    det = (b[:, 0] - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (b[:, 1] - a[:, 1])
    ok = np.abs(det) > 1e-12
    a, b, c, det = a[ok], b[ok], c[ok], det[ok]
    out = []
    for px, py in xy:
        l1 = ((px - a[:, 0]) * (c[:, 1] - a[:, 1]) - (c[:, 0] - a[:, 0]) * (py - a[:, 1])) / det
        l2 = ((b[:, 0] - a[:, 0]) * (py - a[:, 1]) - (px - a[:, 0]) * (b[:, 1] - a[:, 1])) / det
        inside = (l1 >= 0) & (l2 >= 0) & (l1 + l2 <= 1)
        z = a[inside, 2] + l1[inside] * (b[inside, 2] - a[inside, 2]) \
            + l2[inside] * (c[inside, 2] - a[inside, 2])
        out.append(np.unique(np.round(z, 6)))
    return out


def _thickness(mesh, xy: np.ndarray) -> np.ndarray:
    """Top minus bottom (mm) of a single-layer mesh along vertical lines at ``xy``."""
    return np.array([h[-1] - h[0] if len(h) == 2 else np.nan for h in _crossings(mesh, xy)])


def test_cover_is_its_stated_thickness_where_the_part_has_room(made):
    result, split, whole = made
    c = result.design.params["top_cover_thickness_mm"]
    assert c == 1.5
    cover, one = load(split / "t_right_cover.stl"), load(whole / "t_right.stl")
    plan = Polygon(result.design.outline.exterior.coords).buffer(-8.0)
    xy = np.random.default_rng(11).uniform(plan.bounds[:2], plan.bounds[2:], (600, 2))
    xy = xy[shapely.contains_xy(plan, xy[:, 0], xy[:, 1])][:200]
    room = _thickness(one, xy) >= c + 1.0 + 0.2   # pa12's 1 mm wall under the full cover
    assert room.sum() > 100
    seen = _thickness(cover, xy[room])
    assert np.all(np.abs(seen - c) <= 0.05), seen[np.abs(seen - c) > 0.05]


def test_at_thin_edges_the_base_keeps_its_wall_and_the_cover_feathers(made):
    result, split, whole = made
    cover, base = load(split / "t_right_cover.stl"), load(split / "t_right_base.stl")
    one = load(whole / "t_right.stl")
    # the toe feather: stations along the front 12 % of the part, 3 mm in from the border
    plan = Polygon(result.design.outline.exterior.coords).buffer(-3.0)
    x0 = 0.88 * plan.bounds[2]
    xy = np.random.default_rng(5).uniform((x0, plan.bounds[1]), plan.bounds[2:], (800, 2))
    xy = xy[shapely.contains_xy(plan, xy[:, 0], xy[:, 1])][:150]
    t, tc, tb = _thickness(one, xy), _thickness(cover, xy), _thickness(base, xy)
    thin = t < 1.5 + 1.0
    assert thin.sum() >= 5 and t.min() < 2.0
    assert np.allclose(tc + tb, t, atol=1e-4)
    assert np.all(tb[thin] >= np.minimum(1.0, t[thin] - 0.2) - 0.01)
    assert np.all(tc >= 0.2 - 0.01)


def test_check_reads_the_two_part_3mf_as_glued_bodies(made):
    _, split, _ = made
    done = run_cli("check", str(split / "t.3mf"), "--design", str(split / "t.json"))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["printable"] and len(report["bodies"]) == 2
    assert all(b["watertight"] for b in report["bodies"])
    # placed on the plate in its vertices, each body still measures as designed
    assert all(b["insole"]["as_designed"] for b in report["bodies"]), report["bodies"]


def _parts_3mf(path):
    """Per object name: its material names and, per PrusaSlicer volume, (name, meta, mesh,
    material names its triangles carry); read with zipfile and ElementTree only."""
    with zipfile.ZipFile(path) as archive:
        root = ElementTree.fromstring(archive.read("3D/3dmodel.model"))
        config = ElementTree.fromstring(archive.read("Metadata/Slic3r_PE_model.config"))
    groups = {g.get("id"): [b.get("name") for b in g.iter(f"{NS}base")]
              for g in root.iter(f"{NS}basematerials")}
    objects = {}
    for obj in root.iter(f"{NS}object"):
        v = np.array([[float(e.get(k)) for k in "xyz"] for e in obj.iter(f"{NS}vertex")])
        tris = list(obj.iter(f"{NS}triangle"))
        f = np.array([[int(e.get(k)) for k in ("v1", "v2", "v3")] for e in tris])
        own = groups[obj.get("pid")][int(obj.get("pindex"))] if obj.get("pid") else None
        mats = [groups[e.get("pid")][int(e.get("p1"))] if e.get("pid") else own for e in tris]
        objects[obj.get("id")] = (obj.get("name"), v, f, mats)
    out = {}
    for obj in config.iter("object"):
        name, v, f, mats = objects[obj.get("id")]
        vols = []
        for vol in obj.iter("volume"):
            a, b = int(vol.get("firstid")), int(vol.get("lastid")) + 1
            meta = {e.get("key"): e.get("value") for e in vol.iter("metadata")}
            vols.append((meta["name"], meta, trimesh.Trimesh(v, f[a:b], process=True),
                         set(mats[a:b])))
        out[name] = vols
    return out, groups


@pytest.mark.parametrize("name", ["t.3mf", "t_zoned.3mf"])
def test_3mf_has_two_parts_per_side_with_their_materials(made, name):
    result, split, _ = made
    parts, groups = _parts_3mf(split / name)
    assert list(groups.values()) == [["PA12", "EVA"]]
    assert sorted(parts) == ["t left", "t right"]
    for side, vols in parts.items():
        bodies = [(n, meta, mesh, mats) for n, meta, mesh, mats in vols
                  if meta["volume_type"] == "ModelPart"]
        assert [n for n, *_ in bodies] == ["base", "cover"]
        stl = {n: load(split / f"t_{side.split()[1]}_{n}.stl") for n in ("base", "cover")}
        for n, meta, mesh, mats in bodies:
            assert mesh.is_watertight and mesh.is_winding_consistent
            assert mats == {"PA12" if n == "base" else "EVA"} and meta["material"] in mats
            assert mesh.volume == pytest.approx(stl[n].volume, rel=1e-6)
        modifiers = [n for n, meta, *_ in vols if meta["volume_type"] == "ParameterModifier"]
        assert (len(modifiers) == len(result.design.infill)) if "zoned" in name else not modifiers


def test_orca_zoned_3mf_has_base_and_cover_parts_with_materials(made):
    _, split, _ = made
    with zipfile.ZipFile(split / "t_zoned_orca.3mf") as archive:
        root = ElementTree.fromstring(archive.read("3D/3dmodel.model"))
        settings = ElementTree.fromstring(archive.read("Metadata/model_settings.config"))
    objects = {o.get("id"): o for o in root.iter(f"{NS}object")}
    for obj in settings.iter("object"):
        normal = [p for p in obj.iter("part") if p.get("subtype") == "normal_part"]
        assert [{m.get("key"): m.get("value") for m in p.iter("metadata")}["name"]
                for p in normal] == ["base", "cover"]
        assert [objects[p.get("id")].get("pindex") for p in normal] == ["0", "1"]
        for p in normal:
            o = objects[p.get("id")]
            v = np.array([[float(e.get(k)) for k in "xyz"] for e in o.iter(f"{NS}vertex")])
            f = np.array([[int(e.get(k)) for k in ("v1", "v2", "v3")]
                          for e in o.iter(f"{NS}triangle")])
            assert trimesh.Trimesh(v, f).is_watertight


@pytest.mark.skipif(SLICER is None, reason="prusa-slicer is not installed")
@pytest.mark.parametrize("formats", ["3mf", "zoned-3mf"])
def test_prusaslicer_loads_two_parts_and_slices(tmp_path, formats):
    make_pair(tmp_path, side="both", split_cover="true", formats=formats,
              **{**FIELDS, "resolution_mm": 3.0})
    model = next(tmp_path.glob("*.3mf"))
    info = subprocess.run([SLICER, "--info", str(model)], capture_output=True, text=True,
                          timeout=300)
    assert info.returncode == 0, info.stderr[-2000:]
    assert re.findall(r"number_of_parts =\s*(\d+)", info.stdout) == ["2", "2"]
    assert re.findall(r"manifold = (\w+)", info.stdout) == ["yes", "yes"]
    gcode = tmp_path / "out.gcode"
    done = subprocess.run([SLICER, "--export-gcode", "--gcode-label-objects",
                           "--bed-shape", "0x0,400x0,400x400,0x400", "--center", "200,200",
                           "--layer-height", "0.3", "--first-layer-height", "0.3",
                           "--output", str(gcode), str(model)],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    text = gcode.read_text()
    assert len(re.findall(r"^G1 ", text, re.M)) > 10000
    assert {m for m in re.findall(r"; printing object (t (?:left|right))", text)} \
        == {"t left", "t right"}


@pytest.mark.parametrize("args, says", [
    (["--format", "stl,obj"], "formats = 'obj' cannot carry a separate cover"),
    (["--format", "png"], "formats = 'png' cannot carry a separate cover"),
    (["--format", "stl,lattice-stl"], "formats = 'lattice-stl'"),
    (["--set", "top_cover_thickness_mm=0"], "top_cover_thickness_mm = 0"),
    (["--base", "functional_shell", "--condition", "plantar_fasciitis"],
     "top_cover_thickness_mm = 0"),
    (["--engrave"], "not with engrave"),
])
def test_split_cover_it_cannot_make_is_refused_in_one_line(tmp_path, args, says):
    out = tmp_path / "out"
    argv = ["generate", "--foot-length", "255", "--resolution-mm", "3", "--split-cover",
            "--out", str(out), *args]
    if "--condition" not in args:
        argv += ["--condition", "flat_feet"]
    done = run_cli(*argv)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and says in lines[0] and "split_cover" in lines[0], lines
    assert not out.exists() or not any(out.iterdir())


def test_batch_rows_split_the_cover_per_order(tmp_path):
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,conditions,foot_length_mm,resolution_mm,split_cover\n"
                      "A,flat_feet,250,3,true\nB,flat_feet,250,3,\nC,flat_feet,250,3,maybe\n")
    done = run_cli("batch", str(orders), "--out", str(tmp_path / "night"), "--workers", "1",
                   timeout=300)
    assert done.returncode == 3, done.stderr  # C is refused, the others made
    assert "split_cover = 'maybe': expected true or false" in done.stderr
    a = sorted(p.name for p in (tmp_path / "night" / "A").iterdir())
    b = sorted(p.name for p in (tmp_path / "night" / "B").iterdir())
    assert a == ["A.json", "A_left_base.stl", "A_left_cover.stl", "A_right_base.stl",
                 "A_right_cover.stl"]
    assert b == ["B.json", "B_left.stl", "B_right.stl"]


def test_every_3mf_carries_the_cover_as_a_part_and_the_stl_stays_one_solid(tmp_path):
    """Without --split-cover: the STL is one solid per side, the 3MF two parts per side."""
    make_pair(tmp_path, formats="stl,3mf", **FIELDS)
    assert sorted(p.name for p in tmp_path.iterdir()) == \
        ["t.3mf", "t.json", "t_left.stl", "t_right.stl"]
    parts, groups = _parts_3mf(tmp_path / "t.3mf")
    assert list(groups.values()) == [["PA12", "EVA"]]
    for side, vols in parts.items():
        assert [n for n, *_ in vols] == ["base", "cover"]
        stl = load(tmp_path / f"t_{side.split()[1]}.stl")
        assert all(mesh.is_watertight for _, _, mesh, _ in vols)
        assert sum(mesh.volume for _, _, mesh, _ in vols) == pytest.approx(stl.volume, rel=1e-6)
    report = json.loads((tmp_path / "t.json").read_text())
    assert report["making"]["cover_part"]["in"] == ["t.3mf"]
    assert "split_cover" not in report["making"]


def test_an_engraved_part_stays_one_body_in_the_3mf(tmp_path):
    make_pair(tmp_path, formats="stl,3mf", engrave="true", **FIELDS)
    with zipfile.ZipFile(tmp_path / "t.3mf") as archive:
        names = archive.namelist()
        root = ElementTree.fromstring(archive.read("3D/3dmodel.model"))
    assert "Metadata/Slic3r_PE_model.config" not in names
    assert not list(root.iter(f"{NS}basematerials"))
    assert len(list(root.iter(f"{NS}object"))) == 2  # one body per side


@pytest.mark.skipif(SLICER is None, reason="prusa-slicer is not installed")
def test_prusaslicer_keeps_the_cover_on_its_base(tmp_path):
    """PrusaSlicer's own export of the loaded 3MF: each part where the STL says it is
    relative to the other (within 0.01 mm), the cover on top of the base."""
    make_pair(tmp_path, side="right", formats="stl,3mf", **{**FIELDS, "resolution_mm": 3.0})
    exported = tmp_path / "back.stl"
    done = subprocess.run([SLICER, "--export-stl", "--output", str(exported),
                           str(tmp_path / "t.3mf")], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    back = load(exported)
    stl = load(tmp_path / "t_right.stl")
    assert np.allclose(np.ptp(back.bounds, axis=0), np.ptp(stl.bounds, axis=0), atol=0.01)
    assert back.volume == pytest.approx(stl.volume, rel=1e-4)
