"""insolegen's command line: parse, call one library function, print.

Exit status: 0 done, 1 internal error, 2 bad input (one line on stderr
naming the field, the value and what is accepted), 3 a batch with failed
orders, 4 a file that fails ``check``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys

from insolegen.cli.commands import (cmd_additions, cmd_bases, cmd_batch, cmd_check, cmd_demo,
                                     cmd_fit, cmd_generate, cmd_measure, cmd_plate, cmd_printers,
                                     cmd_profiles, cmd_serve, cmd_shoes)

class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error as one line and exit status 2."""

    def error(self, message: str) -> None:  # noqa: D102
        sys.stderr.write(f"{self.prog}: error: {message} (see --help)\n")
        raise SystemExit(2)


def _ambiguous_arch(text: str) -> None:
    raise argparse.ArgumentTypeError(
        f"{text!r}: ambiguous, refused: give --navicular-height MM (navicular height standing) "
        "or --plantar-arch-height MM (the sole's plantar arch height, plantar_arch_height_mm "
        "of 'insolegen measure')")


def _printer_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--printer", metavar="NAME", help="printer preset (see 'insolegen "
                        "printers'): its bed less margins must hold every part")
    parser.add_argument("--bed", metavar="WxDxH", help="build volume in mm, e.g. 250x210x220: "
                        "alone, a bed used whole; with --printer, that preset resized")


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
    g.add_argument("--plantar-arch-height", metavar="MM", help="instead of --navicular-height: "
                   "the sole's height under the arch apex, mm (plantar_arch_height_mm of "
                   "'insolegen measure'); the arch support reaches it")
    g.add_argument("--ball-length", metavar="MM", help="heel to the 1st metatarsal head, mm "
                   "(0.66-0.82 of foot length): places the metatarsal heads and the met pad "
                   "(default: 0.74 of foot length, the ANSUR II median); not with --scan")
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
    g.add_argument("--split-cover", action="store_true", help="the top cover as its own "
                   "body: <id>_<side>_cover.stl and _base.stl instead of <id>_<side>.stl, and "
                   "two parts with their materials per side in the 3MF")
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
