"""Helpers shared by the batch tests: reading a manifest, checking an order's files."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from insolegen.batch.run import MANIFEST_NAME
from insolegen.geometry.inspection import edge_report, read_stl


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_text(text, encoding=encoding)
    return path


def manifest(out: Path) -> list[dict]:
    return [json.loads(line) for line in (out / MANIFEST_NAME).read_text().splitlines()]


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def assert_order_valid(out: Path, entry: dict) -> None:
    """Every file of a done entry is there with its hash; STLs are closed solids."""
    assert entry["status"] in ("done", "skipped")
    for record in entry["files"]:
        path = out / record["path"]
        data = path.read_bytes()
        assert hashlib.sha256(data).hexdigest() == record["sha256"]
        assert len(data) == record["bytes"]
        if path.suffix == ".stl":
            assert len(data) == 84 + 50 * int.from_bytes(data[80:84], "little")
            report = edge_report(read_stl(path)[1])
            assert report["watertight"] and report["winding_consistent"]
        elif path.suffix == ".json":
            assert json.loads(data)["order"]["order_id"] == entry["order_id"]


def assert_folder_valid(folder: Path) -> None:
    """An order folder, with or without a manifest line: its report names its STLs, and
    every file is whole (STL size matches its triangle count) and a closed solid."""
    order_id = folder.name
    report = json.loads((folder / f"{order_id}.json").read_text(encoding="utf-8"))
    assert {*report["files"].values(), f"{order_id}.json"} <= {p.name for p in folder.iterdir()}
    for name in report["files"].values():
        data = (folder / name).read_bytes()
        assert len(data) == 84 + 50 * int.from_bytes(data[80:84], "little")
        assert edge_report(read_stl(folder / name)[1])["watertight"]
