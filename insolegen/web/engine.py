"""What the workbench asks of the library: an order from a form's fields, a preview mesh.

The form sends the batch-order fields (:data:`insolegen.pipeline.order.KNOWN_FIELDS`)
plus the ticket's fields; the ticket's fields the library does not take yet
are kept in the web record only. The preview is :func:`insolegen.pipeline.job.render`
of the order (the very bytes ``generate`` would write), packed as binary.
"""

from __future__ import annotations

import json
import struct

import numpy as np

from insolegen.core.errors import InputError, shown
from insolegen.pipeline.order import KNOWN_FIELDS, Order, order_from_mapping

TICKET_FIELDS = ("patient_ref", "clinic", "due_date", "technician")
MAX_TICKET_CHARS = 200
PREVIEW_MAGIC = b"IGPV"
PREVIEW_ID = "preview"
FLIP_Y = np.array([1.0, -1.0, 1.0], dtype=np.float32)


def split_fields(data: object) -> tuple[dict, dict]:
    """Order fields and ticket fields of a request body (a JSON object).

    Ticket fields the order itself knows (a later version of the library may
    take them) stay in the order; the rest are checked as short one-line text.
    """
    if not isinstance(data, dict):
        raise InputError(f"order = {shown(data)}: expected a JSON object of order fields")
    fields = dict(data)
    ticket: dict[str, str] = {}
    for key in TICKET_FIELDS:
        if key in KNOWN_FIELDS or key not in fields:
            continue
        value = fields.pop(key)
        if value is None or value == "":
            continue
        if not isinstance(value, str) or len(value) > MAX_TICKET_CHARS \
                or not value.isprintable():
            raise InputError(f"{key} = {shown(value)}: expected one line of text, at most "
                             f"{MAX_TICKET_CHARS} characters")
        ticket[key] = value.strip()
    return fields, ticket


def order_for(fields: dict) -> Order:
    """Validate ``fields`` exactly as ``generate`` and ``batch`` do (raises InputError).

    Overrides are coerced first, as the CLI's ``--set`` coerces them, so the
    order (and the report that records it) is the one ``insolegen generate``
    makes: ``"18"`` from a form is recorded as ``18.0``.
    """
    from insolegen.prescription.parameters import lookup
    fields = dict(fields)
    raw = fields.get("set")
    if isinstance(raw, dict):
        fields["set"] = {lookup(str(k), "--set ").name: lookup(str(k), "--set ").coerce(v, "--set ")
                         for k, v in raw.items()}
    for key in [k for k in fields if str(k).startswith("set.")]:
        if fields[key] not in (None, ""):
            param = lookup(str(key)[4:], "set.")
            fields[key] = param.coerce(fields[key], "--set ")
    return order_from_mapping(fields)


def preview_order(fields: dict) -> Order:
    """The order to preview: the form's fields, STL only, a fixed id when none is given."""
    fields = {k: v for k, v in fields.items() if k != "formats"}
    if fields.get("order_id") in (None, ""):
        fields["order_id"] = PREVIEW_ID
    return order_for(fields)


def corner_thickness(triangles: np.ndarray) -> np.ndarray:
    """(m, 3) float32 mm: the solid's height over each corner's (x, y), for the colour map.

    The solids are closed over a plan: the top and bottom vertices stand on the
    same plan points, so the thickness at a corner is the spread of z among
    the file's vertices with its (x, y); a corner alone on its (x, y) gets its z.
    """
    corners = triangles.reshape(-1, 3)
    xy = np.ascontiguousarray(corners[:, :2] + np.float32(0.0)).view(np.uint64).ravel()
    order = np.argsort(xy)
    keys = xy[order]
    first = np.empty(len(keys), dtype=bool)
    first[0] = True
    np.not_equal(keys[1:], keys[:-1], out=first[1:])
    starts = np.flatnonzero(first)
    z = corners[order, 2]
    high = np.maximum.reduceat(z, starts)
    spread = high - np.minimum.reduceat(z, starts)
    spread = np.where(spread > 0, spread, high)
    out = np.empty(len(keys), dtype=np.float32)
    out[order] = spread[np.cumsum(first) - 1]
    return out.reshape(-1, 3)


def preview_bytes(order: Order) -> bytes:
    """The order's insoles for the viewer, nothing written.

    Layout: ``b"IGPV"``, a little-endian uint32 ``n``, ``n`` bytes of UTF-8
    JSON (the meta: per side the byte offsets below, the landmarks ``[x, y, z]``
    mm, the measured features, notes, warnings) padded with spaces to a
    multiple of 4; then per side the (m, 3, 3) float32 corners of its STL
    file's triangles, exactly as written, and (m, 3) float32 thickness at each
    corner (mm, :func:`corner_thickness`). A left insole that is the exact
    mirror of the right (Y negated, faces re-wound) is sent as
    ``"mirror_of": "right"`` without buffers of its own.
    """
    from insolegen.output.formats import parse_stl
    from insolegen.pipeline.job import render
    rendered = render(order)
    design = rendered.design
    report = json.loads(rendered.files[f"{order.order_id}.json"])
    names = {side: f"{order.order_id}_{side}.stl" for side in rendered.measured}
    marks = {k: np.asarray(v, dtype=float) for k, v in design.landmarks.items()}
    if marks:
        xy = np.array(list(marks.values()))[:, :2]
        z = np.asarray(design.top(xy), dtype=float)
    blobs: list[bytes] = []
    sides: dict[str, dict] = {}
    offset = 0
    for side, name in names.items():
        triangles = parse_stl(rendered.files[name], name)
        sign = -1.0 if side == "left" else 1.0
        info = {"landmarks": {k: [float(v[0]), sign * float(v[1]), float(zk)]
                              for (k, v), zk in zip(marks.items(), z)},
                "medial_sign": sign, "measured": rendered.measured[side],
                "mass_g": report["making"]["mass_g"].get(side), "faces": len(triangles)}
        right = sides.get("right")
        if side == "left" and right is not None and not order.engrave \
                and np.array_equal(triangles, right.pop("_tri")[:, ::-1] * FLIP_Y):
            info["mirror_of"] = "right"  # the page mirrors the right one's buffers
        else:
            corners = triangles.astype("<f4").tobytes()
            thick = corner_thickness(triangles).astype("<f4").tobytes()
            info.update(positions_offset=offset, thickness_offset=offset + len(corners))
            blobs += [corners, thick]
            offset += len(corners) + len(thick)
            if side == "right":
                info["_tri"] = triangles
        sides[side] = info
    sides.get("right", {}).pop("_tri", None)
    warnings = [p for side in report["making"]["printability"].values()
                for p in side.get("warnings", [])]
    meta = {"order_id": order.order_id, "sides": sides, "notes": list(design.notes),
            "warnings": warnings, "checks": report["checks"],
            "insole_length_mm": design.insole_length_mm, "foot_length_mm": design.foot_length_mm,
            "parameters": design.prescription.parameters, "timings": rendered.timings}
    head = json.dumps(meta, allow_nan=False).encode("utf-8")
    head += b" " * (-(len(head) + 8) % 4)
    return PREVIEW_MAGIC + struct.pack("<I", len(head)) + head + b"".join(blobs)


def read_preview(data: bytes) -> tuple[dict, dict[str, tuple[np.ndarray, np.ndarray]]]:
    """Unpack :func:`preview_bytes`: the meta and per side ((m, 3, 3) float32 triangles,
    (m, 3) float32 thickness). For tests and benchmarks; the page does the same in JS."""
    if data[:4] != PREVIEW_MAGIC:
        raise ValueError("not an insolegen preview")
    (n,) = struct.unpack_from("<I", data, 4)
    meta = json.loads(data[8:8 + n])
    body = memoryview(data)[8 + n:]
    out = {}
    for side, info in meta["sides"].items():
        if "mirror_of" in info:
            continue
        m = info["faces"]
        tri = np.frombuffer(body, dtype="<f4", count=9 * m, offset=info["positions_offset"])
        thick = np.frombuffer(body, dtype="<f4", count=3 * m, offset=info["thickness_offset"])
        out[side] = (tri.reshape(m, 3, 3).copy(), thick.reshape(m, 3).copy())
    for side, info in meta["sides"].items():
        if "mirror_of" in info:
            tri, thick = out[info["mirror_of"]]
            tri = tri[:, ::-1] * FLIP_Y
            out[side] = (tri, thick[:, ::-1].copy())
    return meta, out
