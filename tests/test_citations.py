"""Clinical numbers cite publications or standards, or say plainly that they are a lab
convention with no publication; none cites an internal document."""

from __future__ import annotations

import re

import pytest

from insolegen.prescription.materials import MATERIALS
from insolegen.prescription.profiles import available, load_profile

INTERNAL = re.compile(r"DESIGN\.md|STYLE\.md|internal", re.I)
PUBLISHED = re.compile(r"\b(19|20)\d\d\b|ISO\b|ASTM\b|data sheet|design guide", re.I)
CONVENTION = re.compile(r"no publication", re.I)


def _ok(source: str) -> bool:
    return not INTERNAL.search(source) and bool(PUBLISHED.search(source)
                                                or CONVENTION.search(source))


@pytest.mark.parametrize("name", available())
def test_every_profile_source_is_a_publication_or_a_stated_convention(name):
    sources = load_profile(name).sources
    assert sources
    assert [s for s in sources if not _ok(s)] == []


@pytest.mark.parametrize("name", sorted(MATERIALS))
def test_every_material_source_is_a_publication_or_a_stated_convention(name):
    source = MATERIALS[name].source
    assert not INTERNAL.search(source)
    for part in source.split("; wall:"):
        assert _ok(part), part
