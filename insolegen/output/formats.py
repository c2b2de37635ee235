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
from dataclasses import dataclass
from xml.etree import ElementTree

import numpy as np
from stl.mesh import Mesh

from insolegen.core.errors import ScanError
from insolegen.output.stl import stl_bytes_array
from insolegen.geometry.inspection import merge_corners
from insolegen.mesh.solid import Solid

PLATE_GAP_MM = 10.0          # space between the two insoles on a 3MF build plate
MAX_3MF_MODEL_BYTES = 2**31  # refuse to inflate a 3MF model part larger than this
_UNITS_MM = {"micron": 1e-3, "millimeter": 1.0, "centimeter": 10.0, "inch": 25.4,
             "foot": 304.8, "meter": 1000.0}
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
    from xml.sax.saxutils import quoteattr  # urllib comes with it: only when a 3MF is made
    parts_xml, items = [], []
    for number, (name, vertices, faces, placement) in enumerate(objects, start=1):
        parts_xml.append(
            f' <object id="{number}" type="model" name={quoteattr(name)}>'
            "<mesh><vertices>\n"
            + _numbers('<vertex x="%.9g" y="%.9g" z="%.9g"/>\n', vertices)
            + "</vertices><triangles>\n"
            + _numbers('<triangle v1="%d" v2="%d" v3="%d"/>\n', faces)
            + "</triangles></mesh></object>\n")
        m = np.asarray(placement, dtype=np.float64)
        # 3MF's matrix acts on row vectors: the 3x3 part is stored transposed, column by column
        values = np.concatenate([m[:3, :3].T.ravel(), m[:3, 3]]) + 0.0
        items.append(f' <item objectid="{number}" transform="'
                     + " ".join(f"{v:.9g}" if i < 9 else f"{v:.6f}" for i, v in enumerate(values))
                     + '"/>\n')
    model = ('<?xml version="1.0" encoding="UTF-8"?>\n'
             f'<model unit="millimeter" xml:lang="en-US" xmlns="{_NS_3MF}">\n'
             f' <metadata name="Title">{_xml_text(title)}</metadata>\n'
             ' <metadata name="Application">insolegen</metadata>\n'
             "<resources>\n" + "".join(parts_xml) + "</resources>\n"
             "<build>\n" + "".join(items) + "</build>\n</model>\n")
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


# --- reading -----------------------------------------------------------------------

def parse_stl(data: bytes, where: str) -> np.ndarray:
    """(m, 3, 3) float32 triangle corners of a binary or ASCII STL held in ``data``.

    Binary when the size matches the face count in bytes 80-84 (an ASCII-looking
    ``solid`` header does not decide it); ASCII otherwise.
    """
    if len(data) >= 84:
        count = int(np.frombuffer(data, "<u4", 1, 80)[0])
        if len(data) == 84 + 50 * count:
            tri = np.frombuffer(data, Mesh.dtype, count, 84)["vectors"].copy()
            if not np.all(np.isfinite(tri)):
                raise ScanError(f"{where}: not a readable STL (non-finite coordinates)")
            return tri
    if not data.lstrip()[:5].lower() == b"solid":
        raise ScanError(f"{where}: not a readable STL (neither binary nor ASCII)")
    tokens = np.array(data.split(), dtype=object)
    at = np.flatnonzero((tokens == b"vertex") | (tokens == b"VERTEX"))
    if len(at) == 0 or len(at) % 3 or at[-1] + 3 >= len(tokens):
        raise ScanError(f"{where}: not a readable STL (ASCII without whole triangles)")
    picked = tokens[(at[:, None] + np.arange(1, 4)).ravel()]
    try:
        xyz = np.fromiter(map(float, picked), dtype=np.float64, count=len(picked))
    except ValueError:
        raise ScanError(f"{where}: not a readable STL (a vertex is not three numbers)") from None
    if not np.all(np.isfinite(xyz)):
        raise ScanError(f"{where}: not a readable STL (non-finite coordinates)")
    return xyz.astype(np.float32).reshape(-1, 3, 3)


@dataclass(frozen=True)
class Body:
    """One object of a mesh file: name, object-frame vertices (n, 3) float mm,
    faces (m, 3) int, and its placement on the plate (4, 4) float."""

    name: str
    vertices: np.ndarray
    faces: np.ndarray
    placement: np.ndarray

    def placed(self) -> tuple[np.ndarray, np.ndarray]:
        """Vertices and faces where the build item puts them (faces re-wound if mirrored)."""
        v = self.vertices @ self.placement[:3, :3].T + self.placement[:3, 3]
        mirrored = np.linalg.det(self.placement[:3, :3]) < 0
        return v, (self.faces[:, ::-1] if mirrored else self.faces)


def _transform(text: str | None, where: str) -> np.ndarray:
    m = np.eye(4)
    if text:
        try:
            values = np.array(text.split(), dtype=float)
        except ValueError:
            values = np.array([])
        if values.shape != (12,) or not np.all(np.isfinite(values)):
            raise ScanError(f"{where}: transform = {text[:60]!r}: expected 12 numbers")
        m[:3, :3] = values[:9].reshape(3, 3).T
        m[:3, 3] = values[9:]
    return m


def parse_3mf(data: bytes, where: str) -> list[Body]:
    """The build items of a 3MF package as bodies in mm (components flattened)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if i.filename.lower().endswith(".model")
                 and i.filename.lower().lstrip("/").startswith("3d/")]
        main = next((i for i in infos if i.filename.lower().lstrip("/") == "3d/3dmodel.model"),
                    infos[0] if infos else None)
        if main is None:
            raise ScanError(f"{where}: not a 3MF package (no 3D/3dmodel.model)")
        if main.file_size > MAX_3MF_MODEL_BYTES:
            raise ScanError(f"{where}: 3MF model of {main.file_size} bytes is too large")
        root = ElementTree.fromstring(archive.read(main))
    except (zipfile.BadZipFile, ElementTree.ParseError, OSError, EOFError) as exc:
        raise ScanError(f"{where}: not a readable 3MF ({exc})") from None
    ns = root.tag[:root.tag.index("}") + 1] if root.tag.startswith("{") else ""
    unit = root.get("unit", "millimeter")
    if unit not in _UNITS_MM:
        raise ScanError(f"{where}: unit = {unit!r}: expected one of {', '.join(_UNITS_MM)}")
    scale = _UNITS_MM[unit]
    meshes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    parts: dict[str, list[tuple[str, np.ndarray]]] = {}
    names: dict[str, str] = {}
    for obj in root.iter(f"{ns}object"):
        oid = obj.get("id", "")
        names[oid] = obj.get("name") or f"object {oid}"
        mesh = obj.find(f"{ns}mesh")
        if mesh is not None:
            try:
                v = np.array([[float(e.get("x")), float(e.get("y")), float(e.get("z"))]
                              for e in mesh.iter(f"{ns}vertex")], dtype=np.float64) * scale
                f = np.array([[int(e.get("v1")), int(e.get("v2")), int(e.get("v3"))]
                              for e in mesh.iter(f"{ns}triangle")], dtype=np.int64)
            except (TypeError, ValueError):
                raise ScanError(f"{where}: object {oid}: a vertex or triangle is not numeric") \
                    from None
            v, f = v.reshape(-1, 3), f.reshape(-1, 3)
            if len(f) and (f.min() < 0 or f.max() >= len(v)):
                raise ScanError(f"{where}: object {oid}: a triangle refers to a missing vertex")
            if not np.all(np.isfinite(v)):
                raise ScanError(f"{where}: object {oid}: non-finite coordinates")
            meshes[oid] = (v, f)
        parts[oid] = [(c.get("objectid", ""), _transform(c.get("transform"), where))
                      for c in obj.iter(f"{ns}component")]

    def flatten(oid: str, depth: int) -> list[tuple[np.ndarray, np.ndarray]]:
        if depth > 16:
            raise ScanError(f"{where}: components nested too deep (a cycle?)")
        if oid not in names:
            raise ScanError(f"{where}: objectid = {oid!r}: no such object")
        out = []
        if oid in meshes:
            out.append(meshes[oid])
        for child, m in parts[oid]:
            for v, f in flatten(child, depth + 1):
                mirrored = np.linalg.det(m[:3, :3]) < 0
                out.append((v @ m[:3, :3].T + m[:3, 3] * scale,
                            f[:, ::-1] if mirrored else f))
        return out

    bodies = []
    build = root.find(f"{ns}build")
    for item in (build.iter(f"{ns}item") if build is not None else ()):
        oid = item.get("objectid", "")
        pieces = flatten(oid, 0)
        starts = np.cumsum([0] + [len(v) for v, _ in pieces])
        v = np.vstack([p[0] for p in pieces]) if pieces else np.zeros((0, 3))
        f = (np.vstack([p[1] + s for p, s in zip(pieces, starts)]) if pieces
             else np.zeros((0, 3), np.int64))
        placement = _transform(item.get("transform"), where)
        placement[:3, 3] *= scale
        bodies.append(Body(names[oid], v, f, placement))
    if not bodies:
        raise ScanError(f"{where}: 3MF without build items: nothing to print")
    return bodies
