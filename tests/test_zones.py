"""Density zones: from the conditions, overridable, written as slicer modifiers in a 3MF.

The zoned 3MF is read back with the standard library's zip and XML parsers:
the modifier prisms' footprints are rebuilt from their own triangles and
measured with shapely, independently of the zone code.
"""

from __future__ import annotations

import json
import zipfile
from xml.etree import ElementTree

import numpy as np
import pytest
import shapely
import trimesh
from shapely.geometry import Polygon

from conftest import load, make_pair, run_cli
from insolegen.core.errors import InputError
from insolegen.pipeline.order import order_from_mapping

NS = "{http://schemas.microsoft.com/3dmanufacturing/core/2015/02}"
FIELDS = {"foot_length_mm": "240", "resolution_mm": "3.0"}


def read_zoned(path):
    """Per object: the mesh (vertices, faces) and its PrusaSlicer volumes (first, last, meta)."""
    with zipfile.ZipFile(path) as archive:
        root = ElementTree.fromstring(archive.read("3D/3dmodel.model"))
        config = ElementTree.fromstring(archive.read("Metadata/Slic3r_PE_model.config"))
    meshes = {}
    for obj in root.iter(f"{NS}object"):
        v = np.array([[float(e.get(k)) for k in "xyz"] for e in obj.iter(f"{NS}vertex")])
        f = np.array([[int(e.get(k)) for k in ("v1", "v2", "v3")]
                      for e in obj.iter(f"{NS}triangle")])
        meshes[obj.get("id")] = (obj.get("name"), v, f)
    out = {}
    for obj in config.iter("object"):
        name, v, f = meshes[obj.get("id")]
        vols = [(int(vol.get("firstid")), int(vol.get("lastid")),
                 {m.get("key"): m.get("value") for m in vol.iter("metadata")})
                for vol in obj.iter("volume")]
        out[name] = (v, f, vols)
    return out


def footprint(v, f) -> Polygon:
    """Plan footprint of a prism: the union of its flat (top and bottom) triangles."""
    tri = v[f]
    flat = tri[np.ptp(tri[:, :, 2], axis=1) == 0]
    return shapely.union_all([Polygon(t[:, :2]) for t in flat]).buffer(0)


@pytest.fixture(scope="module")
def zoned(tmp_path_factory):
    out = tmp_path_factory.mktemp("zoned")
    make_pair(out, conditions="plantar_fasciitis", formats="stl,zoned-3mf,zoned-3mf-orca",
              **FIELDS, **{"set.zone_heel_infill_pct": "12"})
    return out


def test_zones_partition_the_insole_with_the_conditions_densities(zoned):
    objects = read_zoned(zoned / "t_zoned.3mf")
    assert set(objects) == {"t left", "t right"}
    for side in ("left", "right"):
        v, f, vols = objects[f"t {side}"]
        models = [(a, b, m) for a, b, m in vols if m["volume_type"] == "ModelPart"]
        modifiers = [(a, b, m) for a, b, m in vols if m["volume_type"] != "ModelPart"]
        # the insole's two model parts first: the base, then the top cover on it
        assert [m["name"] for _, _, m in models] == ["base", "cover"] == \
            [m["name"] for _, _, m in vols[:2]]
        stl = load(zoned / f"t_{side}.stl")
        bodies = [trimesh.Trimesh(v, f[a:b + 1]) for a, b, _ in models]
        assert all(b.is_watertight for b in bodies)
        # together they are the STL's solid: the same volume (1e-6) and extent (1e-4 mm)
        assert sum(b.volume for b in bodies) == pytest.approx(stl.volume, rel=1e-6)
        part = np.vstack([b.vertices for b in bodies])
        assert np.allclose(np.ptp(part, axis=0), np.ptp(stl.vertices, axis=0), atol=1e-4)
        plan = shapely.MultiPoint(part[:, :2]).convex_hull
        zones = [(m["name"], m["fill_density"], footprint(v, f[a:b + 1]))
                 for a, b, m in modifiers]
        assert all(m["volume_type"] == "ParameterModifier" and m["modifier"] == "1"
                   for _, _, m in modifiers)
        total = sum(z.area for _, _, z in zones)
        union = shapely.union_all([z for _, _, z in zones])
        assert union.area == pytest.approx(total, rel=1e-3)  # no two zones overlap
        # together they cover the insole's plan (its outline less nothing): area within 1 %
        top_area = stl.area_faces[stl.face_normals[:, 2] < -0.99].sum()  # the flat bottom
        assert total == pytest.approx(top_area, rel=0.01)
        assert union.within(plan.buffer(0.5))
        density = {n.split()[1].split("_")[0]: d for n, d, _ in zones}
        assert density["heel"] == "12%"          # --set override
        assert density["arch"] == "45%"          # plantar fasciitis: firm arch
        assert density["relief"] == "10%"        # the heel spur recess
        heel = shapely.union_all([z for n, _, z in zones if n.startswith("zone heel")])
        length = np.ptp(part[:, 0])
        assert heel.bounds[2] - part[:, 0].min() == pytest.approx(0.30 * 240, abs=0.5)
        assert heel.bounds[2] - part[:, 0].min() < 0.4 * length


def test_orca_file_has_one_modifier_part_per_zone(zoned):
    with zipfile.ZipFile(zoned / "t_zoned_orca.3mf") as archive:
        root = ElementTree.fromstring(archive.read("3D/3dmodel.model"))
        config = ElementTree.fromstring(archive.read("Metadata/model_settings.config"))
    meshes = {o.get("id") for o in root.iter(f"{NS}object") if o.find(f"{NS}mesh") is not None}
    for obj in config.iter("object"):
        built = root.find(f"{NS}resources/{NS}object[@id='{obj.get('id')}']")
        components = [c.get("objectid") for c in built.iter(f"{NS}component")]
        parts = list(obj.iter("part"))
        assert [p.get("id") for p in parts] == components
        assert set(components) <= meshes
        kinds = [p.get("subtype") for p in parts]
        # the base and the top cover, then the zones
        assert kinds[:2] == ["normal_part"] * 2 and set(kinds[2:]) == {"modifier_part"}
        dens = {m.get("value") for p in parts[2:] for m in p.iter("metadata")
                if m.get("key") == "sparse_infill_density"}
        assert "12%" in dens and "45%" in dens


@pytest.mark.parametrize("name", ["t_zoned.3mf", "t_zoned_orca.3mf"])
def test_check_reads_a_zoned_3mf_without_its_modifiers(zoned, name):
    """The zone prisms are slicer settings, not material: check leaves them out, finds the
    order's design beside the file and each side printable and as designed."""
    done = run_cli("check", str(zoned / name))
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert [b["name"] for b in report["bodies"]] == ["t left", "t right"]
    for body in report["bodies"]:
        assert body["printable"] and body["watertight"], body
        assert body["insole"]["design"].endswith("t.json")
        assert body["insole"]["as_designed"], body["insole"]
        stl = load(zoned / f"t_{body['name'].split()[1]}.stl")
        assert body["insole"]["measured"]["volume_mm3"] == pytest.approx(stl.volume, rel=1e-4)


def test_a_config_volume_without_its_range_is_refused_in_one_line(zoned, tmp_path):
    bad = tmp_path / "bad.3mf"
    with zipfile.ZipFile(zoned / "t_zoned.3mf") as src, zipfile.ZipFile(bad, "w") as out:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "Metadata/Slic3r_PE_model.config":
                data = data.replace(b'firstid="', b'first="', 3)
            out.writestr(info, data)
    done = run_cli("check", str(bad))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        f"insolegen: error: file = '{bad}': Metadata/Slic3r_PE_model.config: a volume "
        "without firstid/lastid"]


def test_zones_none_makes_a_uniform_part_and_refuses_zoned_files(tmp_path):
    result = make_pair(tmp_path, formats="stl", zones="none", **FIELDS)
    assert result.design.infill == ()
    with pytest.raises(InputError, match="formats = 'zoned-3mf': needs density zones"):
        order_from_mapping({"order_id": "t", "conditions": "neutral", "zones": "none",
                            "formats": "zoned-3mf", **FIELDS})
    done = run_cli("generate", "--foot-length", "240", "--condition", "neutral", "--zones",
                   "some", "--out", str(tmp_path / "x"))
    assert done.returncode == 2
    assert done.stderr.strip().splitlines() == [
        "insolegen: error: zones = 'some': expected one of auto, none"]
    assert not (tmp_path / "x").exists()


def test_zone_parameter_range_is_checked_at_the_door():
    with pytest.raises(InputError, match=r"zone_heel_infill_pct = '150': out of range, "
                                         r"expected a number from 5 to 100"):
        order_from_mapping({"order_id": "t", "conditions": "neutral",
                            "set.zone_heel_infill_pct": "150", **FIELDS})


def test_a_base_sets_its_zones_and_an_override_still_wins(tmp_path):
    result = make_pair(tmp_path / "a", base="diabetic", formats="zoned-3mf", **FIELDS)
    objects = read_zoned(tmp_path / "a" / "t_zoned.3mf")
    v, f, vols = objects["t right"]
    density = {m["name"].split()[1].split("_")[0]: m["fill_density"] for _, _, m in vols
               if m["volume_type"] == "ParameterModifier"}
    assert density["met"] == "10%" and density["forefoot"] == "15%"
    assert any(n.startswith("zone_met_heads_infill_pct = 10.0 from base diabetic")
               for n in result.design.prescription.notes)
    result = make_pair(tmp_path / "b", base="diabetic", **FIELDS,
                       **{"set.zone_met_heads_infill_pct": "8"})
    assert {r.name.split("_")[0]: r.density for r in result.design.infill}["met"] == 0.08
