"""The 3MF of a split cover: per side one object of two parts, base and cover, each with
its material.

Each side is one mesh object whose triangles are the base's, then the
cover's (each body with its own vertices, so each part is closed on its
own); ``Metadata/Slic3r_PE_model.config`` cuts them into two ``ModelPart``
volumes by ``firstid``/``lastid`` (PrusaSlicer loads them as one object of
two parts, to give each its extruder), and the 3MF core's
``<basematerials>`` names the two materials: the object's own is the base
material (``pindex`` 0), the cover's triangles carry ``pid``/``p1`` of the
cover material. Plate offsets go into the vertices, as in the zoned 3MF.
Soft plugs stay separate objects, as in the plain 3MF.
"""

from __future__ import annotations

import numpy as np

from insolegen.mesh.solid import Solid
from insolegen.output.formats import indexed, mesh_object, model_xml, package, plate_offsets

MATERIALS_ID = 1                          # the <basematerials> resource id
COLOURS = ("#B4B4B4FF", "#3C78D8FF")      # base grey, cover blue


def basematerials(names: tuple[str, str]) -> str:
    """The ``<basematerials>`` resource of the base and cover material ``names``."""
    from xml.sax.saxutils import quoteattr
    return (f' <basematerials id="{MATERIALS_ID}">\n'
            + "".join(f'  <base name={quoteattr(n)} displaycolor="{c}"/>\n'
                      for n, c in zip(names, COLOURS)) + " </basematerials>\n")


def material_names(base_material: str, cover_material: str) -> tuple[str, str]:
    """The names the 3MF gives the two materials (``PA12``, ``EVA``...)."""
    return base_material.upper(), cover_material.upper()


def two_parts(cover: Solid, base: Solid, shift: np.ndarray
              ) -> list[tuple[str, np.ndarray, np.ndarray, int]]:
    """``(name, vertices + shift, faces, material index)`` of the base then the cover."""
    out = []
    for name, solid, index in (("base", base, 0), ("cover", cover, 1)):
        v, f = indexed(solid)
        out.append((name, v + shift, f, index))
    return out


def volume_entry(first: int, count: int, meta: list[tuple[str, str]]) -> str:
    """One PrusaSlicer ``<volume>`` of ``count`` triangles from ``first``."""
    from xml.sax.saxutils import quoteattr
    return (f'  <volume firstid="{first}" lastid="{first + count - 1}">\n'
            + "".join(f'   <metadata type="volume" key="{k}" value={quoteattr(v)}/>\n'
                      for k, v in meta) + "  </volume>\n")


def split_threemf(covers: dict[str, tuple[Solid, Solid]], order_id: str, title: str,
                  names: tuple[str, str],
                  inserts: dict[str, list[tuple[str, Solid]]] | None = None) -> bytes:
    """The 3MF of ``covers`` (side -> (cover, base)), ``names`` the (base, cover) materials,
    the objects named ``<id> <side>``, placed as the plain 3MF places them."""
    from xml.sax.saxutils import quoteattr
    offsets = plate_offsets({s: base for s, (_, base) in covers.items()})
    objects, items, config = [basematerials(names)], [], []
    oid = MATERIALS_ID
    for side in (s for s in ("left", "right") if s in covers):
        shift = np.array(offsets[side])
        parts = two_parts(*covers[side], shift)
        starts = np.cumsum([0] + [len(v) for _, v, _, _ in parts])
        vertices = np.vstack([v for _, v, _, _ in parts])
        faces = np.vstack([f + s for (_, _, f, _), s in zip(parts, starts)])
        props = np.concatenate([np.full(len(f), -1 if i == 0 else i) for _, _, f, i in parts])
        oid += 1
        label = f"{order_id} {side}"
        objects.append(mesh_object(oid, label, vertices, faces, (MATERIALS_ID, 0), props))
        entries, tri = [], 0
        for (name, _, f, index) in parts:
            entries.append(volume_entry(tri, len(f), [("name", name),
                                                     ("volume_type", "ModelPart"),
                                                     ("material", names[index])]))
            tri += len(f)
        config.append(f' <object id="{oid}" instances_count="1">\n'
                      f'  <metadata type="object" key="name" value={quoteattr(label)}/>\n'
                      + "".join(entries) + " </object>\n")
        items.append(f' <item objectid="{oid}"/>\n')
        for label_, plug in (inserts or {}).get(side, ()):
            v, f = indexed(plug)
            oid += 1
            objects.append(mesh_object(oid, f"{label} {label_}", v + shift, f))
            items.append(f' <item objectid="{oid}"/>\n')
    text = '<?xml version="1.0" encoding="UTF-8"?>\n<config>\n' + "".join(config) + "</config>\n"
    return package(model_xml(title, objects, items), {"Metadata/Slic3r_PE_model.config": text})
