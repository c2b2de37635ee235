"""What a newcomer tripped over (issue 10): each case as a user meets it, from the CLI."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from conftest import ROOT, run_cli
from insolegen.core.numbers import fmt
from insolegen.prescription.parameters import PARAMS
from test_cli import one_clean_error


def test_profiles_name_shows_every_parameter_with_its_range():
    proc = run_cli("profiles", "flat_feet")
    assert proc.returncode == 0, proc.stderr
    for key, param in PARAMS.items():
        line = next(l for l in proc.stdout.splitlines() if l.startswith(key + " "))
        expected = ("true|false" if param.kind is bool else "|".join(param.choices)
                    if param.choices else f"{param.low:g}-{param.high:g}")
        assert f"# {expected} " in line, line


@pytest.mark.parametrize("size", ["US 9", "us 10.5", "US  8"])
def test_a_us_size_must_say_men_or_women(tmp_path, size):
    proc = run_cli("generate", "--shoe-size", size, "--condition", "neutral", "--out",
                   str(tmp_path / "out"))
    one_clean_error(proc, "shoe_size", repr(size), "US-M", "US-W", "ambiguous")
    assert not (tmp_path / "out").exists()


def test_us_men_and_women_still_read_as_before(tmp_path):
    from insolegen.foot.sizes import foot_length_from_size
    assert foot_length_from_size("US-M 9") - foot_length_from_size("US-W 9") == \
        pytest.approx(12.7, abs=0.01)


def test_engrave_depth_without_engrave_is_refused(tmp_path):
    proc = run_cli("generate", "--foot-length", "265", "--condition", "neutral",
                   "--engrave-depth", "0.8", "--out", str(tmp_path / "out"))
    one_clean_error(proc, "engrave_depth_mm", "0.8", "--engrave")
    assert not (tmp_path / "out").exists()
    ok = run_cli("generate", "--foot-length", "265", "--condition", "neutral", "--engrave",
                 "--engrave-depth", "0.8", "--side", "right", "--out", str(tmp_path / "ok"))
    assert ok.returncode == 0, ok.stderr


@pytest.mark.skipif(shutil.which("pdftotext") is None,
                    reason="pdftotext (poppler-utils) not installed; .ci/run installs it")
def test_ticket_cuts_no_cell_names_the_shoe_size_and_lists_every_file(tmp_path):
    proc = run_cli("generate", "--shoe-size", "UK 8", "--condition", "flat_feet", "--id", "T1",
                   "--format", "stl,3mf,obj,png,pdf", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    text = subprocess.run(["pdftotext", "-layout", str(tmp_path / "T1_ticket.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    assert "..." not in text and "\u2026" not in text
    assert re.search(r"shoe size\s+UK 8\s+as ordered", text)
    assert "estimated (0.376 x foot length)" in text  # the whole source, not cut
    made = sorted(p.name for p in tmp_path.iterdir())
    for name in made:
        assert name in text, name


def test_demo_scan_condition_fits_the_scanned_foot(tmp_path):
    measured = run_cli("measure", str(ROOT / "scans" / "dupontgu_right_m.stl"))
    import json
    arch = json.loads(measured.stdout)["arch_type"]
    proc = run_cli("demo", "--scan", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    condition = {"low": "flat_feet", "normal": "neutral", "high": "high_arches"}[arch]
    assert f"measures a {arch} arch" in proc.stdout
    assert f"demo_scan: {condition};" in proc.stdout
    report = json.loads((tmp_path / "demo_scan.json").read_text())
    assert report["design"]["prescription"]["conditions"] == [condition]


def test_numbers_read_the_same_everywhere(tmp_path):
    proc = run_cli("generate", "--foot-length", "262.47", "--condition", "neutral",
                   "--side", "right", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert "-0.0" not in proc.stdout
    assert "foot 262.5 mm, insole 272.5 mm" in proc.stdout
    assert re.search(r"tilt [+-]\d+\.\d deg", proc.stdout)
    assert fmt(-0.04, sign=True) == "+0.0" and fmt(-0.0) == "0.0" and fmt(284.984) == "285.0"
