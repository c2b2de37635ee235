"""Printers: an order names one; a part that fits no plate of it is refused before anything is made.

The turn ``check`` and the report state is checked on the written STL:
its footprint turned by that angle fits the usable bed (numpy on the file).
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

from conftest import run_cli, stl_vectors
from insolegen.batch.run import run_batch
from insolegen.cli.main import main
from insolegen.core.errors import InputError
from insolegen.pipeline.order import order_from_mapping
from insolegen.prescription.printers import printer


def _turned_extent(path, turn_deg: float) -> np.ndarray:
    xy = stl_vectors(path).reshape(-1, 3)[:, :2].astype(np.float64)
    a = np.radians(turn_deg)
    r = np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])
    return np.ptp(xy @ r.T, axis=0)


def test_a_long_insole_fits_a_mk4_only_turned_and_the_report_says_how(tmp_path, capsys):
    out = tmp_path / "g"
    assert main(["generate", "--foot-length", "265", "--condition", "flat_feet", "--id", "a",
                 "--resolution-mm", "4", "--printer", "prusa_mk4", "--out", str(out)]) == 0
    report = json.loads((out / "a.json").read_text())
    assert report["order"]["printer"] == "prusa_mk4"
    fit = report["making"]["printer"]["fit"]
    assert report["making"]["printer"]["usable_mm"] == [240.0, 200.0, 220.0]
    for side in ("left", "right"):
        assert fit[side]["fits"] and fit[side]["turn_deg"] != 0
        ex = _turned_extent(out / f"a_{side}.stl", fit[side]["turn_deg"])
        assert ex[0] <= 240 + 1e-3 and ex[1] <= 200 + 1e-3  # fits turned, measured on the file
        assert _turned_extent(out / f"a_{side}.stl", 0.0)[0] > 240  # and not straight
    capsys.readouterr()
    assert main(["check", str(out / "a_right.stl"), "--printer", "prusa_mk4"]) == 0
    captured = capsys.readouterr()
    checked = json.loads(captured.out)
    assert checked["printer"]["name"] == "prusa_mk4"
    body, = checked["bodies"]
    assert body["fits_bed"] and body["bed_turn_deg"] == fit["right"]["turn_deg"]
    assert "turned" in captured.err
    assert main(["check", str(out / "a_right.stl"), "--printer", "prusa_mini"]) == 4
    assert "larger than the bed" in capsys.readouterr().err


@pytest.mark.parametrize("args, expected", [
    (("--printer", "prusa_mini"),
     "printer = 'prusa_mini': the 275.0 mm insole's outline, 275.0 x 99.6 mm, fits no plate "
     "of it (bed 180 x 180 x 180 mm, usable 170 x 170 x 180 mm inside its 5 mm margins) at "
     "any turn about Z"),
    (("--bed", "200x200x100"), "bed = '200x200x100': the 275.0 mm insole's outline, "
                               "275.0 x 99.6 mm, fits no plate of it (bed 200 x 200 x 100 mm, "
                               "used whole)"),
    (("--printer", "makerbot"), "printer = 'makerbot': expected one of prusa_mk4, "),
    (("--bed", "250x210xnan"), "bed = 'nan': not a number"),
    (("--bed", "250x210x9999"), "bed = '250x210x9999': out of range"),
    (("--printer", "prusa_mk4", "--bed", "10x10x10"), "bed = '10x10x10': leaves no room"),
])
def test_a_part_that_fits_no_plate_is_refused_before_anything_is_made(tmp_path, args,
                                                                      expected):
    out = tmp_path / "g"
    proc = run_cli("generate", "--foot-length", "265", "--condition", "flat_feet",
                   "--resolution-mm", "4", *args, "--out", str(out))
    assert proc.returncode == 2
    line, = proc.stderr.splitlines()
    assert expected in line
    assert not out.exists() or not any(out.iterdir())


def test_a_tall_part_is_refused_on_a_low_bed(tmp_path, capsys):
    # the outline fits 300 x 300; the insole, about 30 mm tall, does not fit 15 mm of height
    assert main(["generate", "--foot-length", "265", "--condition", "flat_feet",
                 "--resolution-mm", "4", "--bed", "300x300x15", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert re.search(r"the (left|right) insole, 27\d\.\d x 99\.6 x [23]\d\.\d mm, fits no plate", err)
    assert "bed 300 x 300 x 15 mm" in err
    assert not any(tmp_path.iterdir())


def test_order_fields_printer_and_bed(tmp_path):
    base = {"order_id": "b1", "foot_length_mm": "240", "conditions": "neutral"}
    assert order_from_mapping({**base, "printer": "EOS-P396"}).printer == "eos_p396"
    assert order_from_mapping({**base, "bed": "300x300x200"}).bed_mm == (300.0, 300.0, 200.0)
    assert "printer" not in order_from_mapping(base).to_json()  # older reports unchanged
    for bad, field in [({"printer": 7}, "printer = 7"), ({"printer": ["x"]}, "printer = ['x']"),
                       ({"bed": "1x2"}, "bed = '1x2'")]:
        with pytest.raises(InputError, match=field.replace("[", r"\[").replace("]", r"\]")):
            order_from_mapping({**base, **bad})
    orders = [{**base, "order_id": "fits", "printer": "prusa_mk4", "resolution_mm": "4"},
              {**base, "order_id": "big", "foot_length_mm": "300", "printer": "prusa_mini",
               "resolution_mm": "4"}]
    result = run_batch(orders, tmp_path / "batch", workers=0, keep_results=False)
    lines = [json.loads(x) for x in (tmp_path / "batch" / "manifest.jsonl").read_text()
             .splitlines()]
    status = {e["order_id"]: e for e in lines}
    assert status["fits"]["status"] == "done" and result.exit_code == 3
    assert status["big"]["status"] == "failed" and "fits no plate" in status["big"]["error"]
    assert not (tmp_path / "batch" / "big").exists()


def test_batch_plates(tmp_path):
    orders = tmp_path / "o.csv"
    orders.write_text("order_id,foot_length_mm,conditions,resolution_mm\n"
                      "k1,210,neutral,4\nk2,230,flat_feet,4\nk3,300,neutral,4\n")
    proc = run_cli("batch", str(orders), "--out", str(tmp_path / "b"), "--workers", "0",
                   "--plates", "--printer", "prusa_mk4")
    assert proc.returncode == 3, proc.stderr  # k3 fits no plate of the MK4: it fails alone
    lines = [json.loads(x) for x in (tmp_path / "b" / "manifest.jsonl").read_text()
             .splitlines()]
    k3, = [e for e in lines if e["order_id"] == "k3"]
    assert k3["status"] == "failed" and "fits no plate of it" in k3["error"]
    manifest = json.loads((tmp_path / "b" / "plates" / "plates.json").read_text())
    assert {e["name"] for e in manifest["parts"]} == {"k1 left", "k1 right", "k2 left",
                                                      "k2 right"}
    assert "4 parts on" in proc.stdout
    proc = run_cli("batch", str(orders), "--out", str(tmp_path / "c"), "--plates")
    assert proc.returncode == 2 and "--plates needs --printer" in proc.stderr


def test_printers_command_lists_the_presets():
    proc = run_cli("printers")
    assert proc.returncode == 0
    assert "hp_mjf_5200     mjf  380 x 284 x 380" in proc.stdout
    assert printer("prusa_mk4").to_json()["usable_mm"] == [240.0, 200.0, 220.0]
