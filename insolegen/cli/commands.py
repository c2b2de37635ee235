"""The subcommands: each parses nothing, calls one library function and prints.

Heavy modules are imported inside each command, so ``--help`` and bad input stay fast.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

DEMO = {"order_id": "demo", "foot_length_mm": "265", "conditions": "flat_feet", "side": "both"}


def _order_fields(args: argparse.Namespace) -> dict:
    fields = {
        "order_id": args.id, "side": args.side, "conditions": args.condition, "base": args.base,
        "foot_length_mm": args.foot_length, "ball_width_mm": args.ball_width,
        "heel_width_mm": args.heel_width, "navicular_height_mm": args.navicular_height,
        "plantar_arch_height_mm": args.plantar_arch_height, "ball_length_mm": args.ball_length,
        "shoe_size": args.shoe_size, "resolution_mm": args.resolution_mm,
        "formats": args.format, "material": args.material,
        "ascii_stl": True if args.ascii else None, "engrave": True if args.engrave else None,
        "engrave_depth_mm": args.engrave_depth,
        "split_cover": True if getattr(args, "split_cover", False) else None,
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
        print(f"  {side:5s}  cup {fmt(m['heel_cup_depth_mm'])} mm, arch {fmt(m['arch_rise_mm'])} "
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


def _print_values(values: dict) -> None:
    """One line a parameter: name, value, accepted range and meaning."""
    from insolegen.prescription.parameters import ALL_PARAMS
    for key, value in values.items():
        shown = str(value).lower() if isinstance(value, bool) else f"{value:g}" if isinstance(
            value, float) else value
        print(f"{key:30s} = {shown!s:14s} # {ALL_PARAMS[key].range_text():22s} "
              f"{ALL_PARAMS[key].doc}")


def cmd_profiles(args: argparse.Namespace) -> int:
    from insolegen.prescription import profiles
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
    _print_values(pres.parameters)
    for source in pres.sources:
        print(f"# source: {source}")
    return 0


def cmd_bases(args: argparse.Namespace) -> int:
    from insolegen.prescription import bases
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
    _print_values(base.values)
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


def cmd_serve(args: argparse.Namespace) -> int:
    from insolegen.web.server import serve
    serve(args.host, args.port, args.data, args.token)
    return 0
