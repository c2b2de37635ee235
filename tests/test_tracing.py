"""Outlines and tracings as a foot: CSV, DXF, SVG files and photos of paper tracings.

The outline every test draws from is the real right foot scan's footprint
(scans/dupontgu_right_m.stl, MIT), taken once per session; the photos are made
from it by tests/data/make_tracing.py (a homography for the camera tilt, blur,
uneven light, noise). Written insoles are read back with trimesh and cut with
a plane to get their plan outline, independently of insolegen's own code.
"""

from __future__ import annotations

import struct
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import shapely
import trimesh
from shapely.geometry import Polygon

from conftest import DATA, ROOT, run_cli
from insolegen.pipeline.job import generate
from insolegen.pipeline.order import order_from_mapping
from insolegen.tracing.read import foot_from_outline
from insolegen.tracing.shape import OutlineError

sys.path.insert(0, str(DATA))
import make_tracing as mt  # noqa: E402

pytest.importorskip("cv2")
pytest.importorskip("ezdxf")


@pytest.fixture(scope="session")
def real_outline() -> np.ndarray:
    """The real right foot's footprint outline (mm, heel at x = 0, +Y medial), open ring."""
    from insolegen.scan.read import process_scan
    result = process_scan(ROOT / "scans" / "dupontgu_right_m.stl")
    return np.asarray(result.measurements.outline.exterior.coords)[:-1]


def _measured(ring: np.ndarray) -> tuple[float, float, float]:
    """(length, ball width, heel width) of a canonical ring, from its vertices (the border
    divided to 0.1 mm first)."""
    dense = np.asarray(shapely.segmentize(Polygon(ring), 0.1).exterior.coords)
    x, y = dense[:, 0] - dense[:, 0].min(), dense[:, 1]
    length = float(np.ptp(x))
    return (length, float(np.ptp(y[x >= 0.5 * length])), float(np.ptp(y[x <= 0.18 * length])))


def _turned(ring: np.ndarray, deg: float, shift=(40.0, -25.0)) -> np.ndarray:
    t = np.radians(deg)
    return ring @ np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]]) + shift


def _plan(path: Path, z: float = 0.4) -> Polygon:
    """The plan outline of a written insole: its mesh cut at height ``z`` (mm)."""
    mesh = trimesh.load(str(path), force="mesh")
    lines = trimesh.intersections.mesh_plane(mesh, [0, 0, 1], [0, 0, z])
    segments = shapely.MultiLineString(np.round(lines[:, :, :2], 4).tolist())
    polygons = list(shapely.polygonize(shapely.node(segments).geoms).geoms)
    return max(polygons, key=lambda p: p.area)


def _hausdorff(a: Polygon, b: Polygon) -> float:
    pa, pb = (shapely.points(np.asarray(p.exterior.coords)) for p in (a, b))
    return float(max(shapely.distance(pa, b.exterior).max(),
                     shapely.distance(pb, a.exterior).max()))


def _write_csv(path: Path, ring: np.ndarray, header: str = "x,y", scale: float = 1.0,
               unit: str | None = None) -> Path:
    rows = [header + (",unit" if unit else "")]
    rows += [f"{x / scale:.4f},{y / scale:.4f}" + (f",{unit}" if unit else "") for x, y in ring]
    path.write_text("\n".join(rows) + "\n")
    return path


def _write_dxf(path: Path, ring: np.ndarray, insunits: int = 4, scale: float = 1.0) -> Path:
    import ezdxf
    doc = ezdxf.new()
    doc.header["$INSUNITS"] = insunits
    doc.modelspace().add_lwpolyline((ring / scale).tolist(), close=True)
    doc.saveas(path)
    return path


def _write_svg(path: Path, ring: np.ndarray) -> Path:
    # 96 user units per inch on a sheet 300 mm wide; y down the page, as SVG has it.
    k = 96 / 25.4
    d = "M " + " L ".join(f"{x * k:.3f},{-y * k:.3f}" for x, y in ring) + " Z"
    path.write_text(f'<svg xmlns="http://www.w3.org/2000/svg" width="300mm" height="400mm" '
                    f'viewBox="0 0 {300 * k:.4f} {400 * k:.4f}"><g transform="translate(200,'
                    f'700)"><path d="{d}" fill="none" stroke="black"/></g></svg>')
    return path


def test_csv_dxf_svg_give_the_same_insole(tmp_path, real_outline):
    """Same foot as CSV (mm), DXF (inches) and SVG (CSS px, y down), turned and moved:
    measurements as the outline's, and insoles whose plans agree within 0.5 mm."""
    ring = _turned(real_outline, 37.0)
    files = {"csv": _write_csv(tmp_path / "o.csv", ring, "x_mm, y_mm"),
             "dxf": _write_dxf(tmp_path / "o.dxf", ring, insunits=1, scale=25.4),
             "svg": _write_svg(tmp_path / "o.svg", ring)}
    want = _measured(real_outline)
    plans = {}
    for kind, path in files.items():
        foot = foot_from_outline(path)
        assert foot.side == "right", kind
        got = (foot.foot_length_mm, foot.ball_width_mm, foot.heel_width_mm)
        assert np.allclose(got, want, atol=0.6), (kind, got, want)
        order = order_from_mapping({"order_id": kind, "outline": str(path), "side": "right",
                                    "conditions": "neutral", "resolution_mm": "2"})
        result = generate(order, tmp_path / kind)
        plans[kind] = _plan(result.files["right"])
    assert _hausdorff(plans["csv"], plans["dxf"]) <= 0.5
    assert _hausdorff(plans["csv"], plans["svg"]) <= 0.5
    # The insole follows the foot: as long as the foot plus the toe allowance, as wide.
    x0, y0, x1, y1 = plans["csv"].bounds
    assert abs((y1 - y0) - (np.ptp(real_outline[:, 1]))) <= 3.0


def test_csv_units_from_header_or_column_and_left_foot(tmp_path, real_outline):
    """Inches in the header, centimetres in a unit column: the same foot; a mirrored
    outline is a left foot, told by its shape, and measures the same."""
    want = _measured(real_outline)
    inch = foot_from_outline(_write_csv(tmp_path / "in.csv", real_outline, "X (in),Y (in)",
                                        25.4))
    cm = foot_from_outline(_write_csv(tmp_path / "cm.csv", _turned(real_outline, 200.0),
                                      "x,y", 10.0, unit="cm"))
    left = foot_from_outline(_write_csv(tmp_path / "l.csv",
                                        _turned(real_outline * [1, -1], -60.0)))
    for foot in (inch, cm, left):
        assert np.allclose((foot.foot_length_mm, foot.ball_width_mm, foot.heel_width_mm),
                           want, atol=0.6)
    assert (inch.side, cm.side, left.side) == ("right", "right", "left")
    assert left.scan["side_source"] == "detected from the outline's shape"
    assert "inch" in inch.scan["units"] or "in (header)" == inch.scan["units"]
    given = foot_from_outline(tmp_path / "l.csv", side="right")
    assert given.side == "right" and "looks like a left foot" in given.scan["side_source"]


@pytest.mark.parametrize("tilt", [0, 15, 30])
def test_tracing_photo(tmp_path, real_outline, tilt):
    """A photo of a tracing of the real outline at up to 30 deg of tilt: length and ball
    width within 3 mm of the outline drawn, heel width within 4 mm; the scale from the sheet."""
    image = mt.photograph(mt.sheet_raster([mt.on_sheet(real_outline)]), tilt, seed=tilt)
    path = tmp_path / f"t{tilt}.jpg"
    path.write_bytes(mt.encode(image))
    foot = foot_from_outline(path)
    length, ball, heel = _measured(real_outline)
    assert foot.side == "right"
    assert abs(foot.foot_length_mm - length) <= 3.0
    assert abs(foot.ball_width_mm - ball) <= 3.0
    assert abs(foot.heel_width_mm - heel) <= 4.0
    assert foot.scan["scale_from"].startswith("the sheet's four corners, a A4 sheet")
    ours = Polygon(np.asarray(foot.outline.exterior.coords))
    assert _hausdorff(ours, Polygon(real_outline)) <= 3.0


def test_left_tracing_on_letter_and_flatbed_scan(tmp_path, real_outline):
    """A left foot traced on Letter (stated), and a flatbed scan at 100 dpi (no sheet edges:
    the scale from its dpi)."""
    letter = (215.9, 279.4)
    left = 0.9 * real_outline * [1, -1]  # a 248 mm foot: room on a Letter sheet
    photo = mt.photograph(mt.sheet_raster([mt.on_sheet(left, letter)], letter), 20, seed=3)
    (tmp_path / "l.png").write_bytes(mt.encode(photo, ".png"))
    foot = foot_from_outline(tmp_path / "l.png", sheet="Letter")
    assert foot.side == "left" and "Letter sheet (215.9 x 279.4 mm, given)" in \
        foot.scan["scale_from"]
    assert abs(foot.foot_length_mm - _measured(0.9 * real_outline)[0]) <= 3.0
    assert abs(foot.ball_width_mm - _measured(0.9 * real_outline)[1]) <= 3.0
    sheet = mt.sheet_raster([mt.on_sheet(real_outline)])
    import cv2
    scan = (cv2.resize(sheet, None, fx=100 / 25.4 / mt.SHEET_PX_PER_MM,
                       fy=100 / 25.4 / mt.SHEET_PX_PER_MM, interpolation=cv2.INTER_AREA) * 255)
    (tmp_path / "flat.png").write_bytes(mt.encode(scan.astype(np.uint8), ".png", dpi=100))
    flat = foot_from_outline(tmp_path / "flat.png")
    assert "100 dpi" in flat.scan["scale_from"]
    assert abs(flat.foot_length_mm - _measured(real_outline)[0]) <= 3.0
    assert abs(flat.ball_width_mm - _measured(real_outline)[1]) <= 3.0


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims ``width`` x ``height`` pixels and holds none (a decompression bomb's
    header: refused before anything is decoded)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(
            ">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0,
                                                            0, 0, 0)) + chunk(b"IEND", b""))


def _figure_eight() -> np.ndarray:
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    return np.column_stack([130 * np.sin(t), 45 * np.sin(2 * t)])


def _bad_images(tmp: Path) -> dict[str, tuple[Path, str]]:
    import cv2
    blank = mt.photograph(mt.sheet_raster([]), 10)
    disc = np.full((900, 1200), 60, np.uint8)
    cv2.circle(disc, (600, 450), 380, 235, -1)
    ellipse = np.column_stack([60 * np.cos(np.linspace(0, 6.28, 100)),
                               30 * np.sin(np.linspace(0, 6.28, 100))])
    two = [ellipse + (105, 80), ellipse + (105, 220)]
    cases = {
        "nothing": (np.full((600, 800), 128, np.uint8), "no sheet"),
        "not_a_sheet": (disc, "no sheet of paper found"),
        "no_line": (blank, "no traced line found"),
        "two_lines": (mt.photograph(mt.sheet_raster(two), 10), "2 separate lines"),
        "crossing": (mt.photograph(mt.sheet_raster([mt.on_sheet(_figure_eight())]), 10),
                     "crosses itself"),
    }
    out = {}
    for name, (image, message) in cases.items():
        path = tmp / f"{name}.jpg"
        path.write_bytes(mt.encode(image))
        out[name] = (path, message)
    return out


def test_bad_tracings_refused(tmp_path):
    """Not a sheet, no line, two lines, a line crossing itself, an image of nothing, a
    decompression bomb's header, an oversized file: each one OutlineError naming the file."""
    cases = _bad_images(tmp_path)
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header_only(30000, 30000))
    cases["bomb"] = (bomb, "900 MP; accepted: at most 50 MP")
    small_bomb = tmp_path / "bomb2.png"  # under Pillow's own limit, over ours
    small_bomb.write_bytes(_png_header_only(10000, 9000))
    cases["bomb2"] = (small_bomb, "10000 x 9000 pixels (90 MP); accepted: at most 50 MP")
    huge = tmp_path / "huge.png"
    with open(huge, "wb") as fh:
        fh.truncate(61_000_000)  # sparse: refused by its size before it is opened
    cases["huge"] = (huge, "61.0 MB; accepted: at most 60 MB")
    for name, (path, message) in cases.items():
        with pytest.raises(OutlineError) as err:
            foot_from_outline(path)
        text = str(err.value)
        assert text.startswith(f"outline = '{path}'") and message in text, (name, text)
        assert "\n" not in text


def test_bad_outline_files_refused(tmp_path, real_outline):
    ring = real_outline
    cases = {
        "cross.csv": ("\n".join(f"{x:.2f},{y:.2f}" for x, y in _figure_eight()),
                      "crosses itself near"),
        "text.csv": ("x,y\n1,2\nthree,4\n", "line 3 'three,4': expected two numbers"),
        "tiny.csv": ("\n".join(f"{x / 10:.3f},{y / 10:.3f}" for x, y in ring),
                     "mm long; a foot's outline is 100-360 mm"),
        "oval.csv": ("\n".join(f"{130 * np.cos(t):.3f},{45 * np.sin(t):.3f}"
                               for t in np.linspace(0, 6.28, 90)), "heel and toe ends look alike"),
        "unit.csv": ("x,y,unit\n" + "\n".join(f"{x:.2f},{y:.2f},furlong" for x, y in ring),
                     "unit 'furlong'; accepted: mm, cm, in, m"),
        "two.svg": ('<svg xmlns="http://www.w3.org/2000/svg"><path d="M0,0 L10,0 L10,10 Z"/>'
                    '<path d="M20,0 L30,0 L30,10 Z"/></svg>', "2 closed paths"),
        "arc.svg": ('<svg xmlns="http://www.w3.org/2000/svg"><path d="M0,0 A5,5 0 0 1 10,0 Z"/>'
                    '</svg>', "arcs (A) are not accepted"),
        "bomb.svg": ('<?xml version="1.0"?><!DOCTYPE l [<!ENTITY a "aaaa">]><svg>&a;</svg>',
                     "DOCTYPE or entities"),
        "junk.dxf": ("not a drawing", "not a readable DXF file"),
        "photo.gif": ("GIF89a", "unsupported file type '.gif'"),
    }
    for name, (text, message) in cases.items():
        path = tmp_path / name
        path.write_text(text)
        with pytest.raises(OutlineError) as err:
            foot_from_outline(path)
        assert message in str(err.value) and "\n" not in str(err.value), (name, str(err.value))
    import ezdxf
    doc = ezdxf.new()
    doc.modelspace().add_line((0, 0), (100, 0))
    empty = tmp_path / "empty.dxf"
    doc.saveas(empty)
    with pytest.raises(OutlineError, match="0 closed curves"):
        foot_from_outline(empty)


def test_cli_outline_and_bad_cases(tmp_path, real_outline):
    """The CLI: measure and generate from an outline; bad inputs exit 2 with one line and
    write nothing."""
    good = _write_csv(tmp_path / "foot.csv", _turned(real_outline, 90.0))
    done = run_cli("measure", "--outline", str(good))
    assert done.returncode == 0, done.stderr
    import json
    measured = json.loads(done.stdout)
    assert measured["side"] == "right" and measured["kind"] == "outline"
    assert "arch_height_index" in measured["cannot_measure"]
    out = tmp_path / "out"
    done = run_cli("generate", "--outline", str(good), "--condition", "flat_feet",
                   "--resolution-mm", "2", "--out", str(out))
    assert done.returncode == 0, done.stderr
    for side in ("left", "right"):
        mesh = trimesh.load(str(out / f"insole_{side}.stl"), force="mesh")
        assert mesh.is_watertight and abs(mesh.bounds[0, 2]) < 1e-3
    bad = _bad_images(tmp_path)
    for args in (["--outline", str(bad["two_lines"][0])],
                 ["--outline", str(bad["crossing"][0])],
                 ["--outline", str(good), "--sheet", "A4"],
                 ["--outline", str(bad["no_line"][0]), "--sheet", "B5"],
                 ["--outline", str(good), "--foot-length", "260"]):
        target = tmp_path / "bad"
        done = run_cli("generate", *args, "--condition", "neutral", "--out", str(target))
        assert done.returncode == 2, (args, done.stderr)
        assert len(done.stderr.strip().splitlines()) == 1, done.stderr
        assert not target.exists() or not any(target.iterdir())


def test_batch_outline_orders(tmp_path, real_outline):
    """A batch row with an outline: made; its fingerprint follows the file's bytes, not its
    folder; an outline outside --scan-root is refused like a scan."""
    from insolegen.batch.orders import validate
    from insolegen.batch.orders_file import Row
    folder = tmp_path / "in"
    folder.mkdir()
    path = _write_csv(folder / "foot.csv", real_outline)
    row = Row(2, {"order_id": "T1", "outline": "foot.csv", "conditions": "neutral",
                  "side": "right"})
    jobs, failed = validate([row], folder)
    assert not failed
    moved = tmp_path / "moved"
    folder.rename(moved)
    again, _ = validate([row], moved)
    assert again[0].fingerprint == jobs[0].fingerprint
    _write_csv(moved / "foot.csv", real_outline * 1.01)
    changed, _ = validate([row], moved)
    assert changed[0].fingerprint != jobs[0].fingerprint
    root = tmp_path / "root"
    root.mkdir()
    _, refused = validate([row], moved, scan_root=root)
    assert "outline = 'foot.csv': outside the scan root" in refused[0].error
    orders = moved / "orders.csv"
    orders.write_text("order_id,outline,conditions,side,resolution_mm\nT1,foot.csv,neutral,"
                      "right,2\n")
    done = run_cli("batch", str(orders), "--out", str(tmp_path / "out"), "--workers", "0")
    assert done.returncode == 0, done.stderr
    assert trimesh.load(str(tmp_path / "out" / "T1" / "T1_right.stl")).is_watertight
