"""A plain, non-editable install carries the profiles and the command line."""

from __future__ import annotations

import subprocess
import sys
import zipfile

import pytest

from conftest import CONDITIONS, ROOT


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--quiet", "-w",
                    str(out), str(ROOT)], check=True, timeout=300, capture_output=True)
    return next(out.glob("insolegen-*.whl"))


def test_wheel_contains_profiles_and_cli(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for condition in CONDITIONS:
        assert f"insolegen/profile_data/{condition}.toml" in names
    assert "insolegen/cli/main.py" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "insolegen = insolegen.cli.main:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_wheel_installs_nothing_at_the_top_level_but_insolegen(wheel):
    """No generic ``cli`` module (or anything else) beside the package in site-packages."""
    names = zipfile.ZipFile(wheel).namelist()
    top = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert top == {"insolegen"}
    top_level = next(n for n in names if n.endswith("top_level.txt"))
    assert zipfile.ZipFile(wheel).read(top_level).decode().split() == ["insolegen"]


def test_wheel_carries_every_subpackage(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for init in (ROOT / "insolegen").rglob("__init__.py"):
        assert init.relative_to(ROOT).as_posix() in names, init


def test_installed_wheel_finds_profiles_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import insolegen.prescription.profiles as p; "
            "assert p.__file__.startswith(sys.argv[1]), p.__file__; print(','.join(p.available()))")
    out = subprocess.run([sys.executable, "-c", code, str(site)], cwd=tmp_path, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    assert set(CONDITIONS) <= set(out.strip().split(","))
