"""A job's manufacturing outputs around the insole solids, as bytes.

One place decides what an order's files are, so that :func:`insolegen.
pipeline.generate` (writes them) and :func:`insolegen.pipeline.job.render`
(hands them to a remote client) make the same bytes:

- the solids, engraved on request (:func:`solids_for`);
- the STL of each side, binary or ASCII (:func:`stl_file`);
- 3MF, OBJ, the PNG preview and the PDF ticket when the order's
  ``formats`` ask for them (:func:`extra_files`);
- the report's manufacturing section (:func:`making_report`).

Preview and ticket are made on request only (formats ``png`` / ``pdf``):
they need matplotlib (about 0.5 s to import, 1-2 s to draw) while the
insole itself takes a fraction of a second.
"""

from __future__ import annotations

import hashlib

from insolegen import __version__
from insolegen.core.errors import InsolegenError
from insolegen.core.tolerances import TOL
from insolegen.geometry.inspection import edge_counts, merge_corners, volume_mm3
from insolegen.output.meshread import parse_stl
from insolegen.output.stl import mirrored_stl, stl_bytes
from insolegen.output.formats import obj, stl_ascii, threemf
from insolegen.mesh.solid import Solid, build_insole
from insolegen.prescription.materials import material


def solids_for(order, design, sides: tuple[str, ...]) -> tuple[dict[str, Solid], dict]:
    """The insoles of ``sides`` and, if the order is engraved, the
    :class:`~insolegen.mesh.engrave.Engraving` of each; without engraving the left is the
    exact mirror of the right."""
    right = build_insole(design, "right")
    solids = {s: (right if s == "right" else right.mirrored()) for s in sides}
    if not order.engrave:
        return solids, {}
    from insolegen.mesh.engrave import engrave_pair
    from insolegen.foot.sizes import size_label
    shoe = order.measurements.shoe_size if order.measurements is not None else None
    keep = max(design.params["min_thickness_mm"], material(order.material).min_wall_mm)
    return engrave_pair(design, solids, order.order_id, size_label(design.foot_length_mm, shoe),
                        order.engrave_depth_mm, keep)


THREEMF_FORMATS = ("3mf", "zoned-3mf", "zoned-3mf-orca")


def cover_in_3mf(order, design) -> bool:
    """Whether the order's 3MF files carry the top cover as its own part: always, when it
    writes a 3MF, has a cover and is not engraved (the engraving is cut into the one-piece
    bottom, so an engraved part stays one body)."""
    return (bool(set(order.formats) & set(THREEMF_FORMATS)) and not order.engrave
            and design.params["top_cover_thickness_mm"] > 0)


def covers_for(order, designs: dict, solids: dict[str, Solid],
               in_3mf: bool = False) -> dict[str, tuple[Solid, Solid]]:
    """Per side ``(cover, base)`` when the order splits the cover (:mod:`insolegen.mesh.cover`)
    or ``in_3mf`` (:func:`cover_in_3mf`), else empty. ``designs`` by side, or ``{"": design}``
    for one design of both sides (the left then the right's exact mirror)."""
    if not (order.split_cover or in_3mf):
        return {}
    from insolegen.mesh.cover import split_insole
    wall = material(order.material).min_wall_mm
    if "" in designs:
        right = split_insole(designs[""], "right", wall)
        return {s: right if s == "right" else (right[0].mirrored(), right[1].mirrored())
                for s in solids}
    return {s: split_insole(designs[s], s, wall) for s in solids}


def stl_header(order, side: str) -> str:
    return f"insolegen {__version__} {order.order_id} {side} mm"


def stl_file(order, side: str, solid: Solid, mirror_of: bytes | None = None) -> bytes:
    """``<id>_<side>.stl`` as bytes: binary (numpy-stl, fixed header) or ASCII.
    ``mirror_of``: the binary file of the solid this one mirrors, to mirror rather than
    serialise anew."""
    if order.ascii_stl:
        return stl_ascii(solid, stl_header(order, side))
    if mirror_of is not None:
        return mirrored_stl(mirror_of, stl_header(order, side))
    return stl_bytes(solid, stl_header(order, side))


def part_files(order, side: str, cover_base: tuple[Solid, Solid], one_piece: dict,
                mirror_of: dict[str, bytes] | None) -> tuple[dict[str, bytes], dict]:
    """``<id>_<side>_cover.stl`` and ``_base.stl`` as bytes, each read back from its bytes and
    found closed (the base on z = 0), their volumes adding up to the one-piece insole's
    (``one_piece``: its measured features) within 1e-5; what the report records of them.
    ``mirror_of``: the right side's files, which the left ones mirror."""
    files, parts = {}, {}
    for part, solid in zip(("cover", "base"), cover_base):
        name = f"{order.order_id}_{side}_{part}.stl"
        right = (mirror_of or {}).get(name.replace(f"_{side}_", "_right_"))
        data = files[name] = stl_file(order, f"{side} {part}", solid, right)
        vertices, faces = merge_corners(parse_stl(data, name))
        edges = edge_counts(faces, len(vertices))
        volume = float(volume_mm3(vertices, faces))
        if edges["open_edges"] or edges["nonmanifold_edges"] or edges["flipped_edges"] \
                or volume <= 0 or (part == "base" and abs(vertices[:, 2].min()) > TOL.floor_mm):
            raise InsolegenError(f"internal error: {name} as written is not a closed solid "
                                 f"({edges}, volume {volume:g} mm3)")
        parts[name] = {"watertight": True, "volume_mm3": round(volume, 1),
                       "triangles": int(len(faces)), "top_mm": round(float(vertices[:, 2].max()), 3)}
    total = sum(p["volume_mm3"] for p in parts.values())
    if abs(total - one_piece["volume_mm3"]) > 1e-5 * one_piece["volume_mm3"] + 0.2:
        raise InsolegenError(f"internal error: the {side} cover and base add up to {total:g} "
                             f"mm3, the one-piece insole is {one_piece['volume_mm3']:g} mm3")
    return files, parts


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def notes(order, engravings: dict) -> list[str]:
    """Lines about how the part is made, for the preview's side box."""
    mat = material(order.material)
    lines = [f"material {mat.name.upper()}", f"  {mat.process}"]
    for side, e in engravings.items():
        lines.append(f"engraved under {side}: {' / '.join(e.lines)}")
    if engravings:
        lines.append(f"  {next(iter(engravings.values())).depth_mm:g} mm deep")
    return lines


def extra_files(order, design, solids: dict[str, Solid], engravings: dict,
                measured: dict[str, dict], mesh_files: dict[str, bytes],
                covers: dict[str, tuple[Solid, Solid]] | None = None) -> dict[str, bytes]:
    """3MF, OBJ, preview PNG and ticket PDF as the order's formats ask, by file name.

    ``mesh_files`` are the STL files already made (name -> bytes); the ticket
    lists them with the other files and their SHA-256. ``covers`` (side -> (cover,
    base), :func:`covers_for`): the 3MF files carry the two parts with their materials.
    """
    out: dict[str, bytes] = {}
    oid = order.order_id
    names = None
    if covers:
        from insolegen.output.cover3mf import material_names
        names = material_names(order.material, design.params["cover_material"])
    if "3mf" in order.formats:
        from insolegen.mesh.plug import plug_solids
        plugs = plug_solids(design)
        inserts = {side: [(label, plug if side == "right" else plug.mirrored())
                          for label, plug in plugs] for side in solids} if plugs else None
        if covers:
            from insolegen.output.cover3mf import split_threemf
            out[f"{oid}.3mf"] = split_threemf(covers, oid, f"insolegen {oid}", names, inserts)
        else:
            out[f"{oid}.3mf"] = threemf(solids, oid, f"insolegen {oid}", inserts)
    for fmt, stem, convention in (("zoned-3mf", "zoned", "prusa"),
                                  ("zoned-3mf-orca", "zoned_orca", "orca")):
        if fmt in order.formats:
            from insolegen.output.zones3mf import zoned_threemf
            out[f"{oid}_{stem}.3mf"] = zoned_threemf(solids, design, oid, convention,
                                                     covers or None, names)
    if "obj" in order.formats:
        for side, solid in solids.items():
            out[f"{oid}_{side}.obj"] = obj(solid, f"{stl_header(order, side)}\nunits: millimetre")
    if "png" in order.formats or "pdf" in order.formats:
        from insolegen.output.preview import png
        picture = png(oid, design, solids, measured, engravings, notes(order, engravings))
        if "png" in order.formats:
            out[f"{oid}.png"] = picture
        if "pdf" in order.formats:
            from insolegen.output.ticket import pdf
            hashes = {name: sha256(data) for name, data in {**mesh_files, **out}.items()}
            out[f"{oid}_ticket.pdf"] = pdf(order, design, measured, material(order.material),
                                           picture, hashes, engravings)
    return out


def lattice_files(order, design, solids: dict[str, Solid]) -> tuple[dict[str, bytes], dict]:
    """``<id>_<side>_lattice.stl`` (the left the right one's mirror) and the report's
    ``lattice`` section: zones as built, skin, and the volume and mass the design gives.
    The caller checks the files as written (:func:`insolegen.pipeline.job.render`)."""
    from insolegen.mesh.lattice import build_lattice
    mat = material(order.material)
    lattice = build_lattice(design, build_insole(design, "right"), mat.min_wall_mm)
    files: dict[str, bytes] = {}
    right = stl_bytes(lattice.solid, stl_header(order, "right") + " lattice")
    for side in solids:
        files[f"{order.order_id}_{side}_lattice.stl"] = right if side == "right" else \
            mirrored_stl(right, stl_header(order, side) + " lattice")
    section = {**lattice.to_json(), "material": mat.name,
               "mass_g": round(lattice.volume_mm3 / 1000.0 * mat.density_g_cm3, 1),
               "notes": [f"zone {z.name}: asked {z.density_asked:.0%}, built {z.density:.0%}: "
                         f"sheets of {z.wall_mm:g} mm (the {mat.min_wall_mm:g} mm {mat.name} "
                         f"minimum wall and a margin) need cells over {z.cell_mm:g} mm for "
                         f"less" for z in lattice.zones
                         if z.density > z.density_asked + 1e-3],
               "closed_cavities": "the gyroid's cavities are sealed inside the skin: a "
                                  "powder-bed part needs drain holes to empty them"}
    return files, section


def making_report(order, measured: dict[str, dict], printability: dict[str, dict],
                  engravings: dict, hashes: dict[str, str]) -> dict:
    """The report's section on making the part: material, mass, engraving, checks, hashes."""
    mat = material(order.material)
    return {
        "material": {"name": mat.name, "process": mat.process,
                     "density_g_cm3": mat.density_g_cm3, "min_wall_mm": mat.min_wall_mm,
                     "source": mat.source},
        "mass_g": {side: round(m["volume_mm3"] / 1000.0 * mat.density_g_cm3, 1)
                   for side, m in measured.items()},
        "engraving": {side: e.to_json() for side, e in engravings.items()},
        "printability": printability,
        "sha256": dict(hashes),
    }


def file_kind(order_id: str, name: str) -> str:
    """What a job's file is, for :attr:`insolegen.pipeline.job.Result.files`: ``left`` /
    ``right`` (STL), ``report``, ``3mf``, ``left_obj`` / ``right_obj``, ``preview``, ``ticket``."""
    stem, _, ext = name.removeprefix(order_id).lstrip("_").rpartition(".")
    kinds = {"stl": stem, "json": "report", "3mf": f"{stem}_3mf" if stem else "3mf",
             "obj": f"{stem}_obj",
             "png": "preview", "pdf": "ticket"}
    return kinds.get(ext, name)
