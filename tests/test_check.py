"""Issue 5: ``insolegen check`` validates any STL or 3MF for printing.

What generate writes passes (exit 0); each kind of broken file is refused
with its own reason (exit 4): open, inverted, self-intersecting, too thin
for the material, larger than the bed, degenerate or duplicate faces.
Unreadable input stays a bad-input error (exit 2).
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest
import trimesh

from cli import main
from conftest import make_pair, run_cli
from insolegen.check.checkfile import check_file
from insolegen.core.errors import InputError
from insolegen.geometry.inspection import read_stl
from insolegen.check.printability import MATERIALS, bed_fit, parse_bed

FIELDS = {"conditions": "neutral", "foot_length_mm": 250, "resolution_mm": 2.0}


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    out = tmp_path_factory.mktemp("check")
    make_pair(out, formats="stl,3mf", **FIELDS)
    return out


@pytest.fixture(scope="module")
def insole(pair):
    """The right insole as (vertices, faces), merged as a reader sees it."""
    return read_stl(pair / "t_right.stl")


def write_stl(path, vertices, faces):
    trimesh.Trimesh(vertices, faces, process=False).export(str(path))
    return path


def problems(path, **kwargs) -> str:
    report = check_file(path, **kwargs)
    assert report["printable"] is False
    return " | ".join(p for b in report["bodies"] for p in b["problems"])


def test_generated_files_pass_with_a_verdict(pair):
    proc = run_cli("check", str(pair / "t.3mf"), "--bed", "250x210x220")
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    assert report["printable"] and report["verdict"].startswith("printable")
    assert proc.stderr.strip() == report["verdict"], "one-line verdict on stderr"
    for name in ("t_left.stl", "t_right.stl"):
        report["bodies"] += check_file(pair / name, bed=(250.0, 210.0, 220.0))["bodies"]
    assert len(report["bodies"]) == 4
    for body in report["bodies"]:
        assert body["printable"] and body["self_intersections"] == 0 and body["watertight"]
        assert body["min_thickness_mm"] >= 1.5 - 0.05 and body["fits_bed"]


def test_3mf_bodies_are_named_measured_and_compared_with_the_design(pair):
    report = check_file(pair / "t.3mf")
    assert [b["name"] for b in report["bodies"]] == ["t left", "t right"]
    for body in report["bodies"]:
        assert body["insole"]["as_designed"], body["insole"]


def test_open_mesh_is_refused(insole, tmp_path):
    v, f = insole
    assert "open mesh" in problems(write_stl(tmp_path / "open.stl", v, f[:-40]))


def test_inverted_faces_are_refused(insole, tmp_path):
    v, f = insole
    some = f.copy()
    some[::50] = some[::50, ::-1]
    assert "inconsistent winding" in problems(write_stl(tmp_path / "flip.stl", v, some))
    assert "inside out" in problems(write_stl(tmp_path / "inside.stl", v, f[:, ::-1]))


def test_self_intersecting_mesh_is_refused(insole, tmp_path):
    v, f = insole
    both = np.vstack([v, v + [40.0, 10.0, 2.0]])
    path = write_stl(tmp_path / "overlap.stl", both, np.vstack([f, f + len(v)]))
    text = problems(path)
    assert "self-intersecting" in text
    assert "open" not in text and "winding" not in text, "each shell alone is fine"


def test_insole_thinner_than_the_material_minimum_is_refused(tmp_path):
    make_pair(tmp_path, **{**FIELDS, "set.min_thickness_mm": 1.0})  # fine in pa12
    path = tmp_path / "t_right.stl"
    assert check_file(path, material_name="pa12")["printable"]
    text = problems(path, material_name="tpu")
    assert "too thin for tpu" in text and "1.2 mm" in text
    proc = run_cli("check", str(path), "--material", "tpu")
    assert proc.returncode == 4 and proc.stderr.startswith("NOT printable in tpu")
    assert proc.stderr.count("\n") == 1 and json.loads(proc.stdout)["printable"] is False


def test_insole_larger_than_the_bed_is_refused(pair, capsys):
    text = problems(pair / "t_left.stl", bed=(200.0, 150.0, 100.0))
    assert "larger than the bed" in text
    assert main(["check", str(pair / "t_left.stl"), "--bed", "200x150x100"]) == 4
    assert "larger than the bed" in capsys.readouterr().err


def test_degenerate_and_duplicate_faces_are_refused(tmp_path):
    box = trimesh.creation.box((20.0, 20.0, 5.0))
    f = np.vstack([box.faces, box.faces[:1]])
    assert "duplicate faces" in problems(write_stl(tmp_path / "dup.stl", box.vertices, f))
    v = np.vstack([box.vertices, [[0.0, 0.0, 10.0]]])
    f = np.vstack([box.faces, [[len(box.vertices), len(box.vertices), 0]]])
    assert "degenerate faces" in problems(write_stl(tmp_path / "degen.stl", v, f))


def test_a_plain_box_in_inches_is_read_in_mm(tmp_path):
    box = trimesh.creation.box((4.0, 2.0, 0.5))  # inches
    vertices = "".join(f'<vertex x="{x}" y="{y}" z="{z}"/>' for x, y, z in box.vertices)
    triangles = "".join(f'<triangle v1="{a}" v2="{b}" v3="{c}"/>' for a, b, c in box.faces)
    model = ('<?xml version="1.0"?><model unit="inch" xmlns="http://schemas.microsoft.com/'
             f'3dmanufacturing/core/2015/02"><resources><object id="7" type="model"><mesh>'
             f"<vertices>{vertices}</vertices><triangles>{triangles}</triangles></mesh></object>"
             '</resources><build><item objectid="7" transform="1 0 0 0 1 0 0 0 1 0 0 1"/>'
             "</build></model>")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("3D/3dmodel.model", model)
    path = tmp_path / "box.3mf"
    path.write_bytes(buffer.getvalue())
    report = check_file(path)
    assert report["printable"], report["verdict"]
    assert report["bodies"][0]["size_mm"] == pytest.approx([101.6, 50.8, 12.7])
    assert report["bodies"][0]["bottom_z_mm"] == pytest.approx(25.4 - 6.35)


def test_bed_fit_turns_a_long_part_diagonally():
    part = np.array([[0, 0], [260, 0], [260, 50], [0, 50]], float)
    fits, turn = bed_fit(part, 20.0, (250.0, 210.0, 220.0))
    assert fits and turn != 0.0
    assert bed_fit(part, 20.0, (300.0, 100.0, 220.0)) == (True, 0.0)
    assert bed_fit(part, 300.0, (300.0, 100.0, 220.0))[0] is False


@pytest.mark.parametrize("args, message", [
    (("nowhere.stl",), "no such file"),
    (("garbage.stl",), "not a readable STL"),
    (("garbage.3mf",), "not a readable 3MF"),
    (("ok.stl", "--bed", "250x210"), "bed = '250x210'"),
    (("ok.stl", "--material", "wood"), "material = 'wood'"),
])
def test_bad_input_is_exit_2_with_one_line(tmp_path, capsys, args, message):
    (tmp_path / "garbage.stl").write_bytes(b"\x00\x01 this is no mesh" * 10)
    (tmp_path / "garbage.3mf").write_bytes(b"PK\x03\x04 broken zip")
    box = trimesh.creation.box((10.0, 10.0, 5.0))
    write_stl(tmp_path / "ok.stl", box.vertices, box.faces)
    argv = ["check", *[str(tmp_path / a) if a.endswith((".stl", ".3mf")) else a for a in args]]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_material_and_bed_are_validated():
    assert set(MATERIALS) == {"pp", "eva", "pa12", "tpu"}
    assert all(m.source and 0.1 < m.density_g_cm3 < 1.5 for m in MATERIALS.values())
    assert parse_bed("250x210x220") == (250.0, 210.0, 220.0)
    with pytest.raises(InputError):
        parse_bed("0x210x220")
