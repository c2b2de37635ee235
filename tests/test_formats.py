"""Issue 5: the pair as STL (binary / ASCII), 3MF and OBJ, read back by trimesh.

Every format carries the same geometry: volumes within 0.1% of the STL's,
the 3MF in millimetres with the pair as two named objects side by side on
the plate; and the same order always gives the same bytes.
"""

from __future__ import annotations

import zipfile

import numpy as np
import pytest
import trimesh

from conftest import load, make_pair, stl_vectors
from test_zones import read_zoned
from insolegen.core.errors import InputError
from insolegen.pipeline.order import FORMATS, order_from_mapping
from insolegen.pipeline.job import render

FIELDS = {"conditions": "overpronation", "foot_length_mm": 255, "resolution_mm": 2.0}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    out = tmp_path_factory.mktemp("formats")
    result = make_pair(out, formats="stl,3mf,obj", **FIELDS)
    return result, out


def test_formats_field_knows_every_format():
    assert set(FORMATS) == {"stl", "3mf", "obj", "png", "pdf", "zoned-3mf", "zoned-3mf-orca",
                            "lattice-stl"}
    with pytest.raises(InputError, match="formats = 'step'"):
        order_from_mapping({"order_id": "t", **FIELDS, "formats": "stl,step"})


def test_3mf_declares_millimetres_and_names_both_sides(pair):
    _, out = pair
    with zipfile.ZipFile(out / "t.3mf") as archive:
        names = set(archive.namelist())
        model = archive.read("3D/3dmodel.model").decode("utf-8")
    assert {"[Content_Types].xml", "_rels/.rels", "3D/3dmodel.model"} <= names
    assert 'unit="millimeter"' in model
    assert 'name="t left"' in model and 'name="t right"' in model


def test_3mf_loads_back_in_trimesh_with_the_stl_geometry(pair):
    _, out = pair
    scene = trimesh.load(str(out / "t.3mf"))
    assert set(scene.geometry) == {"t left", "t right"}
    parts = read_zoned(out / "t.3mf")  # PrusaSlicer's volumes: the base, then the top cover
    for side in ("left", "right"):
        mesh = scene.geometry[f"t {side}"]
        stl = load(out / f"t_{side}.stl")
        v, f, vols = parts[f"t {side}"]
        assert [m["name"] for _, _, m in vols] == ["base", "cover"]
        bodies = [trimesh.Trimesh(v, f[a:b + 1]) for a, b, _ in vols]
        assert all(b.is_watertight and b.is_winding_consistent for b in bodies)
        assert sum(b.volume for b in bodies) == pytest.approx(stl.volume, rel=1e-6)
        assert mesh.volume == pytest.approx(stl.volume, rel=1e-3)
        # the same solid, placed on the plate: the same extent, the bottom on z = 0
        assert np.allclose(np.ptp(mesh.bounds, axis=0), np.ptp(stl.bounds, axis=0), atol=1e-4)
        assert mesh.bounds[0, 2] == pytest.approx(0.0, abs=1e-6)


def test_3mf_places_the_pair_side_by_side_without_overlap(pair):
    _, out = pair
    scene = trimesh.load(str(out / "t.3mf"))
    placed = {}
    for node in scene.graph.nodes_geometry:
        transform, name = scene.graph[node]
        placed[name] = scene.geometry[name].copy().apply_transform(transform).bounds
    left, right = placed["t left"], placed["t right"]
    assert left[0, 2] == pytest.approx(0.0, abs=1e-6) and right[0, 2] == pytest.approx(0, abs=1e-6)
    assert left[0, 1] > right[1, 1] + 5.0, "left beside the right (+Y), a gap between"
    assert min(left[0, 0], right[0, 0]) >= -1e-6 and min(left[0, 1], right[0, 1]) >= -1e-6


def test_obj_loads_back_with_the_stl_volume(pair):
    _, out = pair
    for side in ("left", "right"):
        mesh = trimesh.load(str(out / f"t_{side}.obj"), force="mesh", process=False)
        stl = load(out / f"t_{side}.stl")
        assert mesh.is_watertight and mesh.is_winding_consistent
        assert mesh.volume == pytest.approx(stl.volume, rel=1e-3)
        assert len(mesh.faces) == len(stl.faces)


def test_ascii_stl_has_the_binary_coordinates(pair, tmp_path):
    result, out = pair
    make_pair(tmp_path, ascii_stl="true", **FIELDS)
    text = (tmp_path / "t_right.stl").read_bytes()
    assert text.startswith(b"solid ") and text.rstrip().endswith(b"mm")
    assert np.array_equal(stl_vectors(tmp_path / "t_right.stl"), stl_vectors(out / "t_right.stl"))
    assert load(tmp_path / "t_left.stl").is_volume


def test_without_stl_in_formats_no_stl_is_written(tmp_path):
    result = make_pair(tmp_path, formats="3mf", **FIELDS)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["t.3mf", "t.json"]
    assert set(result.files) == {"3mf", "report"}


def test_same_order_same_bytes(pair):
    """Rendered again (as a batch worker does), every file is byte for byte the same;
    tests/test_preview.py checks the same across processes."""
    _, out = pair
    again = render(order_from_mapping({"order_id": "t", "side": "both", **FIELDS,
                                       "formats": "stl,3mf,obj"}))
    assert len(again.files) == 6
    for name, data in again.files.items():
        assert (out / name).read_bytes() == data, name
