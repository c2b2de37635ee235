"""The command line as a user meets it: real subprocesses, real files, exit codes."""

from __future__ import annotations

import json
import re

import pytest

from conftest import CONDITIONS, ROOT, load, run_cli


def one_clean_error(proc, *needles: str) -> None:
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def test_generate_writes_a_pair_and_a_report(tmp_path):
    proc = run_cli("generate", "--foot-length", "265", "--condition", "flat_feet",
                   "--set", "heel_cup_depth_mm=19", "--id", "P-1", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["P-1.json", "P-1_left.stl",
                                                          "P-1_right.stl"]
    report = json.loads((tmp_path / "P-1.json").read_text())
    assert report["design"]["params"]["heel_cup_depth_mm"] == 19.0
    assert report["measured"]["right"]["heel_cup_depth_mm"] == pytest.approx(19.0, abs=0.5)
    assert load(tmp_path / "P-1_left.stl").is_watertight
    assert "cup 19.0 mm" in proc.stdout


def test_shoe_size_and_one_side(tmp_path):
    proc = run_cli("generate", "--shoe-size", "US-W 8", "--condition", "plantar_fasciitis",
                   "--side", "left", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["insole.json", "insole_left.stl"]


@pytest.mark.parametrize("args,needles", [
    (["--foot-length", "-265"], ["foot_length_mm", "-265"]),
    (["--foot-length", "0"], ["foot_length_mm"]),
    (["--foot-length", "abc"], ["foot_length_mm", "abc"]),
    (["--foot-length", "50"], ["foot_length_mm", "150 to 350"]),
    (["--foot-length", "600"], ["foot_length_mm", "150 to 350"]),
    (["--foot-length", "265", "--ball-width", "nan"], ["ball_width_mm"]),
    (["--shoe-size", "EU 99"], ["shoe_size", "EU sizes run from"]),
    (["--foot-length", "265", "--condition", "bunions"], ["bunions", "flat_feet", "supination"]),
    (["--foot-length", "265", "--set", "heel_cup_dept_mm=3"], ["heel_cup_dept_mm",
                                                                "did you mean 'heel_cup_depth_mm'"]),
    (["--foot-length", "265", "--set", "heel_cup_depth_mm=31"], ["heel_cup_depth_mm", "0 to 30"]),
    (["--foot-length", "265", "--set", "heel_cup_depth_mm"], ["KEY=VALUE"]),
    (["--foot-length", "265", "--side", "middle"], ["side", "middle"]),
    (["--foot-length", "265", "--id", "../../etc/x"], ["order_id", "../../etc/x"]),
    (["--foot-length", "265", "--resolution-mm", "0.01"], ["resolution_mm"]),
    (["--foot-length", "265", "--condition", "flat_feet,high_arches"], ["contradictory"]),
    (["--foot-length", "265", "--set", "medial_heel_skive_mm=3"], ["medial_heel_skive_mm",
                                                                   "heel_cup_depth_mm"]),
])
def test_bad_input_is_one_line_exit_2_and_nothing_written(tmp_path, args, needles):
    out = tmp_path / "out"
    base = ["generate", "--out", str(out)]
    if "--condition" not in args:
        base += ["--condition", "neutral"]
    one_clean_error(run_cli(*base, *args), *needles)
    assert not out.exists() or not any(out.iterdir())


def test_argparse_errors_are_one_line_too(tmp_path):
    one_clean_error(run_cli("generate", "--foot-length", "265", "--out", str(tmp_path)),
                    "--condition")


@pytest.mark.parametrize("where", ["file", "proc"])
def test_unwritable_output_folder(tmp_path, where):
    if where == "file":
        blocker = tmp_path / "plain.txt"
        blocker.write_text("x")
        out = blocker / "sub"
    else:
        out = "/proc/insolegen-out"
    proc = run_cli("generate", "--foot-length", "265", "--condition", "neutral",
                   "--out", str(out))
    one_clean_error(proc, "out =", "not a writable folder")


def test_existing_files_need_force(tmp_path):
    args = ["generate", "--foot-length", "265", "--condition", "neutral", "--resolution-mm",
            "3", "--out", str(tmp_path)]
    assert run_cli(*args).returncode == 0
    before = (tmp_path / "insole_right.stl").read_bytes()
    one_clean_error(run_cli(*args[:-2], "--set", "heel_cup_depth_mm=9", *args[-2:]),
                    "already exists", "--force")
    assert (tmp_path / "insole_right.stl").read_bytes() == before
    assert run_cli(*args, "--force").returncode == 0
    assert not [p for p in tmp_path.iterdir() if "tmp" in p.name]


def test_malformed_profile_via_cli_names_file_and_key(tmp_path):
    text = (ROOT / "profiles" / "neutral.toml").read_text()
    (tmp_path / "neutral.toml").write_text(text.replace("heel_cup_depth_mm = 13.0",
                                                        "heel_cup_depth_mm = -4"))
    proc = run_cli("--profiles", str(tmp_path), "generate", "--foot-length", "265",
                   "--condition", "neutral", "--out", str(tmp_path / "out"))
    one_clean_error(proc, str(tmp_path / "neutral.toml"), "heel_cup_depth_mm = -4")
    assert not (tmp_path / "out").exists()


def test_profiles_lists_and_shows(tmp_path):
    proc = run_cli("profiles")
    assert proc.returncode == 0
    for name in CONDITIONS:
        assert name in proc.stdout
    proc = run_cli("profiles", "overpronation")
    assert proc.returncode == 0
    assert re.search(r"^heel_cup_depth_mm +(= )?20 ", proc.stdout, re.M)
    assert "source:" in proc.stdout


def test_check_prints_measured_features_as_json(tmp_path):
    assert run_cli("generate", "--foot-length", "245", "--condition", "overpronation",
                   "--id", "c1", "--out", str(tmp_path)).returncode == 0
    proc = run_cli("check", str(tmp_path / "c1_left.stl"))
    assert proc.returncode == 0, proc.stderr
    report = json.loads(proc.stdout)
    m = report["measured"]
    assert m["watertight"] and m["winding_consistent"] and m["volume_mm3"] > 0
    assert m["heel_cup_depth_mm"] == pytest.approx(20.0, abs=0.5)
    assert m["rearfoot_tilt_deg"] == pytest.approx(5.0, abs=0.5)
    assert report["as_designed"] is True


def test_demo_runs_on_the_bundled_default(tmp_path):
    proc = run_cli("demo", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "demo_left.stl").exists() and (tmp_path / "demo_right.stl").exists()
