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
    assert "cli.py" in names
    entry = next(n for n in names if n.endswith("entry_points.txt"))
    assert "insolegen = cli:main" in zipfile.ZipFile(wheel).read(entry).decode()


def test_installed_wheel_finds_profiles_outside_the_checkout(wheel, tmp_path):
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import insolegen.profiles as p; "
            "assert p.__file__.startswith(sys.argv[1]), p.__file__; print(','.join(p.available()))")
    out = subprocess.run([sys.executable, "-c", code, str(site)], cwd=tmp_path, check=True,
                         capture_output=True, text=True, timeout=60).stdout
    assert set(CONDITIONS) <= set(out.strip().split(","))
