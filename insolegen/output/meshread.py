"""Mesh files in: STL (binary and ASCII) and 3MF, read with the work bounded before it is done.

A file to check may come from anywhere, so every reader bounds what it
does by the file's own declarations before doing it: a binary STL's
triangle count, a 3MF model part's inflated size (read as a stream, never
more than :data:`MAX_3MF_MODEL_BYTES`, whatever the zip claims), its
elements as they are parsed (no tree is built), the depth and fan-out of
its components and the triangles they instance. Anything beyond a bound
is a :class:`~insolegen.core.errors.ScanError` naming it (exit 2).
"""

from __future__ import annotations

import io
import logging
import zipfile
from array import array
from dataclasses import dataclass
from xml.parsers import expat

import numpy as np
from stl.mesh import Mesh

from insolegen.core.errors import ScanError

log = logging.getLogger("insolegen")

# An insole is a few hundred thousand triangles (2 million at 0.3 mm), its 3MF model about
# 60 bytes a triangle; the bounds leave room for other meshes and refuse only hostile ones.
MAX_TRIANGLES = 10_000_000        # per file, after components are instanced
MAX_VERTICES = 10_000_000         # per file, as declared
MAX_3MF_MODEL_BYTES = 1 << 30     # the model part inflated (its XML)
MAX_COMPONENT_DEPTH = 16          # components within components
MAX_COMPONENTS = 100_000          # component references in the whole model
MAX_INSTANCES = 10_000            # meshes placed by the build after components are followed
_UNITS_MM = {"micron": 1e-3, "millimeter": 1.0, "centimeter": 10.0, "inch": 25.4,
             "foot": 304.8, "meter": 1000.0}
_CHUNK = 1 << 20


def parse_stl(data: bytes, where: str) -> np.ndarray:
    """(m, 3, 3) float32 triangle corners of a binary or ASCII STL held in ``data``.

    Binary when the size matches the face count in bytes 80-84 (an ASCII-looking
    ``solid`` header does not decide it), or when the file is longer than its
    counted faces and does not start with ``solid`` (the bytes after them are
    ignored, with a warning); ASCII otherwise. At most :data:`MAX_TRIANGLES`.
    """
    if len(data) >= 84:
        count = int(np.frombuffer(data, "<u4", 1, 80)[0])
        exact = len(data) == 84 + 50 * count
        trailing = not exact and len(data) > 84 + 50 * count \
            and data.lstrip()[:5].lower() != b"solid"
        if (exact or trailing) and count > MAX_TRIANGLES:
            raise ScanError(f"{where}: binary STL of {count} triangles; accepted: at most "
                            f"{MAX_TRIANGLES}")
        if trailing:
            log.warning("%s: %d bytes after the %d triangles the header counts; ignored", where,
                        len(data) - 84 - 50 * count, count)
        if exact or trailing:
            tri = np.frombuffer(data, Mesh.dtype, count, 84)["vectors"].copy()
            if not np.all(np.isfinite(tri)):
                raise ScanError(f"{where}: not a readable STL (non-finite coordinates)")
            return tri
    if not data.lstrip()[:5].lower() == b"solid":
        raise ScanError(f"{where}: not a readable STL (neither binary nor ASCII)")
    if data.count(b"vertex") + data.count(b"VERTEX") > 3 * MAX_TRIANGLES:
        raise ScanError(f"{where}: ASCII STL of more than {MAX_TRIANGLES} triangles; "
                        f"accepted: at most {MAX_TRIANGLES}")
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


class _Model:
    """The parts of a 3MF model that make geometry, collected by expat callbacks as the XML
    streams in (no element tree; every count bounded as it grows)."""

    def __init__(self, where: str) -> None:
        self.where = where
        self.unit = "millimeter"
        self.names: dict[str, str] = {}
        self.vertices: dict[str, array] = {}
        self.triangles: dict[str, array] = {}
        self.parts: dict[str, list[tuple[str, str | None]]] = {}
        self.items: list[tuple[str, str | None]] = []
        self.n_vertices = self.n_triangles = self.n_components = 0
        self.current: str | None = None
        self.in_build = False
        self.ns: str | None = None  # the model's namespace: elements of extensions are skipped

    def refuse(self, what: str) -> None:
        raise ScanError(f"{self.where}: {what}")

    def start(self, tag: str, attrs: dict[str, str]) -> None:
        ns, _, name = tag.rpartition(" ")
        if self.ns is None:
            self.ns = ns
        if ns != self.ns:
            return
        if name == "model":
            self.unit = attrs.get("unit", "millimeter")
        elif name == "object":
            oid = attrs.get("id", "")
            self.current = oid
            self.names[oid] = attrs.get("name") or f"object {oid}"
            self.parts.setdefault(oid, [])
        elif name == "vertex" and self.current is not None:
            self.n_vertices += 1
            if self.n_vertices > MAX_VERTICES:
                self.refuse(f"more than {MAX_VERTICES} vertices; accepted: at most "
                            f"{MAX_VERTICES}")
            try:
                xyz = (float(attrs["x"]), float(attrs["y"]), float(attrs["z"]))
            except (KeyError, ValueError):
                self.refuse(f"object {self.current}: a vertex is not numeric")
            self.vertices.setdefault(self.current, array("d")).extend(xyz)
        elif name == "triangle" and self.current is not None:
            self.n_triangles += 1
            if self.n_triangles > MAX_TRIANGLES:
                self.refuse(f"more than {MAX_TRIANGLES} triangles; accepted: at most "
                            f"{MAX_TRIANGLES}")
            try:
                abc = (int(attrs["v1"]), int(attrs["v2"]), int(attrs["v3"]))
            except (KeyError, ValueError):
                self.refuse(f"object {self.current}: a triangle is not numeric")
            self.triangles.setdefault(self.current, array("q")).extend(abc)
        elif name == "component" and self.current is not None:
            self.n_components += 1
            if self.n_components > MAX_COMPONENTS:
                self.refuse(f"more than {MAX_COMPONENTS} components; accepted: at most "
                            f"{MAX_COMPONENTS}")
            self.parts[self.current].append((attrs.get("objectid", ""), attrs.get("transform")))
        elif name == "build":
            self.in_build = True
        elif name == "item" and self.in_build:
            if len(self.items) >= MAX_COMPONENTS:
                self.refuse(f"more than {MAX_COMPONENTS} build items")
            self.items.append((attrs.get("objectid", ""), attrs.get("transform")))

    def end(self, tag: str) -> None:
        ns, _, name = tag.rpartition(" ")
        if ns != self.ns:
            return
        if name == "object":
            self.current = None
        elif name == "build":
            self.in_build = False


def _no_dtd(*_args) -> None:
    raise ScanError("a document type declaration (DTD); a 3MF model has none")


def _read_model(archive: zipfile.ZipFile, info: zipfile.ZipInfo, where: str) -> _Model:
    """Stream the model part through expat, never inflating more than the bound."""
    if info.file_size > MAX_3MF_MODEL_BYTES:
        raise ScanError(f"{where}: 3MF model of {info.file_size} bytes inflated; accepted: at "
                        f"most {MAX_3MF_MODEL_BYTES}")
    model = _Model(where)
    parser = expat.ParserCreate(namespace_separator=" ")
    parser.StartElementHandler = model.start
    parser.EndElementHandler = model.end
    parser.StartDoctypeDeclHandler = _no_dtd
    parser.EntityDeclHandler = _no_dtd
    total = 0
    try:
        with archive.open(info) as stream:
            while chunk := stream.read(_CHUNK):
                total += len(chunk)
                if total > MAX_3MF_MODEL_BYTES:
                    raise ScanError(f"{where}: 3MF model inflates to more than "
                                    f"{MAX_3MF_MODEL_BYTES} bytes; accepted: at most "
                                    f"{MAX_3MF_MODEL_BYTES}")
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except ScanError as exc:
        text = str(exc)
        raise ScanError(text if text.startswith(where) else f"{where}: not a readable 3MF "
                        f"({text})") from None
    except (expat.ExpatError, zipfile.BadZipFile, OSError, EOFError, NotImplementedError,
            RuntimeError) as exc:
        raise ScanError(f"{where}: not a readable 3MF ({exc})") from None
    return model


def _counts(model: _Model, where: str) -> None:
    """Refuse, before any mesh is placed, a build that instances too many meshes or
    triangles or whose components nest too deep (a cycle among them included)."""
    memo: dict[str, tuple[int, int]] = {}

    def count(oid: str, depth: int) -> tuple[int, int]:
        if depth > MAX_COMPONENT_DEPTH:
            raise ScanError(f"{where}: components nested more than {MAX_COMPONENT_DEPTH} deep "
                            "(a cycle?)")
        if oid not in model.names:
            raise ScanError(f"{where}: objectid = {oid!r}: no such object")
        if oid not in memo:
            own = len(model.triangles.get(oid, ())) // 3
            meshes, triangles = (1 if own or oid in model.vertices else 0), own
            for child, _ in model.parts[oid]:
                m, t = count(child, depth + 1)
                meshes, triangles = meshes + m, triangles + t
                if meshes > MAX_INSTANCES or triangles > MAX_TRIANGLES:
                    break
            memo[oid] = (meshes, triangles)
        return memo[oid]

    meshes = triangles = 0
    for oid, _ in model.items:
        m, t = count(oid, 0)
        meshes, triangles = meshes + m, triangles + t
        if meshes > MAX_INSTANCES:
            raise ScanError(f"{where}: the build places more than {MAX_INSTANCES} meshes "
                            f"(components instanced); accepted: at most {MAX_INSTANCES}")
        if triangles > MAX_TRIANGLES:
            raise ScanError(f"{where}: the build places more than {MAX_TRIANGLES} triangles "
                            f"(components instanced); accepted: at most {MAX_TRIANGLES}")


MAX_CONFIG_BYTES = 64 << 20  # a slicer's per-object settings in the package (its XML)
_PRUSA_CONFIG, _ORCA_CONFIG = "metadata/slic3r_pe_model.config", "metadata/model_settings.config"


def _slicer_modifiers(archive: zipfile.ZipFile, where: str
                      ) -> tuple[dict[str, list[tuple[int, int]]], set[tuple[str, str]]]:
    """What a slicer's settings in the package mark as not part of the print: per object
    the triangle ranges of PrusaSlicer volumes that are not a ``ModelPart`` (modifiers,
    negative volumes, support blockers), and the (object, component) pairs of Orca's parts
    that are not a ``normal_part``. Both empty for a plain 3MF."""
    ranges: dict[str, list[tuple[int, int]]] = {}
    pairs: set[tuple[str, str]] = set()
    for info in archive.infolist():
        name = info.filename.lower().lstrip("/")
        if name not in (_PRUSA_CONFIG, _ORCA_CONFIG):
            continue
        if info.file_size > MAX_CONFIG_BYTES:
            raise ScanError(f"{where}: {info.filename} larger than {MAX_CONFIG_BYTES} bytes")
        stack: list[dict] = []

        def start(tag: str, attrs: dict, stack=stack) -> None:
            if tag == "object":
                stack[:] = [{"id": attrs.get("id", "")}]
            elif tag == "volume" and stack:
                stack.append({"first": attrs.get("firstid"), "last": attrs.get("lastid")})
            elif tag == "part" and stack and attrs.get("subtype", "normal_part") != "normal_part":
                pairs.add((stack[0]["id"], attrs.get("id", "")))
            elif tag == "metadata" and len(stack) > 1 and attrs.get("key") == "volume_type" \
                    and attrs.get("value") != "ModelPart":
                stack[-1]["skip"] = True

        def end(tag: str, stack=stack) -> None:
            if tag == "volume" and len(stack) > 1:
                vol = stack.pop()
                if vol.get("skip"):
                    try:
                        ranges.setdefault(stack[0]["id"], []).append(
                            (int(vol["first"]), int(vol["last"])))
                    except (TypeError, ValueError):
                        raise ScanError(f"{where}: {info.filename}: a volume without "
                                        "firstid/lastid") from None

        parser = expat.ParserCreate()
        parser.StartElementHandler, parser.EndElementHandler = start, end
        parser.StartDoctypeDeclHandler = parser.EntityDeclHandler = _no_dtd
        try:
            parser.Parse(archive.read(info), True)
        except (expat.ExpatError, zipfile.BadZipFile, OSError, EOFError, RuntimeError) as exc:
            raise ScanError(f"{where}: {info.filename} not readable ({exc})") from None
    return ranges, pairs


def parse_3mf(data: bytes, where: str) -> list[Body]:
    """The build items of a 3MF package as bodies in mm (components flattened), without what
    a slicer's settings in it mark as modifiers (:func:`_slicer_modifiers`)."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = [i for i in archive.infolist() if i.filename.lower().endswith(".model")
                 and i.filename.lower().lstrip("/").startswith("3d/")]
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ScanError(f"{where}: not a readable 3MF ({exc})") from None
    main = next((i for i in infos if i.filename.lower().lstrip("/") == "3d/3dmodel.model"),
                infos[0] if infos else None)
    if main is None:
        raise ScanError(f"{where}: not a 3MF package (no 3D/3dmodel.model)")
    model = _read_model(archive, main, where)
    skipped, modifier_parts = _slicer_modifiers(archive, where)
    if model.unit not in _UNITS_MM:
        raise ScanError(f"{where}: unit = {model.unit[:60]!r}: expected one of "
                        f"{', '.join(_UNITS_MM)}")
    scale = _UNITS_MM[model.unit]
    meshes: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for oid in model.names:
        if oid not in model.vertices and oid not in model.triangles:
            continue
        v = np.frombuffer(model.vertices.get(oid, array("d")), np.float64).reshape(-1, 3) * scale
        f = np.frombuffer(model.triangles.get(oid, array("q")), np.int64).reshape(-1, 3)
        if len(f) and (f.min() < 0 or f.max() >= len(v)):
            raise ScanError(f"{where}: object {oid}: a triangle refers to a missing vertex")
        if not np.all(np.isfinite(v)):
            raise ScanError(f"{where}: object {oid}: non-finite coordinates")
        if oid in skipped:
            keep = np.ones(len(f), bool)
            for first, last in skipped[oid]:
                keep[max(first, 0):last + 1] = False
            f = f[keep]
        meshes[oid] = (v, f)
    _counts(model, where)
    parts = {oid: [(child, _transform(t, where)) for child, t in children]
             for oid, children in model.parts.items()}

    def flatten(oid: str) -> list[tuple[np.ndarray, np.ndarray]]:
        out = [meshes[oid]] if oid in meshes else []
        for child, m in parts[oid]:
            if (oid, child) in modifier_parts:
                continue
            mirrored = np.linalg.det(m[:3, :3]) < 0
            for v, f in flatten(child):
                out.append((v @ m[:3, :3].T + m[:3, 3] * scale, f[:, ::-1] if mirrored else f))
        return out

    bodies = []
    for oid, transform in model.items:
        pieces = flatten(oid)
        starts = np.cumsum([0] + [len(v) for v, _ in pieces])
        v = np.vstack([p[0] for p in pieces]) if pieces else np.zeros((0, 3))
        f = (np.vstack([p[1] + s for p, s in zip(pieces, starts)]) if pieces
             else np.zeros((0, 3), np.int64))
        placement = _transform(transform, where)
        placement[:3, 3] *= scale
        bodies.append(Body(model.names[oid], v, f, placement))
    if not bodies:
        raise ScanError(f"{where}: 3MF without build items: nothing to print")
    return bodies
