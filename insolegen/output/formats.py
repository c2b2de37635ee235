"""Mesh file formats as bytes: STL (binary and ASCII), OBJ and 3MF out; STL and 3MF in.

Writers return the whole file as ``bytes`` so the same function serves a
local job (:class:`insolegen.output.files.AtomicWriter` puts the bytes on disk)
and a remote worker (the bytes travel back to the client). Output is
deterministic: no timestamps, fixed number formats, fixed zip entry dates,
so the same solid always gives the same bytes.

Every format carries the same float32 coordinates as the binary STL,
printed with 9 significant digits (exact for float32), so the STL, OBJ and
3MF of one insole are the same geometry to the last bit. Units: mm; 3MF
says so (``unit="millimeter"``), OBJ and STL have no unit field and say so
in their header/comment.
"""

from __future__ import annotations

import io
import re
import zipfile

import numpy as np

from insolegen.output.stl import stl_bytes_array
from insolegen.geometry.inspection import merge_corners
from insolegen.mesh.solid import Solid

PLATE_GAP_MM = 10.0          # space between the two insoles on a 3MF build plate
_NS_3MF = "http://schemas.microsoft.com/3dmanufacturing/core/2015/02"
_ZIP_DATE = (1980, 1, 1, 0, 0, 0)


def float32_triangles(solid: Solid) -> np.ndarray:
    """(m, 3, 3) float32 corners of every face: the coordinates every format stores."""
    return solid.triangles.astype(np.float32)


def indexed(solid: Solid) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (n, 3) and faces (m, 3) of the float32 corners, equal corners merged
    exactly as the STL reader merges them (:func:`insolegen.geometry.inspection.merge_corners`)."""
    return merge_corners(float32_triangles(solid))


def _numbers(fmt_row: str, rows: np.ndarray) -> str:
    """Format a (k, c) array row by row with one %-format per row (vectorised)."""
    if len(rows) == 0:
        return ""
    return (fmt_row * len(rows)) % tuple(rows.ravel().tolist())


def stl_ascii(solid: Solid, name: str) -> bytes:
    """ASCII STL (mm): the binary STL's float32 normals and corners, 9 digits each."""
    data = stl_bytes_array(solid)  # the binary writer's normals and corners, float32
    rows = np.concatenate([data["normals"], data["vectors"].reshape(-1, 9)], axis=1)
    facet = ("facet normal %.9g %.9g %.9g\n  outer loop\n" + "    vertex %.9g %.9g %.9g\n" * 3
             + "  endloop\nendfacet\n")
    label = re.sub(r"\s+", " ", name).strip()
    return f"solid {label}\n{_numbers(facet, rows)}endsolid {label}\n".encode("ascii")


def obj(solid: Solid, comment: str) -> bytes:
    """Wavefront OBJ: one object, vertices (mm) and 1-based triangle faces."""
    vertices, faces = indexed(solid)
    head = "".join(f"# {line}\n" for line in comment.splitlines())
    return (head + "# units: millimetre\n"
            + _numbers("v %.9g %.9g %.9g\n", vertices)
            + _numbers("f %d %d %d\n", faces + 1)).encode("ascii")


def plate_offsets(solids: dict[str, Solid], gap_mm: float = PLATE_GAP_MM
                  ) -> dict[str, tuple[float, float, float]]:
    """Translations that put the insoles side by side on a build plate, ``gap_mm`` apart.

    Seen from above with the toes along +X, the left insole lies on the left
    (+Y) of the right one, as under the wearer's feet; the pair starts at
    x = 0, y = 0 and stays on z = 0.
    """
    offsets = {}
    y = 0.0
    for side in ("right", "left"):
        if side in solids:
            lo, hi = solids[side].vertices.min(axis=0), solids[side].vertices.max(axis=0)
            offsets[side] = (float(-lo[0]), float(y - lo[1]), 0.0)
            y += float(hi[1] - lo[1]) + gap_mm
    return offsets


def threemf(solids: dict[str, Solid], order_id: str, title: str,
            inserts: dict[str, list[tuple[str, Solid]]] | None = None) -> bytes:
    """3MF package (unit millimetre) with one named object per side, ``<id> left|right``,
    placed side by side by build-item translations (:func:`plate_offsets`). ``inserts``:
    per side, separate bodies (e.g. soft plugs) named ``<id> <side> <label>``, placed with
    their side, where they sit in it."""
    offsets = plate_offsets(solids)
    objects = []
    sides = [s for s in ("left", "right") if s in solids]
    bodies = [(side, f"{order_id} {side}", solids[side]) for side in sides]
    bodies += [(side, f"{order_id} {side} {label}", solid)
               for side in sides for label, solid in (inserts or {}).get(side, ())]
    for side, name, solid in bodies:
        vertices, faces = indexed(solid)
        placement = np.eye(4)
        placement[:3, 3] = offsets[side]
        objects.append((name, vertices, faces, placement))
    return threemf_objects(objects, title)


def threemf_objects(objects: list[tuple[str, np.ndarray, np.ndarray, np.ndarray]],
                    title: str, compresslevel: int = 6) -> bytes:
    """3MF package (unit millimetre) of named objects, each ``(name, vertices (n, 3) mm,
    faces (m, 3), placement (4, 4))``: one object and one build item per entry, the
    placement (a rotation and a translation) as the item's transform; ``compresslevel``
    of the zip (1 fastest, 9 smallest)."""
    parts_xml, items = [], []
    for number, (name, vertices, faces, placement) in enumerate(objects, start=1):
        parts_xml.append(mesh_object(number, name, vertices, faces))
        m = np.asarray(placement, dtype=np.float64)
        # 3MF's matrix acts on row vectors: the 3x3 part is stored transposed, column by column
        values = np.concatenate([m[:3, :3].T.ravel(), m[:3, 3]]) + 0.0
        items.append(f' <item objectid="{number}" transform="'
                     + " ".join(f"{v:.9g}" if i < 9 else f"{v:.6f}" for i, v in enumerate(values))
                     + '"/>\n')
    return package(model_xml(title, parts_xml, items), compresslevel=compresslevel)


def mesh_object(oid: int, name: str, vertices: np.ndarray, faces: np.ndarray,
                material: tuple[int, int] | None = None, props: np.ndarray | None = None
                ) -> str:
    """One 3MF ``<object>`` holding a mesh: vertices (n, 3) mm, faces (m, 3). ``material``
    ``(pid, pindex)``: the object's material (a ``<basematerials>`` id and index);
    ``props`` (m,) int: each triangle's index in that group, -1 for the object's own."""
    from xml.sax.saxutils import quoteattr  # urllib comes with it: only when a 3MF is made
    pid = "" if material is None else f' pid="{material[0]}" pindex="{material[1]}"'
    if props is None:
        triangles = _numbers('<triangle v1="%d" v2="%d" v3="%d"/>\n', faces)
    else:
        own = props < 0
        rows = np.column_stack([faces, props])
        triangles = "".join(
            (_numbers('<triangle v1="%d" v2="%d" v3="%d"/>\n', faces[r]) if own[r[0]] else
             _numbers(f'<triangle v1="%d" v2="%d" v3="%d" pid="{material[0]}" p1="%d"/>\n',
                      rows[r]))
            for r in np.split(np.arange(len(faces)), np.flatnonzero(np.diff(own)) + 1) if len(r))
    return (f' <object id="{oid}" type="model" name={quoteattr(name)}{pid}><mesh><vertices>\n'
            + _numbers('<vertex x="%.9g" y="%.9g" z="%.9g"/>\n', vertices)
            + "</vertices><triangles>\n" + triangles + "</triangles></mesh></object>\n")


def model_xml(title: str, objects: list[str], items: list[str]) -> str:
    """The 3MF model part (unit millimetre) of these ``<object>`` and ``<item>`` lines."""
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            f'<model unit="millimeter" xml:lang="en-US" xmlns="{_NS_3MF}">\n'
            f' <metadata name="Title">{_xml_text(title)}</metadata>\n'
            ' <metadata name="Application">insolegen</metadata>\n'
            "<resources>\n" + "".join(objects) + "</resources>\n"
            "<build>\n" + "".join(items) + "</build>\n</model>\n")


def package(model: str, extra: dict[str, str] | None = None, compresslevel: int = 6) -> bytes:
    """A 3MF zip package around the ``model`` XML text, with ``extra`` parts (name -> text,
    e.g. slicer settings under ``Metadata/``); deterministic bytes."""
    parts = {
        "[Content_Types].xml": (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" '
            'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="model" '
            'ContentType="application/vnd.ms-package.3dmanufacturing-3dmodel+xml"/></Types>\n'),
        "_rels/.rels": (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
            '<Relationship Target="/3D/3dmodel.model" Id="rel0" '
            'Type="http://schemas.microsoft.com/3dmanufacturing/2013/01/3dmodel"/>'
            "</Relationships>\n"),
        "3D/3dmodel.model": model,
        **(extra or {}),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in parts.items():
            info = zipfile.ZipInfo(name, date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            info.create_system = 3
            archive.writestr(info, text.encode("utf-8"), compresslevel=compresslevel)
    return buffer.getvalue()


def _xml_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# The readers (STL and 3MF in, bounded) live in insolegen.output.meshread; here for callers
# of the older name.
from insolegen.output.meshread import Body, parse_3mf, parse_stl  # noqa: E402

__all__ = ["Body", "float32_triangles", "indexed", "obj", "parse_3mf", "parse_stl",
           "plate_offsets", "stl_ascii", "threemf"]
