"""``insolegen check``: measure an insole file and compare it with its design if known."""

from __future__ import annotations

import json
import re
from pathlib import Path

from insolegen.errors import InputError
from insolegen.inspection import measure, read_stl
from insolegen.pipeline import compare

_SIDE = re.compile(r"^(?P<stem>.+)_(?P<side>left|right)$")


def check_file(path: Path, side: str | None = None, design: Path | None = None) -> dict:
    """Measured features of the insole in ``path`` (JSON-able).

    The side comes from ``side`` or the file name (``<id>_left.stl``); the
    landmarks from ``design`` or the ``<id>.json`` report beside the file,
    else they are estimated from the mesh.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(f"file = '{path}': no such file")
    match = _SIDE.match(path.stem)
    if side is None:
        if match is None:
            raise InputError(f"side: not in the file name '{path.name}'; give --side left|right")
        side = match.group("side")
    if design is None and match is not None:
        beside = path.with_name(match.group("stem") + ".json")
        design = beside if beside.is_file() else None
    vertices, faces = read_stl(path)
    report: dict = {"file": str(path), "side": side}
    if design is not None:
        try:
            data = json.loads(Path(design).read_text(encoding="utf-8"))
            d = data["design"] if "design" in data else data
            landmarks = {k: tuple(v) for k, v in d["landmarks"].items()}
            heel_w = d["foot"]["heel_width_mm"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise InputError(f"design = '{design}': not an insolegen design report ({exc})") \
                from None
        report["design"] = str(design)
        report["measured"] = measure(vertices, faces, side, landmarks, heel_w)
        report["checks"] = compare(report["measured"], d["expected"])
        report["as_designed"] = all(c["ok"] for c in report["checks"].values())
    else:
        report["landmarks"] = "estimated from the mesh (no design report found)"
        report["measured"] = measure(vertices, faces, side)
    return report
