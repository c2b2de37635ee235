"""Shared fixtures: real orders run through the real pipeline into tmp folders."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import trimesh
from stl.mesh import Mesh

from insolegen.pipeline.order import order_from_mapping
from insolegen.pipeline.job import generate

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).resolve().parent / "data"
CONDITIONS = ("neutral", "flat_feet", "high_arches", "plantar_fasciitis", "overpronation",
              "supination")


def make_pair(out: Path, **fields):
    """Generate an order (fields as in a batch row) into ``out``; return the Result."""
    data = {"order_id": "t", "side": "both", "conditions": "neutral", **fields}
    return generate(order_from_mapping(data), out)


def load(path: Path) -> trimesh.Trimesh:
    """Load a written mesh with trimesh (independent of insolegen's own reader)."""
    return trimesh.load(str(path), force="mesh")


def stl_vectors(path: Path) -> np.ndarray:
    """(m, 3, 3) float32 triangle corners exactly as stored in an STL file."""
    return Mesh.from_file(str(path)).vectors


def run_cli(*args: str, cwd: Path | None = None, env: dict | None = None,
            timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``insolegen`` as a user would, in a subprocess."""
    script = Path(sys.executable).with_name("insolegen")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "insolegen"]
    return subprocess.run([*command, *args], cwd=cwd or ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture(scope="session")
def ansur_rows() -> list[dict]:
    import csv
    with open(DATA / "ansur2_feet.csv", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))
