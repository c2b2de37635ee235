"""Hostile scan files, crafted here: empty, truncated, random, lying headers, broken text,
NaN, degenerate, oversized. Each is refused with a ScanError (exit 2 from the CLI, a failed
order in a batch) naming the file, fast, and without allocating what the file claims; those
the loader takes but a later stage refuses (plates, spheres, cubes, lines) name it too.
"""

from __future__ import annotations

import gzip
import os
import random
import shutil
import struct
import subprocess
import time
import tracemalloc
from pathlib import Path

import numpy as np
import pytest

from insolegen.core.errors import InputError, ScanError

scan_load = pytest.importorskip("insolegen.scan.load", reason="scan reading (issue 6) not here")
read_scan = scan_load.read_scan

from ._util import ROOT, assert_clean_error, cli_command, listing, run_cli  # noqa: E402

pytestmark = pytest.mark.timeout(60)

MB = 1_000_000


def binary_stl(path: Path, triangles: np.ndarray, count: int | None = None,
               header: bytes = b"insolegen hostile") -> Path:
    """Write (m, 3, 3) float32 triangles as a binary STL whose header says ``count``."""
    tri = np.asarray(triangles, dtype=np.float32).reshape(-1, 3, 3)
    record = np.zeros(len(tri), dtype=[("n", "<f4", 3), ("v", "<f4", (3, 3)), ("a", "<u2")])
    record["v"] = tri
    with open(path, "wb") as fh:
        fh.write(header[:80].ljust(80, b" "))
        fh.write(struct.pack("<I", len(tri) if count is None else count))
        fh.write(record.tobytes())
    return path


def foot_like_triangles(n: int = 2000, seed: int = 0) -> np.ndarray:
    """n random triangles in a foot-sized box (mm): enough distinct points to pass counting."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform([0, -50, 0], [260, 50, 60], size=(n, 1, 3))
    return centres + rng.normal(scale=2.0, size=(n, 3, 3))


def ascii_stl(path: Path, triangles: np.ndarray, mutate=None) -> Path:
    lines = ["solid hostile"]
    for tri in triangles:
        lines += ["  facet normal 0 0 1", "    outer loop",
                  *(f"      vertex {x:.6f} {y:.6f} {z:.6f}" for x, y, z in tri),
                  "    endloop", "  endfacet"]
    lines.append("endsolid hostile")
    text = "\n".join(lines) + "\n"
    path.write_text(mutate(text) if mutate else text)
    return path


def refused(path: Path, *needles: str, budget_mb: float = 50, seconds: float = 10) -> str:
    """read_scan(path) raises ScanError naming the file, quickly and within a memory budget."""
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        with pytest.raises(ScanError) as err:
            read_scan(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    elapsed = time.perf_counter() - t0
    message = str(err.value)
    assert str(path) in message, message
    for needle in needles:
        assert needle in message, message
    assert isinstance(err.value, InputError), "a scan error is bad input: exit 2"
    assert "\n" not in message
    assert peak < budget_mb * MB, f"peak {peak / MB:.0f} MB reading {path.name}"
    assert elapsed < seconds, f"{elapsed:.1f} s reading {path.name}"
    return message


# ---------------------------------------------------------------- STL


def test_empty_file(tmp_path):
    (tmp_path / "empty.stl").write_bytes(b"")
    refused(tmp_path / "empty.stl", "empty")


@pytest.mark.parametrize("size", [1, 50, 83])
def test_shorter_than_a_binary_header(tmp_path, size):
    path = tmp_path / "short.stl"
    path.write_bytes(b"\x07" * size)
    refused(path)


def test_zero_triangles(tmp_path):
    refused(binary_stl(tmp_path / "none.stl", np.empty((0, 3, 3))), "0 triangles")


def test_truncated_binary_stl(tmp_path):
    path = binary_stl(tmp_path / "cut.stl", foot_like_triangles(1000))
    data = path.read_bytes()
    path.write_bytes(data[: 84 + 50 * 400 + 17])
    refused(path, "1000", "truncated")


@pytest.mark.parametrize("seed", range(5))
def test_random_bytes_named_stl(tmp_path, seed):
    path = tmp_path / "noise.stl"
    path.write_bytes(random.Random(seed).randbytes(20_000 + seed * 997))
    refused(path)


@pytest.mark.parametrize("count", [4_000_000_000, 2 ** 32 - 1, 3_000_001])
def test_header_claiming_billions_of_triangles_allocates_nothing(tmp_path, count):
    path = binary_stl(tmp_path / "liar.stl", foot_like_triangles(100), count=count)
    refused(path, str(count), budget_mb=5, seconds=2)


@pytest.mark.parametrize("trailing", [0, 10])
def test_a_huge_sparse_file_with_a_truthful_header_is_refused_before_reading(tmp_path,
                                                                           monkeypatch,
                                                                           trailing):
    """3,000,001 triangles, header and size agreeing (150 MB, sparse on disk; with or without
    a few bytes after them), under a raised size limit: the triangle limit must refuse it from
    the header, not after parsing."""
    count = scan_load.MAX_ELEMENTS + 1
    path = tmp_path / "huge.stl"
    with open(path, "wb") as fh:
        fh.write(b"huge".ljust(80) + struct.pack("<I", count))
        fh.truncate(84 + 50 * count + trailing)
    monkeypatch.setenv(scan_load.MAX_SCAN_MB_ENV, "1000")
    refused(path, str(count), budget_mb=5, seconds=2)


def test_a_200_mb_file_is_refused_by_size_without_reading(tmp_path):
    path = tmp_path / "big.stl"
    with open(path, "wb") as fh:
        fh.truncate(200 * MB)  # sparse: costs no disk
    refused(path, "200.0 MB", f"{scan_load.MAX_SCAN_MB_DEFAULT:g} MB", budget_mb=2, seconds=1)


def test_the_size_limit_is_configurable(tmp_path, monkeypatch):
    path = binary_stl(tmp_path / "small.stl", foot_like_triangles(2000))
    monkeypatch.setenv(scan_load.MAX_SCAN_MB_ENV, "0.05")
    refused(path, scan_load.MAX_SCAN_MB_ENV, budget_mb=2)


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "lots", "1e400"])
def test_a_bad_size_limit_setting_is_refused(tmp_path, monkeypatch, value):
    path = binary_stl(tmp_path / "small.stl", foot_like_triangles(600))
    monkeypatch.setenv(scan_load.MAX_SCAN_MB_ENV, value)
    with pytest.raises(InputError, match=scan_load.MAX_SCAN_MB_ENV):
        read_scan(path)


@pytest.mark.parametrize("mutate,needle", [
    (lambda t: t.replace("vertex", "vertx", 7), None),
    (lambda t: t.replace("endloop", "", 3), None),
    (lambda t: t.replace("      vertex", "      vertex 1 2", 1).replace(
        "vertex 1 2 ", "vertex 1 2\n", 1), None),
    (lambda t: t.replace("facet normal 0 0 1", "facet normal zero", 5), None),
    (lambda t: t[: len(t) // 2], None),
    (lambda t: t.replace("0", "\x00", 50), None),
])
def test_ascii_stl_with_a_broken_facet(tmp_path, mutate, needle):
    path = ascii_stl(tmp_path / "broken.stl", foot_like_triangles(300), mutate)
    try:
        raw = read_scan(path)
    except ScanError as exc:
        assert str(path) in str(exc)
        return
    # A lenient parser may skip what it cannot read; then what it kept must be sound.
    assert np.isfinite(raw.vertices).all() and len(raw.vertices) >= scan_load.MIN_POINTS


@pytest.mark.parametrize("kind,bad", [
    ("binary", np.nan), ("binary", np.inf), ("binary", -np.inf),
    ("binary", 3.4e39),  # beyond float32: inf once stored
    ("ascii", np.nan), ("ascii", np.inf), ("ascii", -np.inf),
])
def test_non_finite_coordinates(tmp_path, kind, bad):
    tri = foot_like_triangles(600)
    tri[17, 1, 2] = bad
    path = tmp_path / "nan.stl"
    with np.errstate(over="ignore"):
        binary_stl(path, tri) if kind == "binary" else ascii_stl(path, tri)
    refused(path, "not finite")


def test_all_vertices_equal_in_a_small_file(tmp_path):
    refused(binary_stl(tmp_path / "point.stl", np.full((900, 3, 3), 12.5)), "distinct points")


def degenerate(kind: str) -> np.ndarray:
    rng = np.random.default_rng(3)
    line = np.linspace(0, 260, 15000).reshape(5000, 3)
    return {
        "one-point": np.full((5000, 3, 3), 12.5),
        "a-line": np.stack([line, np.zeros_like(line), np.zeros_like(line)], -1),
        "flat-sheet": rng.uniform([0, -50, 0], [260, 50, 0], size=(3000, 1, 3))
        + rng.normal(scale=1.5, size=(3000, 3, 3)) * [1, 1, 0],
        "a-box-of-noise": foot_like_triangles(3000),
        "microscopic": foot_like_triangles(3000) * 1e-6,
        "kilometres": foot_like_triangles(3000) * 1e6,
        "two-points": np.concatenate([np.zeros((2500, 3, 3)), np.full((2500, 3, 3), 260.0)]),
    }[kind]


@pytest.mark.parametrize("units", [None, "mm"])
@pytest.mark.parametrize("kind", ["one-point", "a-line", "flat-sheet", "a-box-of-noise",
                                  "microscopic", "kilometres", "two-points"])
def test_degenerate_shapes_are_not_feet(tmp_path, kind, units):
    """Past the loader (big enough to skip its distinct-point count): the later stages must
    still refuse them with a ScanError, whatever units are forced."""
    from insolegen.scan.read import foot_from_scan
    path = binary_stl(tmp_path / f"{kind}.stl", degenerate(kind))
    with pytest.raises(ScanError) as err:
        foot_from_scan(path, units=units)
    message = str(err.value)
    assert message.startswith(f"scan = '{path}': ") and message.count(str(path)) == 1, message
    assert "\n" not in message


# What each shape that loads fine but is no foot is refused for, by a later stage.
LATER = {
    "square-plate": "flat or degenerate shape",      # align: no 3D hull
    "plate-cloud": "flat or degenerate shape",       # the same as an XYZ point cloud
    "collinear": "flat or degenerate shape",
    "sphere": "no sole found",                       # align: nothing to stand on
    "cube": "heel and toe ends look alike",          # align: no heel, no toe
    "handful-of-points": "not a foot",               # measure: proportions
    "two-points": "two separate pieces",             # clean: two pieces
    "microscopic": "fits no unit",                   # clean: units
}


def later_scan(folder: Path, kind: str) -> Path:
    """A scan of ``kind`` (see :data:`LATER`) in ``folder``: many distinct finite points."""
    import trimesh
    rng = np.random.default_rng(5)
    if kind == "plate-cloud":
        points = np.column_stack([rng.uniform(0, 250, (3000, 2)), np.zeros(3000)])
        path = folder / f"{kind}.xyz"
        path.write_text("".join(f"{x:.4f} {y:.4f} {z:.4f}\n" for x, y, z in points))
        return path
    if kind == "square-plate":
        tri = rng.uniform([0, 0, 0], [250, 250, 0], size=(3000, 3, 3))
    elif kind == "collinear":
        tri = (np.linspace(0, 1, 15000)[:, None] * [260, 40, 20]).reshape(5000, 3, 3)
    elif kind == "sphere":
        tri = trimesh.creation.icosphere(subdivisions=4, radius=130.0).triangles
    elif kind == "cube":
        box = trimesh.creation.box((250.0, 250.0, 250.0))
        tri = trimesh.Trimesh(*trimesh.remesh.subdivide_to_size(box.vertices, box.faces,
                                                                 10.0)).triangles
    elif kind == "handful-of-points":
        corners = rng.uniform([0, -50, 0], [260, 50, 60], size=(6, 3))
        tri = corners[rng.integers(0, 6, size=(5000, 3))]
    else:
        tri = degenerate(kind)
    return binary_stl(folder / f"{kind}.stl", tri)


@pytest.mark.parametrize("kind", sorted(LATER))
def test_a_later_stage_names_the_file(tmp_path, kind):
    """The loader takes these; cleaning, aligning or measuring refuses them, in one line that
    starts with the file, as the loader's own errors do."""
    from insolegen.scan.read import foot_from_scan, measure_scan
    path = later_scan(tmp_path, kind)
    read_scan(path)
    for stage in (foot_from_scan, measure_scan):
        with pytest.raises(ScanError) as err:
            stage(path)
        message = str(err.value)
        assert message.startswith(f"scan = '{path}': "), message
        assert message.count(str(path)) == 1 and "scan: " not in message, message
        assert LATER[kind] in message and "\n" not in message, message


@pytest.mark.parametrize("name", ["foot.stl.gz", "foot.zip", "foot.STLX", "foot", ".stl"])
def test_compressed_or_unknown_types_are_refused_unopened(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(gzip.compress(b"\x00" * 50_000_000))  # a 50 MB bomb in 50 kB
    refused(path, budget_mb=2)


@pytest.mark.parametrize("kind", ["fifo", "directory", "dev-zero", "missing", "dangling"])
def test_things_that_are_not_files(tmp_path, kind):
    path = tmp_path / "foot.stl"
    if kind == "fifo":
        os.mkfifo(path)  # opening it would block for ever
    elif kind == "directory":
        path.mkdir()
    elif kind == "dev-zero":
        path.symlink_to("/dev/zero")  # reading it never ends
    elif kind == "dangling":
        path.symlink_to(tmp_path / "gone.stl")
    refused(path, seconds=2)


# ---------------------------------------------------------------- OBJ and PLY


def obj_text(n: int = 600, mtl: str | None = "missing.mtl") -> str:
    rng = np.random.default_rng(1)
    v = rng.uniform([0, -50, 0], [260, 50, 60], size=(n, 3))
    lines = [f"mtllib {mtl}"] if mtl else []
    lines += [f"v {x:.4f} {y:.4f} {z:.4f}" for x, y, z in v]
    lines += ["usemtl skin"] + [f"f {i} {i + 1} {i + 2}" for i in range(1, n - 1, 3)]
    return "\n".join(lines) + "\n"


def test_obj_with_a_missing_mtl_reads_its_geometry_or_refuses_cleanly(tmp_path):
    path = tmp_path / "foot.obj"
    path.write_text(obj_text())
    try:
        raw = read_scan(path)
    except ScanError as exc:
        assert str(path) in str(exc)
        return
    assert raw.vertices.shape == (600, 3) and np.isfinite(raw.vertices).all()


@pytest.mark.parametrize("mutate", [
    lambda t: t.replace("f 1 2 3", "f 1 2 999999"),     # a face beyond the vertices
    lambda t: t.replace("v ", "v nan ", 1),
    lambda t: "\n".join(line for line in t.splitlines() if not line.startswith("v ")),
    lambda t: t.replace("v ", "v x y z ", 5),
])
def test_broken_obj(tmp_path, mutate):
    path = tmp_path / "foot.obj"
    path.write_text(mutate(obj_text()))
    try:
        raw = read_scan(path)
    except ScanError as exc:
        assert str(path) in str(exc)
        return
    assert np.isfinite(raw.vertices).all()
    assert raw.faces is None or raw.faces.max() < len(raw.vertices)


def ply_bytes(declared: int, actual: int, binary: bool = False) -> bytes:
    rng = np.random.default_rng(2)
    v = rng.uniform([0, -50, 0], [260, 50, 60], size=(actual, 3)).astype("<f4")
    fmt = "binary_little_endian" if binary else "ascii"
    head = (f"ply\nformat {fmt} 1.0\nelement vertex {declared}\nproperty float x\n"
            "property float y\nproperty float z\nend_header\n").encode()
    body = v.tobytes() if binary else "".join(f"{x} {y} {z}\n" for x, y, z in v).encode()
    return head + body


@pytest.mark.parametrize("declared,actual,binary", [
    (1000, 600, False), (1000, 600, True), (600, 1000, True),
    (10 ** 12, 600, True), (-5, 600, False), (2 ** 64, 600, True),
])
def test_ply_with_a_wrong_element_count(tmp_path, declared, actual, binary):
    path = tmp_path / "foot.ply"
    path.write_bytes(ply_bytes(declared, actual, binary))
    try:
        tracemalloc.start()
        raw = read_scan(path)
    except ScanError as exc:
        assert str(path) in str(exc)
        return
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert peak < 50 * MB
    assert len(raw.vertices) <= min(declared, actual), "no vertex made up"


def test_ply_without_end_header(tmp_path):
    path = tmp_path / "foot.ply"
    path.write_bytes(b"ply\nformat ascii 1.0\nelement vertex 3\n" + b"0 0 0\n" * 3)
    refused(path, "PLY")


# ---------------------------------------------------------------- through the front doors


def test_a_bad_scan_in_a_batch_fails_alone(tmp_path):
    """Batch: the scan order fails with the scan's reason, the other order is made, exit 3."""
    (tmp_path / "empty.stl").write_bytes(b"")
    binary_stl(tmp_path / "liar.stl", foot_like_triangles(50), count=4_000_000_000)
    orders = tmp_path / "orders.jsonl"
    orders.write_text(
        '{"order_id": "s1", "conditions": "neutral", "scan": "empty.stl"}\n'
        '{"order_id": "s2", "conditions": "neutral", "scan": "liar.stl"}\n'
        '{"order_id": "m1", "conditions": "neutral", "foot_length_mm": 250,'
        ' "resolution_mm": 3}\n')
    out = tmp_path / "out"
    result = run_cli("batch", str(orders), "--out", str(out), "--workers", "0")
    assert result.code == 3, result.err
    assert "Traceback" not in result.err + result.out
    import json
    entries = {e["order_id"]: e for e in map(json.loads, (out / "manifest.jsonl")
                                             .read_text().splitlines())}
    assert entries["s1"]["status"] == "failed" and "empty" in entries["s1"]["error"]
    assert entries["s2"]["status"] == "failed" and "4000000000" in entries["s2"]["error"]
    assert entries["m1"]["status"] == "done"
    assert "s1" not in listing(out) and "s2" not in listing(out)


def _has_option(command: str, option: str) -> bool:
    proc = subprocess.run([*cli_command(), command, "--help"], capture_output=True, text=True,
                          timeout=30)
    return option in proc.stdout


@pytest.fixture(scope="module")
def generate_takes_scans() -> None:
    if not _has_option("generate", "--scan"):
        pytest.skip("insolegen generate --scan is not there yet (issue 6)")


@pytest.fixture(scope="module")
def measure_takes_scans() -> None:
    if not _has_option("measure", "SCAN"):
        pytest.skip("insolegen measure is not there yet (issue 6)")


@pytest.mark.parametrize("make,needle", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: binary_stl(p, foot_like_triangles(50), count=4_000_000_000), "4000000000"),
    (lambda p: p.write_bytes(random.Random(7).randbytes(5000)), "scan"),
    (lambda p: binary_stl(p, np.full((900, 3, 3), 1.0)), "distinct points"),
    (lambda p: ascii_stl(p, np.where(np.arange(1800).reshape(600, 3, 1) == 50, np.inf,
                                     foot_like_triangles(600))), "not finite"),  # numpy warns
])
def test_generate_scan_refuses_in_one_line(tmp_path, generate_takes_scans, make, needle):
    path = tmp_path / "foot.stl"
    make(path)
    out = tmp_path / "out"
    result = run_cli("generate", "--scan", str(path), "--condition", "neutral",
                     "--out", str(out))
    assert_clean_error(result, str(path), needle)
    assert listing(out) == []


def test_large_triangles_cannot_blow_up_memory(tmp_path):
    """Surface sampling once grew with the triangles' area, not their number: 600 large
    triangles (30 kB) took ~120 MB, 12,000 (600 kB) 1.6 GB and 45 s."""
    from insolegen.scan.read import foot_from_scan
    rng = np.random.default_rng(3)
    path = binary_stl(tmp_path / "big-triangles.stl",
                      rng.uniform([0, -50, 0], [260, 50, 30], size=(600, 3, 3)))
    tracemalloc.start()
    try:
        with pytest.raises(ScanError):
            foot_from_scan(path)
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    assert peak < 64 * MB, f"{peak / MB:.0f} MB for a {path.stat().st_size} byte file"


@pytest.mark.parametrize("make,needle", [
    (lambda p: p.write_bytes(b""), "empty"),
    (lambda p: p.write_bytes(random.Random(8).randbytes(3000)), "scan"),
    (lambda p: ascii_stl(p, foot_like_triangles(300), lambda t: t[: len(t) // 3]), "scan"),
])
def test_measure_refuses_in_one_line(cli, tmp_path, measure_takes_scans, make, needle):
    path = tmp_path / "foot.stl"
    make(path)
    assert_clean_error(cli("measure", str(path)), str(path), needle)


@pytest.mark.parametrize("command", ["generate", "measure"])
@pytest.mark.parametrize("kind", sorted(LATER))
def test_cli_names_the_file_a_later_stage_refuses(tmp_path, generate_takes_scans,
                                                  measure_takes_scans, kind, command):
    path = later_scan(tmp_path, kind)
    out = tmp_path / "out"
    args = ["measure", str(path)] if command == "measure" else \
        ["generate", "--scan", str(path), "--condition", "neutral", "--out", str(out)]
    line = assert_clean_error(run_cli(*args), str(path), LATER[kind])
    assert line.startswith(f"insolegen: error: scan = '{path}': "), line
    assert listing(out) == []


@pytest.mark.parametrize("args,needle", [
    (["generate", "--side", "left", "--condition", "neutral"], "--side-from-scan"),
    (["measure", "--scan-units", "mm"], "scan_units = 'mm': the scan comes out 0.2705 mm long "
                                        "in mm; a foot scan is 90-800 mm; in m it is 271 mm: "
                                        "give --scan-units m, or --foot-length MM"),
])
def test_cli_names_a_real_foot_refused_after_loading(tmp_path, generate_takes_scans,
                                                     measure_takes_scans, args, needle):
    """A real right foot (in metres), ordered for the left foot or measured in mm."""
    path = tmp_path / "right foot.stl"
    shutil.copy(ROOT / "scans" / "dupontgu_right_m.stl", path)
    out = tmp_path / "out"
    command, *options = args
    scan = ["--scan", str(path), "--out", str(out)] if command == "generate" else [str(path)]
    line = assert_clean_error(run_cli(command, *scan, *options), str(path), needle)
    assert line.startswith(f"insolegen: error: scan = '{path}': "), line
    assert listing(out) == []
