"""Files out: binary STL (numpy-stl) and JSON, written whole or not at all.

Every file is written under a temporary name in its own folder and renamed
into place only when all files of a job are complete (:class:`AtomicWriter`),
so a crash never leaves a file that looks finished but is not. Names that
come from orders are checked by :func:`safe_id` before they touch a path.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from pathlib import Path

import numpy as np
from stl import Mode
from stl.mesh import Mesh

from insolegen.errors import InputError, OutputError
from insolegen.mesh import Solid

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
TMP_MARK = ".insolegen-tmp-"


def safe_id(order_id: object) -> str:
    """Return ``order_id`` if it is safe as a file name stem, else raise.

    Accepted: 1-128 characters of letters, digits, ``.``, ``_`` and ``-``,
    starting with a letter or digit, without ``..``.
    """
    if not isinstance(order_id, str) or not _ID.fullmatch(order_id) or ".." in order_id:
        shown = order_id if not isinstance(order_id, str) else order_id[:60]
        raise InputError(
            f"order_id = {shown!r}: expected 1-128 letters, digits, '.', '_' or '-', "
            f"starting with a letter or digit, without '..'")
    return order_id


def prepare_dir(path: Path) -> Path:
    """Create ``path`` if needed and prove it writable; raise OutputError if not."""
    path = Path(path)
    try:
        path.mkdir(parents=True, exist_ok=True)
        probe = path / f"{TMP_MARK}probe-{secrets.token_hex(4)}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as exc:
        raise OutputError(f"out = '{path}': not a writable folder ({exc.strerror or exc})") \
            from None
    return path


def stl_bytes_array(solid: Solid) -> np.ndarray:
    """The solid as numpy-stl's record array (normals, vectors, attr), float32."""
    data = np.zeros(len(solid.faces), dtype=Mesh.dtype)
    tri = solid.vertices[solid.faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    length = np.linalg.norm(normals, axis=1, keepdims=True)
    data["normals"] = normals / np.where(length > 0, length, 1.0)
    data["vectors"] = tri
    return data


class _StlMesh(Mesh):
    """numpy-stl mesh whose binary header is exactly what we give it (no timestamp),
    so the same design always writes the same bytes."""

    def get_header(self, name) -> str:
        return str(name)[:80].ljust(80, " ")


class AtomicWriter:
    """Collects a job's files under temporary names; :meth:`commit` renames them all.

    Use as a context manager: leaving the block by an exception removes every
    temporary file, and nothing is renamed.
    """

    def __init__(self, folder: Path, force: bool = False) -> None:
        self.folder = prepare_dir(folder)
        self.force = force
        self.pending: list[tuple[Path, Path]] = []

    def target(self, name: str) -> Path:
        """Reserve the final name ``name`` in the folder; returns the temporary path."""
        final = self.folder / name
        if final.is_symlink() or (final.exists() and not final.is_file()):
            raise OutputError(f"{final}: exists and is not a regular file; refusing to replace it")
        if final.exists() and not self.force:
            raise OutputError(f"{final}: already exists; use --force to overwrite")
        tmp = self.folder / f"{TMP_MARK}{secrets.token_hex(6)}-{name}"
        self.pending.append((tmp, final))
        return tmp

    def stl(self, name: str, solid: Solid, header: str = "insolegen") -> Path:
        """Write ``solid`` as binary STL (mm) under the temporary name of ``name``."""
        tmp = self.target(name)
        mesh = _StlMesh(stl_bytes_array(solid), calculate_normals=False, remove_empty_areas=False)
        try:
            with open(tmp, "wb") as fh:
                mesh.save(header, fh=fh, mode=Mode.BINARY, update_normals=False)
        except OSError as exc:
            raise OutputError(f"{self.folder / name}: cannot be written ({exc.strerror or exc})") \
                from None
        return tmp

    def json(self, name: str, data: dict) -> Path:
        """Write ``data`` as indented JSON under the temporary name of ``name``."""
        tmp = self.target(name)
        try:
            tmp.write_text(json.dumps(data, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        except OSError as exc:
            raise OutputError(f"{self.folder / name}: cannot be written ({exc.strerror or exc})") \
                from None
        return tmp

    def commit(self) -> list[Path]:
        """Rename every temporary file into place; return the final paths."""
        try:
            for tmp, _ in self.pending:
                with open(tmp, "rb") as fh:
                    os.fsync(fh.fileno())
            for tmp, final in self.pending:
                os.replace(tmp, final)
        except OSError as exc:
            raise OutputError(f"{self.folder}: cannot finish writing ({exc.strerror or exc})") \
                from None
        done = [final for _, final in self.pending]
        self.pending = []
        return done

    def discard(self) -> None:
        """Remove every temporary file not yet committed."""
        for tmp, _ in self.pending:
            tmp.unlink(missing_ok=True)
        self.pending = []

    def __enter__(self) -> AtomicWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.discard()
        elif self.pending:
            self.discard()
            raise RuntimeError("AtomicWriter left without commit()")
