"""The README tells the truth: its profile table and its two opening commands."""

from __future__ import annotations

import re

from conftest import ROOT
from insolegen.prescription.profiles import load_profile

README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_first_code_block_is_install_and_demo_then_tests():
    block = re.search(r"```sh\n(.*?)```", README, re.S).group(1).strip().splitlines()
    assert block == ["python3 -m venv .venv && .venv/bin/pip install -e '.[test]' && "
                     ".venv/bin/insolegen demo --out out",
                     ".venv/bin/python -m pytest"]
    ci = (ROOT / ".ci" / "run").read_text().splitlines()
    assert block[0] in ci and block[1] in ci  # CI runs the README's commands exactly


def test_profile_table_matches_the_profile_files():
    rows = re.findall(r"^\| `(\w+)` \| (.*) \|$", README, re.M)
    header = re.search(r"^\| parameter \| (.*) \|$", README, re.M).group(1).split(" | ")
    assert rows
    for key, cells in rows:
        for condition, cell in zip(header, cells.split(" | ")):
            value = load_profile(condition).parameters[key]
            shown = ("on" if value else "off") if isinstance(value, bool) else f"{value:g}"
            assert cell == shown, (condition, key)
