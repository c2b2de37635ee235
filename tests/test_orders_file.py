"""The orders file reader: rows one at a time, bad lines alone, unusable files in one error."""

from __future__ import annotations

import json

import pytest

from batchutil import write
from insolegen.batch import orders_file
from insolegen.batch.run import run_batch, validate
from insolegen.core.errors import InputError
from insolegen.batch.orders_file import MAX_LINE_CHARS, iter_orders, read_orders


def test_rows_come_one_at_a_time_before_a_later_bad_byte(tmp_path):
    """The reader streams: rows before a bad byte arrive, then the file-level error."""
    orders = tmp_path / "o.csv"
    orders.write_bytes(b"order_id,conditions,foot_length_mm\n"
                       + b"".join(b"A%d,neutral,250\n" % i for i in range(5000))
                       + b"B,neutral,\xff\xfe250\n")
    rows = iter_orders(orders)
    assert next(rows).fields == {"order_id": "A0", "conditions": "neutral",
                                 "foot_length_mm": "250"}
    seen = 1
    with pytest.raises(InputError, match=r"not UTF-8 text \(a bad byte after line \d+\)"):
        for _ in rows:
            seen += 1
    assert seen >= 4000, "rows before the bad byte were given out as they were read"


def test_a_json_lines_order_too_long_fails_alone(tmp_path):
    good = json.dumps({"order_id": "G", "conditions": ["neutral"], "foot_length_mm": 250})
    huge = json.dumps({"order_id": "H", "conditions": ["neutral"],
                       "pad": "x" * (MAX_LINE_CHARS + 10)})
    orders = write(tmp_path / "o.jsonl", f"{good}\n{huge}\n{good.replace('G', 'G2')}\n")
    rows = read_orders(orders)
    assert [r.line for r in rows] == [1, 2, 3]
    assert rows[1].error == f"line 2: longer than {MAX_LINE_CHARS} characters"
    assert rows[0].error is None and rows[2].fields["order_id"] == "G2"


def test_a_json_lines_file_without_one_object_is_unusable(tmp_path):
    orders = write(tmp_path / "o.jsonl", "1\n[2]\n")
    with pytest.raises(InputError, match=r"not JSON Lines \(no line is a JSON object; line 1"):
        read_orders(orders)


def test_the_same_order_typed_as_csv_text_or_json_numbers_has_one_fingerprint(tmp_path):
    csv_file = write(tmp_path / "o.csv", "order_id,conditions,foot_length_mm,"
                     "set.heel_cup_depth_mm,shoe_size\nA,neutral,265.0,18,\nB,neutral,,,EU 42\n")
    jsonl = write(tmp_path / "o.jsonl", "\n".join(json.dumps(o) for o in [
        {"order_id": "A", "conditions": ["neutral"], "foot_length_mm": 265,
         "set": {"heel_cup_depth_mm": 18}},
        {"order_id": "B", "conditions": ["neutral"], "shoe_size": "eu 42"}]) + "\n")
    (a1, b1), _ = validate(read_orders(csv_file), tmp_path)
    (a2, b2), _ = validate(read_orders(jsonl), tmp_path)
    assert a1.fingerprint == a2.fingerprint
    assert b1.fingerprint == b2.fingerprint
    assert a1.fingerprint != b1.fingerprint


def test_an_orders_file_changed_between_its_two_readings_stops_the_batch(tmp_path,
                                                                         monkeypatch):
    orders = write(tmp_path / "o.csv", "order_id,conditions,foot_length_mm,resolution_mm\n"
                   "A,neutral,250,4\n")
    real = orders_file.iter_orders
    readings = []

    def reading_then_editing(path):
        readings.append(path)
        yield from real(path)
        if len(readings) == 1:  # someone saves the file after it was validated
            with open(path, "a") as fh:
                fh.write("B,neutral,260,4\n")

    monkeypatch.setattr("insolegen.batch.run.iter_orders", reading_then_editing)
    with pytest.raises(InputError, match=r"orders = '.*o\.csv': changed while the batch was "
                                         r"reading it"):
        run_batch(orders, tmp_path / "out", workers=0)
    assert not (tmp_path / "out" / "A").exists()
