"""Acceptance matrix: every base x every condition x foot lengths, both sides.

Each order is made at a coarse plan (5 mm edges: the files are still the exact
solids the design says, only with fewer triangles) and each written STL is read
back: watertight, printable by ``insolegen check``, on z = 0 (+-1e-6 mm), heel at
x = 0 (+-1e-6 mm), left the exact mirror of right; "as designed" is the job's own
self-check (pipeline/job.py), which raises if a measured feature misses its design.
Kids are made for 160 and 220 mm feet (their 150-230 mm range), the others for
220, 265 and 310 mm. A base that refuses a condition (diabetic with posting) must
refuse it with one line, nothing written.
"""

from __future__ import annotations

import numpy as np
import pytest

from conftest import CONDITIONS, load, stl_vectors
from insolegen.check.checkfile import check_file
from insolegen.core.errors import InputError
from insolegen.pipeline.job import generate
from insolegen.pipeline.order import order_from_mapping
from insolegen.prescription.profiles import prescribe

BASES = ("casual", "sport", "dress", "work", "functional_shell", "kids", "diabetic")
CASES = [(b, c, L) for b in BASES for c in CONDITIONS
         for L in ((160, 220) if b == "kids" else (220, 265, 310))]


def _refused(base: str, condition: str) -> bool:
    try:
        prescribe(condition, base=base)
    except InputError:
        return True
    return False


@pytest.mark.parametrize("base, condition, length", CASES)
def test_every_base_condition_and_length(tmp_path, base, condition, length):
    fields = {"order_id": "m", "foot_length_mm": str(length), "conditions": condition,
              "base": base, "side": "both", "resolution_mm": "5"}
    if _refused(base, condition):
        with pytest.raises(InputError, match=f"base = {base}: .*contradictory"):
            generate(order_from_mapping(fields), tmp_path / "o")
        assert not (tmp_path / "o").exists()
        return
    result = generate(order_from_mapping(fields), tmp_path)
    for side in ("left", "right"):
        path = result.files[side]
        mesh = load(path)
        assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
        lo = mesh.bounds[0]
        assert abs(lo[2]) <= 1e-6 and abs(lo[0]) <= 1e-6, lo
        report = check_file(path)
        assert report["printable"], report["verdict"]
    right, left = stl_vectors(result.files["right"]), stl_vectors(result.files["left"])
    mirrored = right[:, ::-1] * np.array([1, -1, 1], dtype=np.float32)
    assert np.array_equal(np.sort(mirrored.reshape(len(right), -1), axis=0),
                          np.sort(left.reshape(len(left), -1), axis=0))
