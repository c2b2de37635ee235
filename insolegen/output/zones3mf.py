"""The zoned 3MF: each insole with its density zones as slicer modifier volumes.

One object per side, built of components: the insole (a model part) and
one prism per density zone (:attr:`insolegen.design.model.InsoleDesign.
infill`) standing over the zone's outline through the whole part, each with
its own infill density. Two slicer conventions are written side by side, so
the same file prints as designed in either family:

- PrusaSlicer (``Metadata/Slic3r_PE_model.config``): the object's
  triangles, components merged in order, are cut into volumes by
  ``firstid``/``lastid``; a zone is ``volume_type`` ``ParameterModifier``
  with its own ``fill_density``;
- Orca Slicer / Bambu Studio (``Metadata/model_settings.config``): one
  ``part`` per component (``id`` = the component's object id), a zone of
  ``subtype`` ``modifier_part`` with ``sparse_infill_density``.

The insole part itself is exactly the solid of the plain 3MF and STL; the
object's own density is left to the slicer's profile.
"""

from __future__ import annotations

import numpy as np
import shapely
from shapely.geometry import Polygon

from insolegen.mesh.solid import Solid
from insolegen.output.cover3mf import MATERIALS_ID, basematerials, two_parts, volume_entry
from insolegen.output.formats import indexed, mesh_object, model_xml, package, plate_offsets

ABOVE_MM = 1.0  # a zone's prism rises this far above the part's highest point


def prism(outline: tuple[tuple[float, float], ...], z0: float, z1: float
          ) -> tuple[np.ndarray, np.ndarray]:
    """A closed prism over a simple polygon: vertices (n, 3) mm and faces (m, 3), outward."""
    poly = shapely.orient_polygons(Polygon(outline)) if hasattr(shapely, "orient_polygons") \
        else shapely.geometry.polygon.orient(Polygon(outline))
    ring = np.asarray(poly.exterior.coords)[:-1]
    n = len(ring)
    tris = shapely.constrained_delaunay_triangles(poly)
    index = {tuple(p): i for i, p in enumerate(ring.tolist())}
    top = []
    for t in tris.geoms:
        corners = [index[tuple(c)] for c in np.asarray(t.exterior.coords)[:3].tolist()]
        a, b, c = ring[corners]
        if (b[0] - a[0]) * (c[1] - a[1]) - (b[1] - a[1]) * (c[0] - a[0]) < 0:
            corners = corners[::-1]
        top.append(corners)
    top = np.array(top, dtype=np.int64)
    vertices = np.vstack([np.column_stack([ring, np.full(n, z1)]),
                          np.column_stack([ring, np.full(n, z0)])])
    a = np.arange(n)
    b = np.roll(a, -1)
    walls = np.concatenate([np.column_stack([a + n, b + n, b]), np.column_stack([a + n, b, a])])
    return vertices, np.concatenate([top, top[:, ::-1] + n, walls])


def _volumes(solid: Solid, design, side: str, cover: tuple[Solid, Solid] | None = None
             ) -> list[tuple[str, np.ndarray, np.ndarray, float | None, int]]:
    """The insole (density None), or its base and cover, and one prism per zone:
    (name, vertices, faces, density, material index: 0 base, 1 cover, -1 none)."""
    sign = -1.0 if side == "left" else 1.0
    vertices, faces = indexed(solid)
    z1 = float(vertices[:, 2].max()) + ABOVE_MM
    volumes = [("insole", vertices, faces, None, -1)] if cover is None else \
        [(n, v, f, None, i) for n, v, f, i in two_parts(*cover, np.zeros(3))]
    for region in design.infill:
        ring = tuple((x, sign * y) for x, y in region.outline)
        v, f = prism(ring[::-1] if side == "left" else ring, 0.0, z1)
        volumes.append((f"zone {region.name}", v, f, region.density, -1))
    return volumes


def _quote(value: str) -> str:
    from xml.sax.saxutils import quoteattr  # urllib comes with it: only when a 3MF is made
    return quoteattr(value)


def _meta(tag: str, pairs: list[tuple[str, str]], extra: str = "") -> str:
    return "".join(f'   <metadata{extra} key="{key}" value={_quote(value)}/>\n'
                   for key, value in pairs)


def zoned_threemf(solids: dict[str, Solid], design, order_id: str,
                  convention: str = "prusa", covers: dict[str, tuple[Solid, Solid]] | None = None,
                  names: tuple[str, str] | None = None) -> bytes:
    """The zoned 3MF of ``solids`` (side -> solid) with ``design``'s density zones.

    ``convention`` ``prusa``: one mesh object per side, its triangles cut into
    volumes by ``Metadata/Slic3r_PE_model.config``; ``orca``: one object per
    side made of components (insole, zone prisms) described part by part in
    ``Metadata/model_settings.config`` (Orca Slicer / Bambu Studio). ``covers`` (side ->
    (cover, base)) and ``names`` (base, cover materials): the insole as two parts with
    their materials (:mod:`insolegen.output.cover3mf`), the zones modifiers over both.
    """
    offsets = plate_offsets(solids)
    objects, items, config = ([basematerials(names)], [], []) if covers else ([], [], [])
    oid = MATERIALS_ID if covers else 0
    own = (MATERIALS_ID, 0) if covers else None
    for side in (s for s in ("left", "right") if s in solids):
        label = f"{order_id} {side}"
        # The plate offset goes into the vertices: PrusaSlicer 2.5 applies a build item's
        # translation to the first volume of an object only.
        shift = np.array(offsets[side])
        volumes = [(n, v + shift, f, d, i) for n, v, f, d, i
                   in _volumes(solids[side], design, side, (covers or {}).get(side))]
        entries, parts = [], []
        if convention == "prusa":
            tri = 0
            for name, v, f, density, index in volumes:
                meta = [("name", name), ("volume_type", "ModelPart" if density is None
                                         else "ParameterModifier")]
                if index >= 0:
                    meta.append(("material", names[index]))
                if density is not None:
                    meta += [("modifier", "1"), ("fill_density", f"{100.0 * density:g}%")]
                entries.append(volume_entry(tri, len(f), meta))
                tri += len(f)
            starts = np.cumsum([0] + [len(v) for _, v, _, _, _ in volumes])
            vertices = np.vstack([v for _, v, _, _, _ in volumes])
            faces = np.vstack([f + s for (_, _, f, _, _), s in zip(volumes, starts)])
            props = np.concatenate([np.full(len(f), i if i > 0 else -1)
                                    for _, _, f, _, i in volumes]) if covers else None
            oid += 1
            objects.append(mesh_object(oid, label, vertices, faces, own, props))
            config.append(f' <object id="{oid}" instances_count="1">\n'
                          f'  <metadata type="object" key="name" value={_quote(label)}/>\n'
                          + "".join(entries) + " </object>\n")
        else:
            for name, v, f, density, index in volumes:
                oid += 1
                objects.append(mesh_object(oid, f"{label} {name}", v, f,
                                           (MATERIALS_ID, index) if index >= 0 else None))
                parts.append(f'<component objectid="{oid}"/>')
                meta = [("name", name)] + ([("material", names[index])] if index >= 0 else [])
                if density is not None:
                    meta.append(("sparse_infill_density", f"{100.0 * density:g}%"))
                subtype = "normal_part" if density is None else "modifier_part"
                entries.append(f'  <part id="{oid}" subtype="{subtype}">\n'
                               + _meta("part", meta) + "  </part>\n")
            oid += 1
            objects.append(f' <object id="{oid}" type="model" name={_quote(label)}>'
                           f'<components>{"".join(parts)}</components></object>\n')
            config.append(f' <object id="{oid}">\n   <metadata key="name" '
                          f'value={_quote(label)}/>\n' + "".join(entries) + " </object>\n")
        items.append(f' <item objectid="{oid}"/>\n')
    model = model_xml(f"insolegen {order_id} zoned", objects, items)
    name = "Slic3r_PE_model.config" if convention == "prusa" else "model_settings.config"
    text = '<?xml version="1.0" encoding="UTF-8"?>\n<config>\n' + "".join(config) + "</config>\n"
    return package(model, {f"Metadata/{name}": text})
