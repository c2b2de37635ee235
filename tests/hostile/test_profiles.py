"""Hostile profiles: crafted TOML files read directly and through ``--profiles`` / the env var.

Every broken profile gives one ProfileError naming the file and what is
wrong in it (the key, or the line of a syntax error); from the CLI that is
exit 2 and one line, with nothing written.
"""

from __future__ import annotations

import os
import re

import pytest

from insolegen.core.errors import InputError, ProfileError
from insolegen.pipeline.order import order_from_mapping
from insolegen.prescription.parameters import PARAMS
from insolegen.prescription.profiles import (MAX_NAME_CHARS, load_profile, load_profile_file,
                                             parse_conditions)
from insolegen.prescription.tomlfile import MAX_PROFILE_BYTES

from ._util import ROOT, assert_clean_error, listing, run_cli

pytestmark = pytest.mark.timeout(60)

NEUTRAL = (ROOT / "profiles" / "neutral.toml").read_text(encoding="utf-8")


def crafted(tmp_path, text: str | bytes, name: str = "neutral.toml"):
    path = tmp_path / name
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return path


def replace_line(key: str, line: str | None) -> str:
    """NEUTRAL with the line of ``key`` replaced (or removed if ``line`` is None)."""
    pattern = re.compile(rf"^{key} = .*\n", re.M)
    assert pattern.search(NEUTRAL), key
    return pattern.sub("" if line is None else line + "\n", NEUTRAL, count=1)


def test_the_untouched_copy_is_valid(tmp_path):
    assert load_profile_file(crafted(tmp_path, NEUTRAL)).parameters["heel_cup_depth_mm"] == 13


@pytest.mark.parametrize("key", list(PARAMS))
def test_a_missing_key_is_named(tmp_path, key):
    path = crafted(tmp_path, replace_line(key, None))
    with pytest.raises(ProfileError, match=rf"missing key\(s\): {key}$") as err:
        load_profile_file(path)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("key,line,needle", [
    ("heel_cup_depth_mm", 'heel_cup_depth_mm = "13"', None),  # a quoted number still reads
    ("heel_cup_depth_mm", 'heel_cup_depth_mm = "deep"', "heel_cup_depth_mm = 'deep'"),
    ("heel_cup_depth_mm", "heel_cup_depth_mm = true", "heel_cup_depth_mm = True"),
    ("heel_cup_depth_mm", "heel_cup_depth_mm = [13]", "heel_cup_depth_mm = [13]"),
    ("heel_cup_depth_mm", "heel_cup_depth_mm = {mm = 13}", "heel_cup_depth_mm = {'mm': 13}"),
    ("heel_cup_depth_mm", "heel_cup_depth_mm = 2024-01-01", "heel_cup_depth_mm = datetime"),
    ("heel_cup_depth_mm", "heel_cup_depth_mm = nan", "heel_cup_depth_mm = nan"),
    ("heel_cup_depth_mm", "heel_cup_depth_mm = inf", "heel_cup_depth_mm = inf"),
    ("heel_cup_depth_mm", "heel_cup_depth_mm = 1e308", "out of range"),
    ("heel_cup_depth_mm", "heel_cup_depth_mm = -0.001", "out of range"),
    ("heel_cup_depth_mm", 'heel_cup_depth_mm = "１３"', "heel_cup_depth_mm = '１３'"),
    ("met_pad", "met_pad = 1", "met_pad = 1"),
    ("met_pad", 'met_pad = "maybe"', "met_pad = 'maybe'"),
    ("insole_length", "insole_length = 3", "insole_length = 3"),
    ("insole_length", 'insole_length = "fulll"', "insole_length = 'fulll'"),
    ("rearfoot_post_deg", "rearfoot_post_deg = 9", "out of range"),
])
def test_a_wrong_type_or_value_is_named(tmp_path, key, line, needle):
    path = crafted(tmp_path, replace_line(key, line))
    if needle is None:
        load_profile_file(path)
        return
    with pytest.raises(ProfileError) as err:
        load_profile_file(path)
    message = str(err.value)
    assert str(path) in message and key in message and needle in message, message


@pytest.mark.parametrize("typo,meant", [
    ("heel_cup_depht_mm", "heel_cup_depth_mm"), ("rearfoot_post", "rearfoot_post_deg"),
    ("metpad", "met_pad"), ("Heel_cup_depth_mm", "heel_cup_depth_mm"),
])
def test_an_unknown_key_suggests_the_nearest(tmp_path, typo, meant):
    path = crafted(tmp_path, NEUTRAL.replace(f"\n{meant} =", f"\n{typo} =", 1))
    with pytest.raises(ProfileError, match=f"'{typo}'.*did you mean '{meant}'") as err:
        load_profile_file(path)
    assert str(path) in str(err.value)


def test_an_unknown_key_far_from_any_lists_the_known_ones(tmp_path):
    path = crafted(tmp_path, NEUTRAL + "zzz_qqq = 1\n")
    with pytest.raises(ProfileError, match="'zzz_qqq'.*known: base_thickness_mm"):
        load_profile_file(path)


@pytest.mark.parametrize("old,new,needle", [
    ("[parameters]", "[parameter]", "did you mean 'parameters'"),
    ('title = "', 'titel = "', "did you mean 'title'"),
    ("sources = [", "source = [", "did you mean 'sources'"),
])
def test_an_unknown_top_level_key_suggests_the_nearest(tmp_path, old, new, needle):
    path = crafted(tmp_path, NEUTRAL.replace(old, new, 1))
    with pytest.raises(ProfileError, match=needle):
        load_profile_file(path)


@pytest.mark.parametrize("mutate,line", [
    (lambda t: t.replace("[parameters]", "[parameters"), None),
    (lambda t: t.replace("heel_cup_depth_mm = 13.0", "heel_cup_depth_mm = 13.0.0"), None),
    (lambda t: t.replace("heel_cup_depth_mm = 13.0", "heel_cup_depth_mm 13.0"), None),
    (lambda t: t.replace("heel_cup_depth_mm = 13.0", "heel_cup_depth_mm = 13.0\n"
                                                     "heel_cup_depth_mm = 14.0"), None),
    (lambda t: t + 'mth5_relief_mm = 1.0\n', None),          # a duplicate on the last line
    (lambda t: t + 'broken = "no end\n', None),               # unterminated, at the end
    (lambda t: t.rstrip("\n") + "\nx =", None),              # a value missing, at the very end
])
def test_a_toml_syntax_error_names_file_and_line(tmp_path, mutate, line):
    text = mutate(NEUTRAL)
    path = crafted(tmp_path, text)
    with pytest.raises(ProfileError) as err:
        load_profile_file(path)
    message = str(err.value)
    assert str(path) in message and "TOML syntax error" in message, message
    found = re.search(r"line (\d+)", message)
    assert found, f"no line number in {message!r}"
    assert 1 <= int(found.group(1)) <= len(text.splitlines()) + 1


def test_a_duplicate_key_points_at_its_line(tmp_path):
    text = NEUTRAL.replace("heel_cup_depth_mm = 13.0", "heel_cup_depth_mm = 13.0\n"
                                                       "heel_cup_depth_mm = 14.0")
    with pytest.raises(ProfileError) as err:
        load_profile_file(crafted(tmp_path, text))
    lines = text.splitlines()
    duplicate = 1 + max(i for i, s in enumerate(lines) if s.startswith("heel_cup_depth_mm"))
    assert f"line {duplicate}" in str(err.value) or f"line {duplicate + 1}" in str(err.value)


@pytest.mark.parametrize("content,needle", [
    ("", "missing the [parameters] table"),
    ("\n\n# only comments\n", "missing the [parameters] table"),
    ("parameters = 3\n", "missing the [parameters] table"),
    (b"\xff\xfe\x00garbage\x80", "cannot be read"),
    (bytes(range(256)), "cannot be read"),
    (NEUTRAL.replace("sources = [", "sources = 3\nold = ["), "'old'"),
])
def test_empty_binary_and_odd_files(tmp_path, content, needle):
    path = crafted(tmp_path, content)
    with pytest.raises(ProfileError) as err:
        load_profile_file(path)
    assert str(path) in str(err.value) and needle in str(err.value)


def test_sources_of_the_wrong_type(tmp_path):
    text = re.sub(r"sources = \[.*?\]\n", "sources = [1, 2]\n", NEUTRAL, flags=re.S)
    with pytest.raises(ProfileError, match=r"sources = \[1, 2\]: expected a list of strings"):
        load_profile_file(crafted(tmp_path, text))


def test_a_byte_order_mark_is_fine(tmp_path):
    """Windows Notepad saves UTF-8 with a BOM; the profile must still read."""
    path = crafted(tmp_path, b"\xef\xbb\xbf" + NEUTRAL.encode())
    assert load_profile_file(path).parameters["heel_cup_depth_mm"] == 13.0


def test_an_oversized_file_is_refused_before_it_is_read(tmp_path, monkeypatch):
    path = crafted(tmp_path, NEUTRAL + "#" * (MAX_PROFILE_BYTES + 1) + "\n")
    read = []
    monkeypatch.setattr(type(path), "read_text", lambda *a, **k: read.append(1) or "")
    with pytest.raises(ProfileError, match="more than the"):
        load_profile_file(path)
    assert not read


def test_a_fifo_is_refused_without_blocking(tmp_path):
    """Opening a FIFO for reading blocks until a writer comes: it must never be opened."""
    path = tmp_path / "neutral.toml"
    os.mkfifo(path)
    with pytest.raises(ProfileError, match="not a regular file"):
        load_profile_file(path)


@pytest.mark.parametrize("kind", ["directory", "device", "missing", "dangling"])
def test_other_non_files(tmp_path, kind):
    path = tmp_path / "neutral.toml"
    if kind == "directory":
        path.mkdir()
    elif kind == "device":
        path.symlink_to("/dev/zero")
    elif kind == "dangling":
        path.symlink_to(tmp_path / "nowhere")
    with pytest.raises(ProfileError, match=str(path)):
        load_profile_file(path)


# ----------------------------------------------------------------- conditions


@pytest.mark.parametrize("conditions", [
    ",", " , ;", [], [""], ["neutral", None], "../neutral", "/etc/passwd", "neutral\x00",
    "x" * (MAX_NAME_CHARS + 1), "n" * 100_000, "ｎｅｕｔｒａｌ", "nеutral",  # Cyrillic e
    "neutral.toml", "NEUTRAL/../neutral", "~neutral", "*", "?", "neutral*",
], ids=lambda c: repr(c)[:30])
def test_hostile_condition_names_are_refused(conditions):
    with pytest.raises(InputError) as err:
        order_from_mapping({"order_id": "a", "conditions": conditions, "foot_length_mm": 265})
    assert "condition" in str(err.value) and len(str(err.value)) < 1000


@pytest.mark.parametrize("value", [",", " ; ,", []])
def test_an_empty_list_of_conditions_is_named_as_given(value):
    with pytest.raises(InputError, match=rf"^conditions = {re.escape(repr(value))}: "):
        order_from_mapping({"order_id": "a", "conditions": value, "foot_length_mm": 265})


@pytest.mark.parametrize("value", [[], (), ""])
def test_the_library_refuses_no_conditions_too(value):
    from insolegen.prescription.profiles import prescribe
    with pytest.raises(InputError, match="condition"):
        parse_conditions(value)
    with pytest.raises(InputError, match="condition"):
        prescribe(value)


def test_a_long_condition_name_never_reaches_the_file_system(monkeypatch):
    from pathlib import Path
    probes = []
    real = Path.is_file
    monkeypatch.setattr(Path, "is_file", lambda self: probes.append(self) or real(self))
    with pytest.raises(InputError):
        parse_conditions("n" * 5000)
    assert not any(len(p.name) > 255 for p in probes)


# ----------------------------------------------------------------- through the CLI


def run_with_profiles(tmp_path, folder, *extra, via="flag"):
    out = tmp_path / "out"
    args = ["generate", "--foot-length", "265", "--condition", "neutral", *extra,
            "--resolution-mm", "3", "--out", str(out)]
    if via == "flag":
        return run_cli("--profiles", str(folder), *args), out
    return run_cli(*args, env={"INSOLEGEN_PROFILES": str(folder)}), out


@pytest.mark.parametrize("via,text,needles", [
    ("flag", NEUTRAL.replace("[parameters]", "[parameters"), ["TOML syntax error", "line "]),
    ("env", NEUTRAL.replace("heel_cup_depth_mm", "heel_cup_depht_mm"),
     ["'heel_cup_depht_mm'", "did you mean 'heel_cup_depth_mm'"]),
    ("flag", replace_line("met_pad", None), ["missing key(s): met_pad"]),
    ("flag", replace_line("met_pad", 'met_pad = "perhaps"'), ["met_pad = 'perhaps'"]),
])
def test_a_broken_user_profile_is_one_line_and_exit_2(tmp_path, via, text, needles):
    folder = tmp_path / "profiles"
    folder.mkdir()
    path = crafted(folder, text)
    result, out = run_with_profiles(tmp_path, folder, via=via)
    assert_clean_error(result, str(path), *needles)
    assert listing(out) == []


def test_a_profile_folder_that_is_not_there(tmp_path):
    result, out = run_with_profiles(tmp_path, tmp_path / "nope", via="env")
    assert_clean_error(result, "INSOLEGEN_PROFILES", "not a folder")
    assert listing(out) == []


def test_listing_profiles_with_a_broken_one_is_a_clean_error(tmp_path):
    crafted(tmp_path, NEUTRAL.replace("[parameters]", "[parameters"), name="custom.toml")
    result = run_cli("--profiles", str(tmp_path), "profiles")
    assert_clean_error(result, "custom.toml", "TOML syntax error")


def test_a_good_user_profile_overrides_the_built_in_one(tmp_path):
    folder = tmp_path / "profiles"
    folder.mkdir()
    crafted(folder, replace_line("heel_cup_depth_mm", "heel_cup_depth_mm = 9.0"))
    result, out = run_with_profiles(tmp_path, folder, via="flag")
    assert result.code == 0, result.err
    assert "cup 9.0 mm" in result.out


def test_library_sees_a_user_folder_set_later(tmp_path, monkeypatch):
    """The folder is read per call, and a changed file is read again (mtime in the cache key)."""
    crafted(tmp_path, replace_line("heel_cup_depth_mm", "heel_cup_depth_mm = 9.0"))
    monkeypatch.setenv("INSOLEGEN_PROFILES", str(tmp_path))
    assert load_profile("neutral").parameters["heel_cup_depth_mm"] == 9.0
    monkeypatch.delenv("INSOLEGEN_PROFILES")
    assert load_profile("neutral").parameters["heel_cup_depth_mm"] == 13.0
