"""Issue 6: reading scans in every accepted format and unit, and refusing bad files at the door."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import trimesh

from conftest import run_cli
from insolegen.core.errors import InputError, ScanError
from insolegen.scan.read import measure_scan
from insolegen.scan.load import MAX_ELEMENTS, read_scan
from scanutil import SCANS, sample_mesh, write

SMALL = "makehuman_left_mm_yup.obj"  # 2k triangles: quick


@pytest.fixture(scope="module")
def reference():
    return measure_scan(SCANS / SMALL)


@pytest.fixture(scope="module")
def mesh():
    return sample_mesh(SMALL)


@pytest.mark.parametrize("kind", ["stl", "stl_ascii", "obj", "ply", "ply_ascii"])
def test_every_mesh_format_measures_the_same(kind, mesh, reference, tmp_path):
    ext = {"stl_ascii": "stl", "ply_ascii": "ply"}.get(kind, kind)
    path = tmp_path / f"foot.{ext}"
    data = mesh.export(file_type="ply", encoding="ascii") if kind == "ply_ascii" \
        else mesh.export(file_type=kind)
    path.write_bytes(data.encode() if isinstance(data, str) else data)
    result = measure_scan(path)
    assert result["side"] == "left" and result["units_detected"] == "mm"
    for key in ("foot_length_mm", "ball_width_mm", "heel_width_mm"):
        assert result[key] == pytest.approx(reference[key], abs=0.2), key


@pytest.mark.parametrize("ext", ["ply", "xyz"])
def test_point_clouds_measure_like_the_mesh(ext, mesh, reference, tmp_path):
    cloud = mesh.sample(80_000, seed=1)
    path = tmp_path / f"cloud.{ext}"
    if ext == "xyz":
        np.savetxt(path, cloud, fmt="%.4f")
    else:
        path.write_bytes(trimesh.PointCloud(cloud).export(file_type="ply"))
    result = measure_scan(path)
    assert read_scan(path).faces is None
    assert result["side"] == "left"
    for key in ("foot_length_mm", "ball_width_mm", "heel_width_mm", "plantar_arch_height_mm"):
        assert result[key] == pytest.approx(reference[key], abs=1.5), key


@pytest.mark.parametrize("unit,scale", [("m", 1e-3), ("cm", 0.1), ("in", 1 / 25.4), ("mm", 1.0)])
def test_units_are_detected_from_the_size(unit, scale, mesh, reference, tmp_path):
    scaled = mesh.copy()
    scaled.apply_scale(scale)
    result = measure_scan(write(scaled, tmp_path / "foot.stl"))
    assert result["units_detected"] == unit and result["units_source"] == "detected"
    assert result["foot_length_mm"] == pytest.approx(reference["foot_length_mm"], abs=0.3)


def test_given_units_override_detection(mesh, reference, tmp_path):
    scaled = mesh.copy()
    scaled.apply_scale(0.1)  # centimetres
    path = write(scaled, tmp_path / "foot.stl")
    result = measure_scan(path, units="centimetres")
    assert result["units_detected"] == "cm" and result["units_source"] == "given"
    assert result["foot_length_mm"] == pytest.approx(reference["foot_length_mm"], abs=0.3)
    with pytest.raises(ScanError, match="the scan comes out 23.86 mm long in mm; .* give "
                                        "--scan-units cm"):
        measure_scan(path, units="mm")  # a 24 mm foot
    with pytest.raises(InputError, match="scan_units = 'furlong'"):
        measure_scan(path, units="furlong")


def _binary_stl(path, triangles: np.ndarray, count: int | None = None, header: bytes = b""):
    data = np.zeros(len(triangles), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    data["v"] = triangles
    path.write_bytes(header.ljust(80, b" ")[:80] + struct.pack("<I", len(triangles) if count is None
                                                              else count) + data.tobytes())
    return path


def test_binary_stl_with_a_solid_header_is_read_as_binary(mesh, tmp_path):
    path = _binary_stl(tmp_path / "foot.stl", mesh.triangles, header=b"solid foot")
    assert read_scan(path).file_format == "stl"


def test_bytes_after_the_counted_triangles_are_ignored(mesh, tmp_path):
    path = _binary_stl(tmp_path / "foot.stl", mesh.triangles)
    path.write_bytes(path.read_bytes() + b"\0" * 30)
    assert len(read_scan(path).faces) == len(mesh.faces)


BAD = {
    "empty": "empty file",
    "truncated": "the file holds",
    "header_claims_more": "header claims 99999 triangles but the file holds",
    "header_count_huge": f"accepted: at most {MAX_ELEMENTS}",
    "nan": "not finite numbers",
    "inf": "not finite numbers",
    "three_points": "3 distinct points",
    "short": "too short for a binary STL",
    "not_a_ply": "not a PLY file",
    "garbage_obj": "no vertices found",
}


def _bad_file(kind: str, mesh, tmp_path):
    path = tmp_path / ("foot.xyz" if kind == "three_points" else "foot.ply" if kind == "not_a_ply"
                       else "foot.obj" if kind == "garbage_obj" else "foot.stl")
    tri = np.array(mesh.triangles, dtype=np.float32)
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        full = _binary_stl(path, tri).read_bytes()
        path.write_bytes(full[: len(full) // 2])
    elif kind == "header_claims_more":
        _binary_stl(path, tri[:1000], count=99999)
    elif kind == "header_count_huge":
        _binary_stl(path, tri[:10], count=2 ** 32 - 1)
    elif kind in ("nan", "inf"):
        tri[5, 1, 2] = np.nan if kind == "nan" else np.inf
        _binary_stl(path, tri)
    elif kind == "three_points":
        path.write_text("0 0 0\n0.1 0 0\n0 0.2 0\n")
    elif kind == "short":
        path.write_bytes(b"\x01\x02\x03")
    elif kind == "not_a_ply":
        path.write_bytes(b"hello, not a ply\n" * 10)
    elif kind == "garbage_obj":
        path.write_text("this is not an obj\nv 1 2\n")
    return path


@pytest.mark.parametrize("kind", sorted(BAD))
def test_bad_files_are_one_clear_scan_error(kind, mesh, tmp_path):
    path = _bad_file(kind, mesh, tmp_path)
    with pytest.raises(ScanError, match=BAD[kind]) as info:
        measure_scan(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith("scan")


def test_unsupported_file_type_is_refused(tmp_path):
    path = tmp_path / "foot.dae"
    path.write_text("<collada/>")
    with pytest.raises(ScanError, match="unsupported file type '.dae'; accepted: .stl, .obj"):
        read_scan(path)


def test_size_limit_is_checked_before_the_file_is_opened(monkeypatch, tmp_path):
    path = SCANS / "dupontgu_right_m.stl"  # 0.64 MB
    monkeypatch.setenv("INSOLEGEN_MAX_SCAN_MB", "0.5")

    def no_open(*args, **kwargs):
        raise AssertionError("the file was opened before its size was checked")

    monkeypatch.setattr("insolegen.scan.load.open", no_open, raising=False)
    with pytest.raises(ScanError, match=r"0\.6 MB; accepted: at most 0\.5 MB \(set "
                                        "INSOLEGEN_MAX_SCAN_MB"):
        read_scan(path)
    monkeypatch.setenv("INSOLEGEN_MAX_SCAN_MB", "lots")
    with pytest.raises(InputError, match="INSOLEGEN_MAX_SCAN_MB = 'lots': expected a positive"):
        read_scan(path)


def test_cli_bad_scan_exits_2_with_one_line_and_writes_nothing(mesh, tmp_path):
    path = _bad_file("truncated", mesh, tmp_path)
    out = tmp_path / "out"
    done = run_cli("generate", "--scan", str(path), "--condition", "neutral", "--out", str(out))
    assert done.returncode == 2, done.stderr
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("insolegen: error: scan")
    assert "Traceback" not in done.stderr
    assert not out.exists() or not any(out.iterdir())
    done = run_cli("measure", str(path))
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
