"""Binary STL bytes (numpy-stl), float32, no timestamp: the same solid always writes the same bytes."""

from __future__ import annotations

import io

import numpy as np
from stl import Mode
from stl.mesh import Mesh

from insolegen.geometry.query import cross_rows
from insolegen.mesh.solid import Solid


def stl_bytes_array(solid: Solid) -> np.ndarray:
    """The solid as numpy-stl's record array (normals, vectors, attr), float32."""
    tri = (solid.vertices.astype(np.float32) + np.float32(0.0))[solid.faces]
    out = np.zeros(len(tri), dtype=Mesh.dtype)
    normals = cross_rows(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.sqrt(np.einsum("ij,ij->i", normals, normals))[:, None]
    out["normals"] = normals / np.where(length > 0, length, np.float32(1.0))
    out["vectors"] = tri
    return out


class _StlMesh(Mesh):
    """numpy-stl mesh whose binary header is exactly what we give it (no timestamp),
    so the same design always writes the same bytes."""

    def get_header(self, name) -> str:
        return str(name)[:80].ljust(80, " ")


def stl_bytes(solid: Solid, header: str) -> bytes:
    """The solid as a binary STL file (mm, float32), written by numpy-stl; no timestamp."""
    return _stl_file(stl_bytes_array(solid), header)


def _stl_file(records: np.ndarray, header: str) -> bytes:
    """numpy-stl records (normals, vectors, attr) as a binary STL file with ``header``."""
    buffer = io.BytesIO()
    mesh = _StlMesh(records, calculate_normals=False, remove_empty_areas=False)
    mesh.save(header, fh=buffer, mode=Mode.BINARY, update_normals=False)
    return buffer.getvalue()


def mirrored_stl(data: bytes, header: str) -> bytes:
    """The binary STL ``data`` mirrored in Y (a right insole's file -> the left one's): each
    triangle's corners mirrored and taken in reverse order, its normal mirrored; exact in
    float32, so the result is what :func:`stl_bytes` of the mirrored solid holds, up to the
    last bit of the normals."""
    count = int(np.frombuffer(data, "<u4", 1, 80)[0])
    records = np.frombuffer(data, Mesh.dtype, count, 84)
    flip = np.array([1.0, -1.0, 1.0], dtype=np.float32)
    out = np.zeros(count, dtype=Mesh.dtype)
    out["normals"] = records["normals"] * flip
    out["vectors"] = records["vectors"][:, ::-1] * flip + np.float32(0.0)
    return _stl_file(out, header)
