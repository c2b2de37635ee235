"""Hostile arch heights and ball lengths: the retired, ambiguous ``arch_height_mm`` (order,
batch, API), both arch heights at once, a ball length out of range or beside a scan. Each
is refused in one line naming the field and the value; nothing is written for it."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from insolegen.core.errors import InputError
from insolegen.pipeline.order import order_from_mapping

from ._util import ROOT, assert_clean_error, listing

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from webutil import Server  # noqa: E402

pytestmark = pytest.mark.timeout(120)

AMBIGUOUS = ("arch_height_mm = {v}: ambiguous, refused: give navicular_height_mm "
             "(navicular height standing) or plantar_arch_height_mm (the sole's plantar "
             "arch height, what 'insolegen measure' prints)")
SCAN = str(ROOT / "scans" / "dupontgu_right_m.stl")


def order(**fields) -> dict:
    return {"order_id": "n1", "conditions": "flat_feet", "foot_length_mm": "265", **fields}


@pytest.mark.parametrize("value", ["15", 38, "38.5", "abc"])
def test_arch_height_in_an_order_is_refused_as_ambiguous(value):
    with pytest.raises(InputError) as err:
        order_from_mapping(order(arch_height_mm=value))
    assert str(err.value) == AMBIGUOUS.format(v=repr(value) if isinstance(value, str)
                                              else value)


def test_arch_height_beside_the_new_names_is_still_refused():
    for other in ({"navicular_height_mm": "38"}, {"plantar_arch_height_mm": "12"}):
        with pytest.raises(InputError, match="^arch_height_mm = '38': ambiguous"):
            order_from_mapping(order(arch_height_mm="38", **other))


def test_a_blank_arch_height_cell_is_not_given():
    """A CSV keeping the old column, empty on a row: that row says nothing ambiguous."""
    o = order_from_mapping(order(arch_height_mm="", navicular_height_mm="38"))
    assert o.measurements.navicular_height_mm == "38"


def test_both_arch_heights_are_refused_in_one_line(cli, tmp_path):
    out = tmp_path / "out"
    result = cli("generate", "--foot-length", "265", "--condition", "flat_feet",
                 "--navicular-height", "38", "--plantar-arch-height", "14", "--out", str(out))
    assert_clean_error(result, "navicular_height_mm = '38'", "plantar_arch_height_mm = '14'",
                       "give one of the two")
    assert listing(out) == []


@pytest.mark.parametrize("name,flag,value,needle", [
    ("plantar_arch_height_mm", "--plantar-arch-height", "41", "from 0 to 40"),
    ("plantar_arch_height_mm", "--plantar-arch-height", "-1", "from 0 to 40"),
    ("navicular_height_mm", "--navicular-height", "9", "goes in plantar_arch_height_mm"),
    ("ball_length_mm", "--ball-length", "150", "0.566 x foot_length_mm (265), expected "
                                               "0.66-0.82 x foot_length_mm"),
    ("ball_length_mm", "--ball-length", "220", "0.830 x foot_length_mm"),
    ("ball_length_mm", "--ball-length", "nan", "ball_length_mm = 'nan'"),
    ("ball_length_mm", "--ball-length", "300", "from 99 to 287"),
])
def test_out_of_range_values_are_refused_naming_field_and_value(cli, tmp_path, name, flag,
                                                                 value, needle):
    out = tmp_path / "out"
    result = cli("generate", "--foot-length", "265", "--condition", "neutral", flag, value,
                 "--out", str(out))
    line = assert_clean_error(result, name, needle)
    assert value in line
    assert listing(out) == []


def test_ball_length_with_a_scan_is_refused(cli, tmp_path):
    """A scan has its own metatarsal heads: a ball length beside it is refused, not mixed."""
    out = tmp_path / "out"
    result = cli("generate", "--scan", SCAN, "--ball-length", "200", "--condition", "neutral",
                 "--out", str(out))
    assert_clean_error(result, "scan: give a scan or measurements (ball_length_mm), not both")
    assert listing(out) == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_batch_refuses_the_ambiguous_order_alone(cli, tmp_path, fmt):
    """The old column is read, so a file that has it is not refused whole: each order giving
    a value fails on its own with the one-line reason; the others are made."""
    rows = [{"order_id": "old", "conditions": "flat_feet", "foot_length_mm": "250",
             "resolution_mm": "3", "arch_height_mm": "38"},
            {"order_id": "new", "conditions": "flat_feet", "foot_length_mm": "250",
             "resolution_mm": "3", "arch_height_mm": "", "navicular_height_mm": "38"}]
    orders = tmp_path / f"orders.{fmt}"
    if fmt == "csv":
        cols = list(rows[1])
        orders.write_text("\n".join([",".join(cols)] + [",".join(r.get(c, "") for c in cols)
                                                         for r in rows]) + "\n")
    else:
        orders.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "out"
    result = cli("batch", str(orders), "--out", str(out), "--workers", "0")
    assert result.code == 3, result.err
    assert "Traceback" not in result.err
    entries = {e["order_id"]: e for e in map(json.loads,
                                            (out / "manifest.jsonl").read_text().splitlines())}
    assert entries["new"]["status"] == "done"
    assert entries["old"]["status"] == "failed"
    assert AMBIGUOUS.format(v="'38'") in entries["old"]["error"]
    assert "\n" not in entries["old"]["error"]
    assert not (out / "old").exists()


def test_api_refuses_the_ambiguous_field_with_400(tmp_path):
    srv = Server(tmp_path / "data")
    try:
        before = sorted(p.name for p in (tmp_path / "data").rglob("*"))
        for path in ("/api/orders", "/api/preview"):
            status, body, _ = srv.request("POST", path, body=order(arch_height_mm="38",
                                                                   resolution_mm="3"))
            assert status == 400, body
            message = json.loads(body)["error"]
            assert AMBIGUOUS.format(v="'38'") in message and "\n" not in message
        status, body, _ = srv.request("POST", "/api/orders", body=order(
            order_id="n2", navicular_height_mm="38", plantar_arch_height_mm="14"))
        assert status == 400 and "give one of the two" in json.loads(body)["error"]
        status, body, _ = srv.request("POST", "/api/orders", body=order(
            order_id="n3", ball_length_mm="120"))
        assert status == 400 and "ball_length_mm = 120: 0.453 x foot_length_mm" in json.loads(body)["error"]
        assert sorted(p.name for p in (tmp_path / "data").rglob("*")) == before
    finally:
        srv.close()
