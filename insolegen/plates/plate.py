"""``insolegen plate``: a batch's finished insoles onto build plates, with a manifest to find them.

:func:`make_plates` reads the batch folder's parts (:mod:`insolegen.plates.parts`),
places them for the printer (:mod:`insolegen.plates.pack`) and writes, whole
or not at all, ``plate_001.3mf``... (one named object per part,
``<order_id> <side>``, its mesh exactly the STL's float32 vertices in its own
frame, its place on the plate the build item's transform) and
``plates.json``: per plate its file, SHA-256 and utilisation; per part the
plate, object, source file and its SHA-256, turn, translation and the
4 x 4 transform, so a part can be found, and checked, after printing.

Utilisation: on an FDM bed, the parts' footprints (their convex hulls seen
from above) over the usable bed area (inside the margins); in a powder
volume, the parts' volume over the usable build volume (the packing
density), with the footprint share of each layer.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
from shapely.geometry import Polygon

from insolegen import __version__
from insolegen.core.errors import InsolegenError
from insolegen.output.files import AtomicWriter, json_text
from insolegen.output.formats import threemf_objects
from insolegen.output.making import sha256
from insolegen.plates.pack import Spot, place, placed_footprint
from insolegen.plates.parts import Part, batch_parts
from insolegen.prescription.printers import Printer

PLATES_MANIFEST = "plates.json"


def plate_name(number: int) -> str:
    """File name of plate ``number`` (1-based)."""
    return f"plate_{number:03d}.3mf"


def _verify(parts: list[Part], spots: list[Spot], printer: Printer) -> None:
    """Internal error unless every placed footprint is inside the usable bed and the
    spacing from every other on its layer, and every part inside the usable height."""
    from shapely import STRtree, distance
    m = printer.margin_mm
    bx, by, bz = printer.bed_mm
    groups: dict[tuple[int, int], list[int]] = {}
    for i, spot in enumerate(spots):
        groups.setdefault((spot.plate, spot.layer), []).append(i)
        pts = placed_footprint(parts[i], spot)
        z = parts[i].vertices[:, 2] + spot.offset_mm[2]
        top = bz - (m if printer.powder else 0.0)
        if (pts.min() < m - 1e-3 or pts[:, 0].max() > bx - m + 1e-3
                or pts[:, 1].max() > by - m + 1e-3
                or z.min() < (m if printer.powder else 0.0) - 1e-3 or z.max() > top + 1e-3):
            raise InsolegenError(f"internal error: {parts[i].name} placed outside the usable "
                                 f"volume of {printer.name}")
    for members in groups.values():
        polys = [Polygon(placed_footprint(parts[i], spots[i])) for i in members]
        tree = STRtree(polys)
        for k, poly in enumerate(polys):
            near = tree.query(poly, predicate="dwithin", distance=printer.spacing_mm - 1e-3)
            near = [j for j in near if j != k]
            if near and float(np.min(distance(poly, [polys[j] for j in near]))) \
                    < printer.spacing_mm - 1e-3:
                raise InsolegenError(f"internal error: {parts[members[k]].name} placed closer "
                                     f"than {printer.spacing_mm:g} mm to another part")


def layout(parts: list[Part], spots: list[Spot], printer: Printer) -> dict:
    """The plates manifest (JSON-able) for parts placed at spots; files' hashes filled later."""
    ux, uy, uz = printer.usable_mm()
    plates: dict[int, dict] = {}
    entries = []
    for i, (part, spot) in enumerate(zip(parts, spots)):
        plate = plates.setdefault(spot.plate, {"plate": spot.plate + 1,
                                               "file": plate_name(spot.plate + 1), "parts": 0,
                                               "footprint_mm2": 0.0, "volume_mm3": 0.0,
                                               "layers": {}})
        plate["parts"] += 1
        area = float(part.footprint.area)
        plate["footprint_mm2"] += area
        plate["volume_mm3"] += part.volume_mm3
        plate["layers"][spot.layer] = plate["layers"].get(spot.layer, 0.0) + area
        plate.setdefault("objects", []).append(i)
        pts = placed_footprint(part, spot)
        z = part.vertices[:, 2] + spot.offset_mm[2]
        entries.append({
            "order_id": part.order_id, "side": part.side, "name": part.name,
            "plate": spot.plate + 1, "file": plate_name(spot.plate + 1),
            "object_id": len(plate["objects"]), "layer": spot.layer + 1,
            "source": part.path, "source_sha256": part.sha256,
            "turn_deg": round(spot.turn_deg, 3),
            "translation_mm": [round(v, 6) for v in spot.offset_mm],
            "transform": np.round(spot.placement(), 9).tolist(),
            "footprint_bounds_mm": [round(float(v), 3) for v in (*pts.min(axis=0),
                                                                  *pts.max(axis=0))],
            "z_range_mm": [round(float(z.min()), 3), round(float(z.max()), 3)]})
    area = ux * uy
    out = []
    for number in sorted(plates):
        p = plates[number]
        row = {"plate": p["plate"], "file": p["file"], "parts": p["parts"]}
        if not printer.powder:
            row["footprint_utilisation"] = round(p["footprint_mm2"] / area, 4)
        else:
            row["layers"] = len(p["layers"])
            row["layer_footprint_utilisation"] = [round(p["layers"][k] / area, 4)
                                                  for k in sorted(p["layers"])]
            row["packing_density"] = round(p["volume_mm3"] / (area * uz), 4)
        out.append(row)
    key = "packing_density" if printer.powder else "footprint_utilisation"
    values = [row[key] for row in out]
    summary = {"plates": len(out), "parts": len(parts), "measure": key,
               "mean": round(float(np.mean(values)), 4), "min": min(values),
               "max": max(values),
               "defined_as": ("parts' volume / usable build volume" if printer.powder else
                              "parts' footprints (convex hulls from above) / usable bed area")}
    return {"insolegen_version": __version__, "printer": printer.to_json(),
            "utilisation": summary, "plates": out, "parts": entries}


def make_plates(batch_dir: Path, printer: Printer, out_dir: Path, force: bool = False
                ) -> dict:
    """Nest the finished parts of ``batch_dir`` for ``printer`` and write the plates and
    ``plates.json`` into ``out_dir``; returns the manifest (with ``timings`` in s).

    With ``force``, earlier plates are replaced and plate files beyond the new count
    removed, so the folder holds exactly the plates ``plates.json`` lists."""
    t0 = time.perf_counter()
    parts = batch_parts(Path(batch_dir))
    t1 = time.perf_counter()
    spots = place(parts, printer)
    _verify(parts, spots, printer)
    t2 = time.perf_counter()
    manifest = layout(parts, spots, printer)
    files: dict[str, bytes] = {}
    for row in manifest["plates"]:
        members = [i for i, s in enumerate(spots) if s.plate + 1 == row["plate"]]
        objects = [(parts[i].name, parts[i].vertices.astype(np.float32), parts[i].faces,
                    spots[i].placement()) for i in members]
        files[row["file"]] = threemf_objects(
            objects, f"insolegen plate {row['plate']} for {printer.name}", compresslevel=1)
        row["sha256"] = sha256(files[row["file"]])
    t3 = time.perf_counter()
    manifest["timings"] = {"read_s": round(t1 - t0, 3), "nest_s": round(t2 - t1, 3),
                           "write_s": round(t3 - t2, 3)}
    with AtomicWriter(Path(out_dir), force=force) as writer:
        for name, data in files.items():
            writer.bytes(name, data)
        writer.bytes(PLATES_MANIFEST, json_text(manifest).encode("utf-8"))
        writer.commit()
    for old in Path(out_dir).glob("plate_*.3mf"):  # a larger earlier run's plates: not ours now
        if old.name not in files and old.is_file() and not old.is_symlink():
            old.unlink()
    return manifest


def summary(manifest: dict, out_dir: Path) -> str:
    """A few lines for the terminal."""
    u = manifest["utilisation"]
    p = manifest["printer"]
    lines = [f"{u['parts']} parts on {u['plates']} plate{'s' * (u['plates'] != 1)} of "
             f"{p['name']} ({p['technology']}, bed {' x '.join(f'{v:g}' for v in p['bed_mm'])}"
             f" mm): {u['measure'].replace('_', ' ')} mean {u['mean']:.1%}, "
             f"min {u['min']:.1%}, max {u['max']:.1%}",
             f"nested in {manifest['timings']['nest_s']:.2f} s; "
             f"manifest: {Path(out_dir) / PLATES_MANIFEST}"]
    return "\n".join(lines)
