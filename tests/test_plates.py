"""Build plates: a batch's insoles nested on a 250 x 210 FDM bed and packed in an MJF volume.

The 200-order batch is honest about what it is: 20 orders are really made
(coarse 5 mm plan, feet 200-265 mm, both sides), then the folder is grown
to 200 orders by copying those files under 180 more ids into a manifest
that lists them with their SHA-256 (a farm's batch repeats sizes too).
Everything is checked on the written files, read with trimesh: the placed
meshes' convex hulls seen from above (which hold the meshes) are kept the
spacing apart, every vertex lies inside the bed less its margin, and every
part is found in its plate by its manifest entry, its source file re-hashed
and its mesh equal to the source STL moved by the recorded transform.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import shapely
import trimesh

from conftest import run_cli
from insolegen.batch.run import run_batch
from insolegen.cli.main import main
from insolegen.plates.nest import minkowski
from insolegen.plates.plate import make_plates
from insolegen.prescription.printers import PRINTERS, printer

MADE, TOTAL = 20, 200


def _clone_batch(src: Path, dst: Path, total: int) -> None:
    """``dst``: the batch ``src`` with its orders repeated under new ids up to ``total``."""
    entries = [json.loads(line) for line in (src / "manifest.jsonl").read_text().splitlines()]
    dst.mkdir()
    lines = []
    for n in range(total):
        entry = entries[n % len(entries)]
        oid, new = entry["order_id"], f"p{n:03d}"
        (dst / new).mkdir()
        files = []
        for record in entry["files"]:
            name = record["path"].split("/", 1)[1]
            target = dst / new / name.replace(oid, new, 1)
            shutil.copyfile(src / record["path"], target)
            files.append({**record, "path": f"{new}/{target.name}"})
        lines.append(json.dumps({**entry, "order_id": new, "files": files}))
    (dst / "manifest.jsonl").write_text("\n".join(lines) + "\n")


@pytest.fixture(scope="module")
def batch(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("plates")
    feet = np.linspace(200, 265, MADE).round()
    orders = [{"order_id": f"o{i:02d}", "foot_length_mm": str(f), "conditions": "flat_feet",
               "resolution_mm": "5"} for i, f in enumerate(feet)]
    result = run_batch(orders, root / "made", workers=0, keep_results=False)
    assert result.counts["done"] == MADE
    _clone_batch(root / "made", root / "batch", TOTAL)
    return root / "batch"


@pytest.fixture(scope="module")
def made(batch) -> Path:
    """The 20 orders really made, as their own batch folder."""
    return batch.parent / "made"


def _placed(plate: Path) -> dict[str, np.ndarray]:
    """Every object of a plate 3MF where its build item puts it (trimesh's reading)."""
    scene = trimesh.load(plate, force="scene")
    out = {}
    for node in scene.graph.nodes_geometry:
        transform, name = scene.graph[node]
        v = np.asarray(scene.geometry[name].vertices)
        out[name] = v @ transform[:3, :3].T + transform[:3, 3]
    return out


def _hull(v: np.ndarray) -> shapely.Polygon:
    return shapely.MultiPoint(v[:, :2]).convex_hull


def _check_found(batch: Path, plates: Path, manifest: dict) -> dict[str, np.ndarray]:
    """Every manifest entry's part, re-hashed and found in its plate; the placed meshes."""
    by_plate = {}
    for row in manifest["plates"]:
        data = (plates / row["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == row["sha256"]
        by_plate[row["file"]] = _placed(plates / row["file"])
    assert sum(len(p) for p in by_plate.values()) == 2 * TOTAL
    names = [e["name"] for e in manifest["parts"]]
    assert len(set(names)) == 2 * TOTAL  # every order's left and right, once each
    placed = {}
    meshes: dict[str, trimesh.Trimesh] = {}  # by content: the copies share 20 meshes
    for entry in manifest["parts"]:
        source = (batch / entry["source"]).read_bytes()
        digest = hashlib.sha256(source).hexdigest()
        assert digest == entry["source_sha256"]
        if digest not in meshes:
            meshes[digest] = trimesh.load(batch / entry["source"], file_type="stl")
        mesh = meshes[digest]
        t = np.asarray(entry["transform"])
        expected = mesh.vertices @ t[:3, :3].T + t[:3, 3]
        got = by_plate[entry["file"]][entry["name"]]
        key = lambda a: a[np.lexsort(np.round(a, 2).T[::-1])]  # noqa: E731
        assert got.shape == expected.shape
        np.testing.assert_allclose(key(got), key(expected), atol=1e-3)  # mm
        placed[entry["name"]] = got
    return placed


def test_200_orders_nest_on_a_250_x_210_bed(batch, tmp_path):
    mk4 = printer("prusa_mk4")
    assert mk4.bed_mm == (250.0, 210.0, 220.0)
    plates = tmp_path / "plates"
    manifest = make_plates(batch, mk4, plates)
    placed = _check_found(batch, plates, manifest)
    m = mk4.margin_mm
    for v in placed.values():  # inside the bed less the margin, on the bed
        assert v[:, 0].min() >= m - 1e-3 and v[:, 0].max() <= 250 - m + 1e-3
        assert v[:, 1].min() >= m - 1e-3 and v[:, 1].max() <= 210 - m + 1e-3
        assert abs(v[:, 2].min()) <= 1e-3 and v[:, 2].max() <= 220
    for row in manifest["plates"]:
        names = [e["name"] for e in manifest["parts"] if e["file"] == row["file"]]
        hulls = [_hull(placed[n]) for n in names]
        for i in range(len(hulls)):
            for j in range(i + 1, len(hulls)):  # hulls hold the meshes: apart, so are they
                assert hulls[i].distance(hulls[j]) >= mk4.spacing_mm - 1e-3
        # reported utilisation: footprints over the usable bed, within 4% of the hulls' share
        share = sum(h.area for h in hulls) / (240 * 200)
        assert row["footprint_utilisation"] == pytest.approx(share, rel=0.04)
    u = manifest["utilisation"]
    assert u["plates"] == len(manifest["plates"]) and u["parts"] == 2 * TOTAL
    assert 0.5 < u["mean"] < 1.0
    # long insoles go on turned: some parts needed a turn other than 0 / 180 deg
    assert any(e["turn_deg"] % 90 for e in manifest["parts"])


def test_200_orders_pack_in_an_mjf_volume(batch, tmp_path):
    hp = printer("hp_mjf_5200")
    plates = tmp_path / "mjf"
    manifest = make_plates(batch, hp, plates)
    placed = _check_found(batch, plates, manifest)
    volumes = {e["source_sha256"]: trimesh.load(batch / e["source"], file_type="stl").volume
               for e in {e["source_sha256"]: e for e in manifest["parts"]}.values()}
    m, s = hp.margin_mm, hp.spacing_mm
    for row in manifest["plates"]:
        names = [e["name"] for e in manifest["parts"] if e["file"] == row["file"]]
        boxes = np.array([[*placed[n].min(axis=0), *placed[n].max(axis=0)] for n in names])
        assert boxes[:, :3].min() >= m - 1e-3
        assert np.all(boxes[:, 3:] <= np.array(hp.bed_mm) - m + 1e-3)
        lo, hi = boxes[:, None, :3], boxes[:, 3:]
        # pairs whose boxes, grown by the spacing, meet in 3D
        meet = np.all((boxes[None, :, :3] < hi[:, None] + s - 1e-3)
                      & (lo < boxes[None, :, 3:] + s - 1e-3), axis=2)
        for i, j in zip(*np.nonzero(np.triu(meet, 1))):
            apart_z = max(boxes[j, 2] - boxes[i, 5], boxes[i, 2] - boxes[j, 5])
            apart_xy = _hull(placed[names[i]]).distance(_hull(placed[names[j]]))
            assert max(apart_z, apart_xy) >= s - 1e-3, (names[i], names[j])
        volume = sum(volumes[e["source_sha256"]] for e in manifest["parts"]
                     if e["file"] == row["file"])
        assert row["packing_density"] == pytest.approx(volume / (360 * 264 * 360), rel=0.01)
        assert row["layers"] >= 2
    assert manifest["utilisation"]["measure"] == "packing_density"
    assert len(manifest["plates"]) < len(manifest["parts"]) / 20  # stacked, not one per layer


def test_plate_command_writes_plates_and_reports_utilisation(made, tmp_path):
    out = tmp_path / "cli"
    proc = run_cli("plate", str(made), "--printer", "prusa_xl", "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert f"{2 * MADE} parts on" in proc.stdout and "utilisation mean" in proc.stdout
    manifest = json.loads((out / "plates.json").read_text())
    assert manifest["printer"]["bed_mm"] == [360.0, 360.0, 360.0]
    assert sorted(p.name for p in out.iterdir()) == sorted(
        ["plates.json", *(r["file"] for r in manifest["plates"])])


def test_a_part_that_fits_no_plate_is_refused_with_one_line(made, tmp_path):
    out = tmp_path / "mini"
    proc = run_cli("plate", str(made), "--printer", "formlabs_fuse1", "--out", str(out))
    assert proc.returncode == 2
    line, = proc.stderr.splitlines()
    assert "fits no plate of formlabs_fuse1" in line and "bed 165 x 165 x 300 mm" in line
    assert re.search(r"o\d\d_(left|right)\.stl: \d+\.\d x \d+\.\d x \d+\.\d mm fits", line)
    assert not out.exists() or not any(out.iterdir())


def test_a_changed_part_is_refused(made, tmp_path, capsys):
    copy = tmp_path / "batch"
    shutil.copytree(made, copy)
    victim = copy / "o07" / "o07_left.stl"
    data = bytearray(victim.read_bytes())
    data[100] ^= 1
    victim.write_bytes(bytes(data))
    assert main(["plate", str(copy), "--printer", "prusa_mk4", "--out",
                 str(tmp_path / "p")]) == 2
    assert "o07/o07_left.stl: sha256" in capsys.readouterr().err
    assert not (tmp_path / "p" / "plates.json").exists()


@pytest.mark.parametrize("args, message", [
    (("--printer", "ender3"), "printer = 'ender3': expected one of prusa_mk4"),
    (("--bed", "250x210"), "bed = '250x210': expected a build volume"),
    ((), "plate needs --printer NAME or --bed WxDxH"),
])
def test_plate_options_are_validated(made, tmp_path, args, message, capsys):
    assert main(["plate", str(made), *args, "--out", str(tmp_path / "x")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1


def test_not_a_batch_folder(tmp_path, capsys):
    assert main(["plate", str(tmp_path), "--printer", "prusa_mk4", "--out",
                 str(tmp_path / "x")]) == 2
    assert "no readable manifest.jsonl" in capsys.readouterr().err


def test_minkowski_sum_of_convex_polygons_is_the_hull_of_corner_sums():
    rng = np.random.default_rng(3)
    for _ in range(20):
        a = np.asarray(shapely.MultiPoint(rng.normal(size=(12, 2)) * 40).convex_hull
                       .exterior.coords)[:-1]
        b = np.asarray(shapely.MultiPoint(rng.normal(size=(9, 2)) * 25).convex_hull
                       .exterior.coords)[:-1]
        a, b = a[::-1], b[::-1]  # shapely's hull runs clockwise; the sum takes counter-
        brute = shapely.MultiPoint((a[:, None] + b[None]).reshape(-1, 2)).convex_hull
        fast = shapely.Polygon(minkowski(a, b))
        assert fast.is_valid
        assert fast.symmetric_difference(brute).area < 1e-6 * brute.area


def test_presets_state_their_sources_and_sizes():
    assert printer("HP-MJF-5200").bed_mm == (380.0, 284.0, 380.0)
    assert printer("eos_p396").bed_mm == (340.0, 340.0, 600.0)
    assert printer("bambu_x1c").bed_mm == (256.0, 256.0, 256.0)
    for p in PRINTERS.values():
        assert p.source and p.technology in ("fdm", "mjf", "sls")
        assert all(u > 0 for u in p.usable_mm())
    assert printer(None, "300x300x300").usable_mm() == (300.0, 300.0, 300.0)
    assert printer("prusa_mk4", "300x250x200").usable_mm() == (290.0, 240.0, 200.0)
    assert printer(None, None) is None


@pytest.mark.parametrize("line, message", [
    ('{"order_id": "x", "status": "done", "files": [{"path": "../x/x_left.stl", '
     '"sha256": "00"}]}', "outside the batch folder"),
    ('{"order_id": "x", "status": "done", "files": [{"path": "x/x_left.stl", '
     '"sha256": "00"}]}', "x/x_left.stl: cannot be read"),
    ("not json", "line 1 is not JSON"),
    ('{"order_id": "x", "status": "failed", "files": []}', "no finished insole STL"),
])
def test_a_hostile_manifest_gives_one_line_and_nothing_written(tmp_path, line, message,
                                                               capsys):
    (tmp_path / "b").mkdir()
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "x_left.stl").write_bytes(b"solid x\nendsolid x\n")
    (tmp_path / "b" / "manifest.jsonl").write_text(line + "\n")
    assert main(["plate", str(tmp_path / "b"), "--printer", "prusa_mk4", "--out",
                 str(tmp_path / "p")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.splitlines()) == 1
    assert not (tmp_path / "p").exists() or not any((tmp_path / "p").iterdir())


def test_force_replaces_every_plate_of_an_earlier_run(made, tmp_path):
    out = tmp_path / "p"
    first = make_plates(made, printer("prusa_mk4"), out)
    assert len(first["plates"]) > 3
    second = make_plates(made, printer("prusa_xl"), out, force=True)
    assert sorted(p.name for p in out.glob("plate_*.3mf")) == sorted(
        r["file"] for r in second["plates"])
