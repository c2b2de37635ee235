"""insolegen's command line: parse, call one library function, print.

Exit status: 0 done, 1 internal error, 2 bad input (one line on stderr
naming the field, the value and what is accepted), 3 a batch with failed
orders, 4 a file that fails ``check``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

DEMO = {"order_id": "demo", "foot_length_mm": "265", "conditions": "flat_feet", "side": "both"}


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message: str) -> None:  # noqa: D102
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


def _ambiguous_arch(text: str) -> None:
    raise argparse.ArgumentTypeError(
        f"{text!r}: ambiguous, refused: give --navicular-height MM (navicular height standing); "
        "'insolegen measure' reports arch_height_mm, the sole's plantar arch height, which is "
        "about navicular height - 24 mm")


def _order_fields(args: argparse.Namespace) -> dict:
    fields = {
        "order_id": args.id, "side": args.side, "conditions": args.condition, "base": args.base,
        "foot_length_mm": args.foot_length, "ball_width_mm": args.ball_width,
        "heel_width_mm": args.heel_width, "arch_height_mm": args.navicular_height,
        "shoe_size": args.shoe_size, "resolution_mm": args.resolution_mm,
        "formats": args.format, "material": args.material,
        "ascii_stl": True if args.ascii else None, "engrave": True if args.engrave else None,
        "engrave_depth_mm": args.engrave_depth,
        "scan": args.scan, "scan_units": args.scan_units,
        "side_from_scan": True if args.side_from_scan else None,
        "zones": args.zones, "pressure": args.pressure,
        "shoe": args.shoe, "additions": args.add,
        "printer": args.printer, "bed": args.bed,
        "outline": args.outline, "sheet": args.sheet,
        "scan_kind": args.scan_kind, "foot": args.foot,
    }
    overrides = {}
    from insolegen.prescription.parameters import parse_override
    for text in args.set or []:
        key, value = parse_override(text)
        overrides[key] = value
    fields["set"] = overrides
    return {k: v for k, v in fields.items() if v is not None}


def _print_result(result) -> None:
    from insolegen.core.numbers import fmt
    d = result.design
    print(f"{result.order_id}: {', '.join(d.prescription.conditions)}; foot "
          f"{fmt(d.foot_length_mm)} mm, insole {fmt(d.insole_length_mm)} mm "
          f"({d.params['insole_length']}, base {d.prescription.base})")
    for side, m in result.measured.items():
        print(f"  {side:5s}  cup {fmt(m['heel_cup_depth_mm'])} mm, arch {fmt(m['arch_height_mm'])} "
              f"mm (peak {fmt(m['arch_peak_height_mm'])}), tilt "
              f"{fmt(m['rearfoot_tilt_deg'], sign=True)} deg, rims medial/lateral/back "
              f"{fmt(m['rim_medial_mm'])}/{fmt(m['rim_lateral_mm'])}/{fmt(m['rim_posterior_mm'])} "
              f"mm, part {fmt(m['height_mm'])} mm tall, min {fmt(m['min_thickness_mm'])} mm, "
              f"{m['triangles']} triangles, watertight {m['watertight']}")
    for note in d.notes:
        print(f"  note: {note}")
    for kind, path in result.files.items():
        print(f"  wrote {path}")


def cmd_generate(args: argparse.Namespace) -> int:
    from insolegen.pipeline.order import order_from_mapping
    from insolegen.pipeline.job import generate
    order = order_from_mapping(_order_fields(args))
    result = generate(order, Path(args.out), force=args.force)
    _print_result(result)
    if result.fit is not None:
        sys.stderr.write(result.fit["verdict"] + "\n")
        return 0 if result.fit["fits"] else 4
    return 0


def cmd_fit(args: argparse.Namespace) -> int:
    from insolegen.check.fit import fit_file
    report = fit_file(Path(args.file), args.shoe, args.side,
                      Path(args.design) if args.design else None)
    print(json.dumps(report, indent=2))
    sys.stderr.write(report["verdict"] + "\n")
    return 0 if report["fits"] else 4


def cmd_shoes(args: argparse.Namespace) -> int:
    from insolegen.prescription.shoes import CATALOGUE, describe
    for shoe in CATALOGUE.values():
        print(describe(shoe))
        for source in shoe.sources:
            print(f"    source: {source}")
    return 0


def cmd_additions(args: argparse.Namespace) -> int:
    from insolegen.design.additions import catalogue_text
    print("\n".join(catalogue_text()))
    return 0


# The demo's condition for a scanned foot follows the scan's own arch type (AHI).
DEMO_CONDITION_FOR_ARCH = {"low": "flat_feet", "normal": "neutral", "high": "high_arches"}


def cmd_demo(args: argparse.Namespace) -> int:
    from insolegen.pipeline.order import order_from_mapping
    from insolegen.pipeline.job import foot_for, generate
    if args.scan is None:
        _print_result(generate(order_from_mapping(DEMO), Path(args.out), force=True))
        return 0
    from insolegen.scan.read import sample_scan
    scan = sample_scan() if args.scan == "" else Path(args.scan)
    fields = {"order_id": "demo_scan", "scan": str(scan), "conditions": "neutral", "side": "both"}
    foot = foot_for(order_from_mapping(fields))
    arch = foot.scan.get("arch_type") if foot.scan else None
    fields["conditions"] = DEMO_CONDITION_FOR_ARCH.get(arch, "neutral")
    index = foot.scan.get("arch_height_index") if foot.scan else None
    print(f"demo: the scan measures a {arch} arch (arch height index {index:.3f}): "
          f"condition {fields['conditions']}" if arch else
          "demo: the scan's arch type is unknown: condition neutral")
    _print_result(generate(order_from_mapping(fields), Path(args.out), force=True, foot=foot))
    return 0


def cmd_measure(args: argparse.Namespace) -> int:
    from insolegen.core.errors import InputError
    if (args.scan is None) == (args.outline is None):
        raise InputError("measure: give a SCAN file or --outline FILE (one of the two)")
    if args.outline is not None:
        for name, value in (("scan_units", args.scan_units), ("foot_length_mm", args.foot_length),
                            ("scan_kind", args.scan_kind), ("foot", args.foot)):
            if value is not None:
                raise InputError(f"{name} = {value!r}: only with a scan")
        from insolegen.tracing.read import measure_outline
        side = None if args.side in (None, "both") else args.side
        print(json.dumps(measure_outline(Path(args.outline), side, args.sheet), indent=2))
        return 0
    if args.sheet is not None:
        raise InputError(f"sheet = {args.sheet!r}: only with --outline (a photo of a tracing)")
    from insolegen.scan.read import measure_scan
    length = None
    if args.foot_length is not None:
        from insolegen.core.numbers import parse_number
        length = parse_number(args.foot_length, "foot_length_mm", "a length in mm")
        from insolegen.foot.measurements import RANGES
        low, high = RANGES["foot_length_mm"]
        if not low <= length <= high:
            raise InputError(f"foot_length_mm = {args.foot_length!r}: out of range, expected "
                             f"a length in mm from {low:g} to {high:g}")
    from insolegen.scan.sole import parse_kind
    kind = None if args.scan_kind is None else parse_kind(args.scan_kind)
    if args.foot not in (None, "left", "right", "both"):
        raise InputError(f"foot = {args.foot!r}: expected left, right or both")
    print(json.dumps(measure_scan(Path(args.scan), args.scan_units, length, kind, args.foot),
                     indent=2))
    return 0


def cmd_profiles(args: argparse.Namespace) -> int:
    from insolegen.prescription import profiles
    from insolegen.prescription.parameters import ALL_PARAMS
    if not args.name:
        for name in profiles.available():
            prof = profiles.load_profile(name)
            p = prof.parameters
            print(f"{name:18s} {prof.title}: arch {p['arch_support_height_mm']:g} mm, "
                  f"cup {p['heel_cup_depth_mm']:g} mm, rearfoot post {p['rearfoot_post_deg']:+g} deg")
        return 0
    pres = profiles.prescribe(args.name)
    print(f"# {', '.join(pres.conditions)}")
    print(f"# {'parameter':28s}   {'value':14s}   {'range':22s}   meaning")
    for key, value in pres.parameters.items():
        shown = str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(
            value, float) else value
        print(f"{key:30s} = {shown!s:14s} # {ALL_PARAMS[key].range_text():22s} "
              f"{ALL_PARAMS[key].doc}")
    for source in pres.sources:
        print(f"# source: {source}")
    return 0


def cmd_bases(args: argparse.Namespace) -> int:
    from insolegen.prescription import bases
    from insolegen.prescription.parameters import ALL_PARAMS
    if not args.name:
        for name in bases.available():
            base = bases.load_base(name)
            v = base.values
            span = (f", feet {base.foot_length_mm[0]:g}-{base.foot_length_mm[1]:g} mm"
                    if base.foot_length_mm else "")
            print(f"{name:18s} {base.title}: {v.get('insole_length', 'length from conditions')}"
                  f", cup {v['heel_cup_min_mm']:g}-{v['heel_cup_max_mm']:g} mm"
                  f"{', shell' if v['shell'] else ''}{'' if v['posting'] else ', no posting'}{span}")
        return 0
    base = bases.load_base(args.name)
    print(f"# base {base.name}: {base.title}")
    if base.foot_length_mm:
        print(f"# for feet of {base.foot_length_mm[0]:g}-{base.foot_length_mm[1]:g} mm")
    for key, value in base.values.items():
        shown = str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(
            value, float) else value
        print(f"{key:30s} = {shown!s:14s} # {ALL_PARAMS[key].range_text():22s} "
              f"{ALL_PARAMS[key].doc}")
    left = [k for k in bases.BASE_SETS if k not in base.values]
    if left:
        print(f"# from the conditions: {', '.join(left)}")
    for source in base.sources:
        print(f"# source: {source}")
    return 0


def cmd_check(args: argparse.Namespace) -> int:
    from insolegen.check.checkfile import check_file
    from insolegen.prescription.printers import printer
    report = check_file(Path(args.file), side=args.side,
                        design=Path(args.design) if args.design else None,
                        material_name=args.material, printer=printer(args.printer, args.bed))
    print(json.dumps(report, indent=2))
    sys.stderr.write(report["verdict"] + "\n")
    return 0 if report["printable"] else 4


def cmd_batch(args: argparse.Namespace) -> int:
    from insolegen.batch.run import run_batch
    tty = sys.stderr.isatty()
    if not tty:  # plain log lines, one per order, instead of a progress bar
        logging.getLogger("insolegen.batch.run").setLevel(logging.INFO)
    from insolegen.prescription.printers import printer
    chosen = printer(args.printer, args.bed)
    if args.plates and chosen is None:
        raise _usage("--plates needs --printer NAME or --bed WxDxH")
    defaults = {k: v for k, v in (("printer", args.printer), ("bed", args.bed)) if v}
    result = run_batch(Path(args.orders), Path(args.out), workers=args.workers,
                       scheduler=args.scheduler, retry_failed=args.retry_failed,
                       dry_run=args.dry_run, progress=tty, keep_results=False,
                       scan_root=Path(args.scan_root) if args.scan_root else None,
                       defaults=defaults)
    print(result.summary())
    if args.plates and not args.dry_run and result.counts.get("done", 0) \
            + result.counts.get("skipped", 0):
        from insolegen.plates.plate import make_plates, summary
        plates = Path(args.out) / "plates"
        print(summary(make_plates(Path(args.out), chosen, plates, force=True), plates))
    return result.exit_code


def cmd_plate(args: argparse.Namespace) -> int:
    from insolegen.plates.plate import make_plates, summary
    from insolegen.prescription.printers import printer
    chosen = printer(args.printer, args.bed)
    if chosen is None:
        raise _usage("plate needs --printer NAME or --bed WxDxH")
    print(summary(make_plates(Path(args.dir), chosen, Path(args.out), force=args.force),
                  Path(args.out)))
    return 0


def cmd_printers(args: argparse.Namespace) -> int:
    from insolegen.prescription.printers import PRINTERS
    for p in PRINTERS.values():
        print(f"{p.name:15s} {p.technology:4s} {' x '.join(f'{v:g}' for v in p.bed_mm):17s} mm"
              f"  margin {p.margin_mm:g}, spacing {p.spacing_mm:g} mm  {p.title}")
    return 0


def _usage(message: str) -> Exception:
    from insolegen.core.errors import InputError
    return InputError(message)


def _printer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--printer", metavar="NAME", help="printer preset (see 'insolegen "
                        "printers'): its bed less margins must hold every part")
    parser.add_argument("--bed", metavar="WxDxH", help="build volume in mm, e.g. 250x210x220: "
                        "alone, a bed used whole; with --printer, that preset resized")


def cmd_serve(args: argparse.Namespace) -> int:
    from insolegen.web.server import serve
    serve(args.host, args.port, args.data, args.token)
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of every subcommand."""
    from insolegen import __version__
    parser = _Parser(prog="insolegen", description="Custom orthotic insoles from a foot and a "
                     "condition: watertight STL in mm, left and right.")
    parser.add_argument("--version", action="version", version=f"insolegen {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    parser.add_argument("--debug", action="store_true", help="show tracebacks of internal errors")
    parser.add_argument("--profiles", metavar="DIR", help="folder of condition profiles that "
                        "override the built-in ones (or set INSOLEGEN_PROFILES)")
    parser.add_argument("--bases", metavar="DIR", help="folder of bases (device styles) that "
                        "override the built-in ones (or set INSOLEGEN_BASES)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    g = sub.add_parser("generate", help="make a left/right insole pair from measurements")
    g.add_argument("--foot-length", metavar="MM", help="heel to longest toe, mm; with --scan: "
                   "scales an unscaled scan (or checks a scaled one)")
    g.add_argument("--shoe-size", metavar="SIZE", help="instead of --foot-length: 'EU 42', "
                   "'UK 8', 'US-M 9', 'US-W 10.5', 'Mondopoint 265'")
    g.add_argument("--ball-width", metavar="MM", help="widest part of the forefoot, mm")
    g.add_argument("--heel-width", metavar="MM", help="widest part of the heel, mm")
    g.add_argument("--navicular-height", metavar="MM", help="navicular height standing, mm "
                   "(the arch support reaches it - 24 mm, the plantar arch height)")
    g.add_argument("--arch-height", metavar="MM", type=_ambiguous_arch, help=argparse.SUPPRESS)
    g.add_argument("--condition", required=True, metavar="NAME[,NAME]",
                   help="one or more conditions (see 'insolegen profiles')")
    g.add_argument("--base", metavar="NAME", help="device style (see 'insolegen bases'; "
                   "default casual)")
    g.add_argument("--side", default="both", help="left, right or both (default)")
    g.add_argument("--set", action="append", metavar="KEY=VALUE",
                   help="override one profile parameter (repeatable)")
    g.add_argument("--id", default="insole", help="order id: file name stem (default insole)")
    g.add_argument("--resolution-mm", metavar="MM", help="plan edge length (default 1.0)")
    g.add_argument("--format", metavar="LIST", help="files to make, comma separated: stl "
                   "(default), 3mf, obj, png (preview), pdf (job ticket), zoned-3mf (density "
                   "zones as PrusaSlicer modifiers), zoned-3mf-orca (as Orca/Bambu modifiers), "
                   "lattice-stl (gyroid lattice body in a solid skin)")
    g.add_argument("--zones", metavar="MODE", help="density zones: auto (default: from the "
                   "conditions and zone_*_infill_pct) or none (a uniform part)")
    g.add_argument("--pressure", metavar="FILE", help="plantar pressure map (CSV grid with a "
                   "'# pitch_mm' header, or Tekscan ASCII export): reliefs under forefoot "
                   "peaks, zones softened under peaks")
    g.add_argument("--ascii", action="store_true", help="ASCII STL instead of binary")
    g.add_argument("--material", metavar="NAME", help="pp, eva, pa12 (default) or tpu: "
                   "minimum wall, mass on the ticket")
    g.add_argument("--engrave", action="store_true", help="engrave id, side and size into "
                   "the bottom face")
    g.add_argument("--engrave-depth", metavar="MM", help="engraving depth (default 0.6)")
    g.add_argument("--scan", metavar="FILE", help="instead of measurements: a 3D foot scan "
                   "(STL, OBJ, PLY mesh; PLY or XYZ point cloud); total-contact insole")
    g.add_argument("--scan-units", metavar="UNIT", help="the scan's units: mm, cm, in or m "
                   "(default: detected from its size)")
    g.add_argument("--side-from-scan", action="store_true", help="with --side left or right: "
                   "make the scanned foot's side when the scan is of the other foot "
                   "(default: refuse)")
    g.add_argument("--shoe", metavar="NAME|FILE", help="the shoe it goes into: a type "
                   "(see 'insolegen shoes'; NAME:key=value,... overrides its numbers), a .toml "
                   "shoe or a .csv liner outline; outline and bottom shaped to it, fit checked "
                   "(exit 4 if it does not fit). Not --shoe-size, the foot's size")
    g.add_argument("--add", action="append", metavar="NAME[:KEY=VALUE,...]",
                   help="an addition (repeatable; see 'insolegen additions')")
    _printer_options(g)
    g.add_argument("--scan-kind", metavar="KIND", help="foot (full 3D), plantar (sole only) "
                   "or impression (a foam box's negative); default: told from the shape")
    g.add_argument("--foot", metavar="SIDE", help="left, right or both: which foot of a scan "
                   "holding both to make from (default: each side from its own foot)")
    g.add_argument("--outline", metavar="FILE", help="instead of measurements: a plantar "
                   "outline (CSV x,y mm, DXF, SVG) or a photo / flatbed scan of a paper "
                   "tracing (JPEG, PNG)")
    g.add_argument("--sheet", metavar="SIZE", help="with a tracing photo: the sheet it is "
                   "drawn on, A4 (default), Letter, A3 or WxH in mm")
    g.add_argument("--out", required=True, metavar="DIR", help="output folder")
    g.add_argument("--force", action="store_true", help="overwrite existing files")
    g.set_defaults(func=cmd_generate)

    d = sub.add_parser("demo", help="the main job on a bundled default foot (EU 42, flat feet)")
    d.add_argument("--out", required=True, metavar="DIR")
    d.add_argument("--scan", nargs="?", const="", metavar="FILE", help="from a scan instead: "
                   "the bundled sample (a real right foot) or FILE; total contact, flat feet")
    d.set_defaults(func=cmd_demo)

    m = sub.add_parser("measure", help="measure a 3D foot scan: JSON on stdout (mm, output "
                       "frame)")
    m.add_argument("scan", metavar="SCAN", nargs="?",
                   help="STL, OBJ or PLY mesh; PLY or XYZ point cloud")
    m.add_argument("--scan-units", metavar="UNIT", help="mm, cm, in or m (default: detected)")
    m.add_argument("--foot-length", metavar="MM", help="the foot's length: scales an unscaled "
                   "scan (without --scan-units) or checks it")
    m.add_argument("--scan-kind", metavar="KIND", help="foot, plantar or impression "
                   "(default: told from the shape)")
    m.add_argument("--foot", metavar="SIDE", help="left, right or both (default): which feet of "
                   "a scan holding both to measure")
    m.add_argument("--outline", metavar="FILE", help="instead of a scan: an outline CSV, DXF, "
                   "SVG or a photo / flatbed scan of a paper tracing (JPEG, PNG)")
    m.add_argument("--sheet", metavar="SIZE", help="with a tracing photo: A4 (default), "
                   "Letter, A3 or WxH in mm")
    m.add_argument("--side", choices=["left", "right"], help="with --outline: the foot's side "
                   "(default: from the outline's shape)")
    m.set_defaults(func=cmd_measure)

    p = sub.add_parser("profiles", help="list condition profiles, or show one resolved")
    p.add_argument("name", nargs="?", help="condition name(s), comma separated")
    p.set_defaults(func=cmd_profiles)

    bs = sub.add_parser("bases", help="list bases (device styles), or show one resolved")
    bs.add_argument("name", nargs="?", help="base name")
    bs.set_defaults(func=cmd_bases)

    c = sub.add_parser("check", help="is an STL / 3MF printable? JSON report on stdout, "
                       "verdict on stderr; exit 4 if not printable")
    c.add_argument("file")
    c.add_argument("--side", choices=["left", "right"], help="default: from the file name")
    c.add_argument("--design", metavar="JSON", help="design report (default: <id>.json beside)")
    c.add_argument("--material", default="pa12", metavar="NAME",
                   help="pp, eva, pa12 (default) or tpu: sets the minimum wall thickness")
    _printer_options(c)
    c.set_defaults(func=cmd_check)

    f = sub.add_parser("fit", help="does an insole STL / 3MF fit a shoe? JSON report on "
                       "stdout, verdict on stderr; exit 4 if not")
    f.add_argument("file")
    f.add_argument("--shoe", metavar="NAME|FILE", help="the shoe (default: the one in the "
                   "design report beside the file)")
    f.add_argument("--side", choices=["left", "right"], help="default: from the file name")
    f.add_argument("--design", metavar="JSON", help="design report (default: <id>.json beside)")
    f.set_defaults(func=cmd_fit)

    s = sub.add_parser("shoes", help="list the shoe types with their typical numbers")
    s.set_defaults(func=cmd_shoes)
    a = sub.add_parser("additions", help="list the additions, their parameters and ranges")
    a.set_defaults(func=cmd_additions)

    b = sub.add_parser("batch", help="make every order of a CSV / JSON Lines file, with a "
                       "manifest; exit 3 if some orders failed")
    b.add_argument("orders", metavar="ORDERS", help="orders file (.csv with a header, or .jsonl)")
    b.add_argument("--out", required=True, metavar="DIR",
                   help="batch folder: DIR/<order_id>/ per order and DIR/manifest.jsonl")
    b.add_argument("--workers", type=int, metavar="N",
                   help="processes (default: the number of cores; 0: in this process)")
    b.add_argument("--scheduler", metavar="ADDRESS",
                   help="run on a Dask distributed cluster instead, e.g. tcp://10.0.0.5:8786")
    b.add_argument("--retry-failed", action="store_true",
                   help="also retry orders that failed before with the same input")
    b.add_argument("--dry-run", action="store_true",
                   help="validate and plan only; write nothing")
    b.add_argument("--scan-root", metavar="DIR",
                   help="refuse scans outside DIR (symlinks resolved); for untrusted orders")
    b.add_argument("--plates", action="store_true", help="then nest the finished insoles "
                   "onto build plates in DIR/plates (needs --printer or --bed)")
    _printer_options(b)
    b.set_defaults(func=cmd_batch)

    pl = sub.add_parser("plate", help="nest a batch folder's finished insoles onto build "
                        "plates: 3MF per plate and plates.json")
    pl.add_argument("dir", metavar="DIR", help="batch folder (with manifest.jsonl)")
    _printer_options(pl)
    pl.add_argument("--out", required=True, metavar="PLATES", help="folder for the plates")
    pl.add_argument("--force", action="store_true", help="overwrite existing plate files")
    pl.set_defaults(func=cmd_plate)

    pr = sub.add_parser("printers", help="list the printer presets")
    pr.set_defaults(func=cmd_printers)
    w = sub.add_parser("serve", help="the technician's workbench: a local web app with a live "
                       "3D view, and an HTTP API (needs the [web] extra)")
    w.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1; "
                   "any other needs --token)")
    w.add_argument("--port", default="8000", help="port (default 8000)")
    w.add_argument("--data", default="insolegen-data", metavar="DIR",
                   help="folder the orders are kept in (default insolegen-data)")
    w.add_argument("--token", help="every request must carry it (or set INSOLEGEN_TOKEN)")
    w.set_defaults(func=cmd_serve)
    return parser


class _Terminated(BaseException):
    """SIGTERM, raised where the program is so that open writers clean up."""


def _on_sigterm(signum, frame) -> None:
    raise _Terminated()


def _one_line(text: object, limit: int = 2000) -> str:
    """``text`` as one printable line of at most about ``limit`` characters
    (:func:`insolegen.core.errors.one_line`)."""
    from insolegen.core.errors import one_line
    return one_line(text, limit)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(message)s", stream=sys.stderr)
    # Library warnings (numpy on a NaN in a scan, ...) go to the log, shown only with -v, so
    # that an error stays one line on stderr.
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").setLevel(logging.INFO if args.verbose else logging.ERROR)
    from insolegen.core.errors import InsolegenError, one_line as _one_line
    if args.profiles:
        os.environ["INSOLEGEN_PROFILES"] = args.profiles
    if args.bases:
        os.environ["INSOLEGEN_BASES"] = args.bases
    import signal
    import threading
    in_main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main else None
    try:
        return args.func(args)
    except InsolegenError as exc:
        sys.stderr.write(f"insolegen: error: {_one_line(exc)}\n")
        return exc.exit_code
    except KeyboardInterrupt:
        sys.stderr.write("insolegen: interrupted\n")
        return 130
    except _Terminated:
        sys.stderr.write("insolegen: terminated\n")
        return 128 + signal.SIGTERM
    except BrokenPipeError:  # the reader went away (`| head`): quietly, as SIGPIPE would
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 128 + signal.SIGPIPE
    except Exception as exc:  # a bug: one line unless --debug
        if args.debug:
            raise
        sys.stderr.write(f"insolegen: internal error: {type(exc).__name__}: {_one_line(exc)} "
                         f"(rerun with --debug for details)\n")
        return 1
    finally:
        if in_main:
            signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
