"""A batch folder's finished parts, read back and checked against its manifest.

Every order marked ``done`` in ``DIR/manifest.jsonl`` lists its files with
their SHA-256; each ``<order_id>_<side>.stl`` among them becomes a
:class:`Part`: the mesh as the file holds it (float32 corners merged), its
footprint seen from above and its height. A file that is missing, outside
the folder or no longer the one the batch made is refused: a plate must
hold exactly the parts the manifest vouches for.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import shapely
from shapely.geometry import Polygon

from insolegen.core.errors import InputError, shown
from insolegen.geometry.inspection import merge_corners
from insolegen.output.formats import parse_stl

MANIFEST_NAME = "manifest.jsonl"
SIDES = ("left", "right")
HULL_TOLERANCE_MM = 0.5  # the footprint's outline is simplified by at most this, then grown by it


@dataclass(frozen=True)
class Part:
    """One finished insole: where it came from and its mesh (vertices (n, 3) mm, faces
    (m, 3)) in its own frame; ``footprint`` is a convex polygon (mm) holding every vertex
    seen from above, ``height_mm`` its extent in Z."""

    order_id: str
    side: str
    path: str
    sha256: str
    vertices: np.ndarray
    faces: np.ndarray
    footprint: Polygon
    height_mm: float

    @property
    def name(self) -> str:
        """The object's name on a plate: ``<order_id> <side>``, as in the order's own 3MF."""
        return f"{self.order_id} {self.side}"

    @property
    def volume_mm3(self) -> float:
        """Enclosed volume (mm^3) by the divergence theorem."""
        t = self.vertices[self.faces]
        return float(np.einsum("ij,ij->i", t[:, 0], np.cross(t[:, 1], t[:, 2])).sum() / 6.0)


def footprint(xy: np.ndarray) -> Polygon:
    """A convex polygon (mm) that holds every point of ``xy`` (k, 2), with few corners.

    The convex hull is simplified (its corners a subset of the hull's, so it lies
    inside, every point within the tolerance of it) and grown back by the tolerance
    with mitred corners (each edge moved out by the tolerance: convex, no new corners).
    """
    hull = shapely.MultiPoint(np.asarray(xy, dtype=np.float64)).convex_hull
    simple = hull.simplify(HULL_TOLERANCE_MM, preserve_topology=True)
    return simple.buffer(HULL_TOLERANCE_MM, join_style="mitre")


def _inside(root: Path, relative: str) -> Path:
    path = (root / relative).resolve()
    if not path.is_relative_to(root.resolve()):
        raise InputError(f"manifest: path = {shown(relative)}: outside the batch folder {root}")
    return path


def read_part(root: Path, order_id: str, side: str, relative: str, digest: str) -> Part:
    """The part in ``root/relative``, refused unless its SHA-256 is ``digest``."""
    path = _inside(root, relative)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"{relative}: cannot be read ({exc.strerror or exc}); the manifest "
                         "lists it") from None
    actual = hashlib.sha256(data).hexdigest()
    if actual != digest:
        raise InputError(f"{relative}: sha256 {actual[:12]}... is not the manifest's "
                         f"{str(digest)[:12]}...: the file changed since the batch made it")
    vertices, faces = merge_corners(parse_stl(data, relative))
    vertices = vertices.astype(np.float64)
    lo, hi = vertices.min(axis=0), vertices.max(axis=0)
    return Part(order_id, side, relative, actual, vertices, faces.astype(np.int64),
                footprint(vertices[:, :2]), float(hi[2] - lo[2]))


def batch_parts(root: Path) -> list[Part]:
    """Every insole STL of every finished (``done`` or ``skipped``) order in the batch folder ``root``, in manifest
    order; InputError if there is no manifest or no part."""
    root = Path(root)
    manifest = root / MANIFEST_NAME
    try:
        lines = manifest.read_text(encoding="utf-8").splitlines()
    except OSError:
        raise InputError(f"batch folder = '{root}': no readable {MANIFEST_NAME} (plates are "
                         "made from a batch folder: insolegen batch ... --out DIR)") from None
    latest: dict[str, dict] = {}
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            raise InputError(f"{manifest}: line {number} is not JSON") from None
        if isinstance(entry, dict) and isinstance(entry.get("order_id"), str):
            latest[entry["order_id"]] = entry  # a later line for an order replaces an earlier
    parts = []
    for order_id, entry in latest.items():
        if entry.get("status") not in ("done", "skipped"):  # skipped: done earlier, intact
            continue
        for record in entry.get("files") or ():
            name = str(record.get("path", "")).rsplit("/", 1)[-1]
            for side in SIDES:
                if name == f"{order_id}_{side}.stl":
                    parts.append(read_part(root, order_id, side, str(record["path"]),
                                           str(record.get("sha256"))))
    if not parts:
        raise InputError(f"batch folder = '{root}': no finished insole STL in {MANIFEST_NAME}")
    return parts
