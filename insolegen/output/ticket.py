"""The job ticket: a two-page A4 PDF that travels with the part through the lab.

Page 1: the preview, the foot, the material with volume and mass, how to
put the part on the printer, the files with their SHA-256, and blank
fields for the people who print and check it. Page 2: the prescription as
resolved, one parameter a row, overrides marked. Drawn with matplotlib's
PDF backend; the same job always gives the same bytes (no dates inside:
the lab writes them on the paper).
"""

from __future__ import annotations

import io
import textwrap

import numpy as np

from insolegen import __version__
from insolegen.foot.sizes import size_label
from insolegen.prescription.parameters import ALL_PARAMS
from insolegen.output.preview import conditions_title
from insolegen.prescription.materials import Material

A4_IN = (8.27, 11.69)


def _unit(key: str) -> str:
    for suffix, unit in (("_mm", "mm"), ("_deg", "deg"), ("_frac", "x foot length")):
        if key.endswith(suffix):
            return unit
    return ""


def orientation(engraved: bool, depth_mm: float) -> list[str]:
    """How to place the part for printing, in plain words."""
    lines = ["Flat: bottom face (z = 0) down on the build plate, top surface up.",
             "No supports: the top is a height field over the flat bottom, nothing overhangs."]
    if engraved:
        lines.append(f"The engraving is a {depth_mm:g} mm recess in the bottom face; the layer "
                     "above it bridges the letters.")
    return lines


def _table(ax, rows: list[list[str]], widths: list[float], header: list[str] | None = None,
           size: float = 8.0, bold_rows: tuple[int, ...] = ()) -> None:
    ax.axis("off")
    table = ax.table(cellText=rows, colLabels=header, colWidths=widths, loc="upper left",
                     cellLoc="left", edges="horizontal")
    table.auto_set_font_size(False)
    table.set_fontsize(size)
    table.scale(1.0, 1.25)
    cells = table.get_celld()
    for r in {r for r, _ in cells}:  # a wrapped cell makes its whole row taller, never cut
        lines = max(cells[r, c].get_text().get_text().count("\n") + 1 for _, c in
                    [k for k in cells if k[0] == r])
        for c in {c for rr, c in cells if rr == r}:
            cells[r, c].set_height(cells[r, c].get_height() * lines)
    for (r, _), cell in cells.items():
        cell.set_edgecolor("0.8")
        if header and r == 0:
            cell.set_text_props(fontweight="bold")
        if r - (1 if header else 0) in bold_rows:
            cell.set_text_props(fontweight="bold")


def pdf(order, design, measured: dict[str, dict], mat: Material, preview_png: bytes,
        hashes: dict[str, str], engravings: dict) -> bytes:
    """The job ticket as PDF bytes."""
    from matplotlib.backends.backend_pdf import FigureCanvasPdf, PdfPages
    from matplotlib.figure import Figure
    from matplotlib.image import imread

    foot = design.foot
    buffer = io.BytesIO()
    meta = {"Title": f"insolegen job ticket {order.order_id}",
            "Creator": f"insolegen {__version__}", "Producer": f"insolegen {__version__}",
            "CreationDate": None}  # no date inside: the same job, the same bytes
    with PdfPages(buffer, metadata=meta) as pages:
        fig = Figure(figsize=A4_IN)
        FigureCanvasPdf(fig)
        fig.text(0.05, 0.975, f"Job ticket  {order.order_id}", fontsize=16, fontweight="bold",
                 va="top")
        fig.text(0.95, 0.975, f"insolegen {__version__}", fontsize=8, ha="right", va="top")
        fig.text(0.05, 0.952, f"{conditions_title(design)}  |  sides: {', '.join(order.sides)}  |"
                 f"  material: {mat.name.upper()}", fontsize=10, va="top")
        img = fig.add_axes((0.03, 0.55, 0.94, 0.39))
        img.imshow(imread(io.BytesIO(preview_png), format="png"), interpolation="lanczos")
        img.axis("off")

        foot_rows = [[name, f"{value:.1f} mm", textwrap.fill(foot.sources.get(key, ""), 34)]
                     for name, key, value in (
                         ("foot length", "foot_length_mm", foot.foot_length_mm),
                         ("ball width", "ball_width_mm", foot.ball_width_mm),
                         ("heel width", "heel_width_mm", foot.heel_width_mm))]
        arch = foot.sources.get("plantar_arch_height_mm") or \
            foot.sources.get("navicular_height_mm", "")  # the one measured; the other +-24 mm
        foot_rows.append(["navicular / plantar", f"{foot.navicular_height_mm:.1f} / "
                          f"{foot.plantar_arch_height_mm:.1f} mm", textwrap.fill(arch, 34)])
        foot_rows.append(["insole length", f"{design.insole_length_mm:.1f} mm",
                          design.params["insole_length"]])
        shoe = order.measurements.shoe_size if order.measurements is not None else None
        foot_rows.append(["shoe size", size_label(foot.foot_length_mm, shoe),
                          "as ordered" if shoe else "EU, from the foot length"])
        _table(fig.add_axes((0.04, 0.41, 0.46, 0.12)), foot_rows, [0.3, 0.18, 0.52],
               ["foot", "", "source"], size=7.0)

        made = []
        for side, m in measured.items():
            volume_cm3 = m["volume_mm3"] / 1000.0
            made.append([f"{side} insole", f"{volume_cm3:.1f} cm3",
                         f"{volume_cm3 * mat.density_g_cm3:.0f} g", f"{m['triangles']}"])
        total = sum(m["volume_mm3"] for m in measured.values()) / 1000.0
        made.append(["total", f"{total:.1f} cm3", f"{total * mat.density_g_cm3:.0f} g", ""])
        _table(fig.add_axes((0.54, 0.41, 0.42, 0.12)), made, [0.34, 0.24, 0.2, 0.22],
               ["solid (100 % infill)", "volume", "mass", "triangles"], size=7.0)
        fig.text(0.53, 0.405, f"{mat.name.upper()}: {mat.process}; {mat.density_g_cm3:g} g/cm3, "
                 f"walls >= {mat.min_wall_mm:g} mm", fontsize=6.5, va="top")
        m = next(iter(measured.values()))
        fig.text(0.53, 0.39, f"Rims above the heel seat: medial {m['rim_medial_mm']:.1f}, lateral "
                 f"{m['rim_lateral_mm']:.1f}, back {m['rim_posterior_mm']:.1f} mm; medial flange "
                 f"{m['medial_flange_mm']:.1f} mm; part {m['height_mm']:.1f} mm tall",
                 fontsize=6.5, va="top")

        y = 0.375
        fig.text(0.05, y, "Print orientation", fontsize=10, fontweight="bold", va="top")
        depth = next(iter(engravings.values())).depth_mm if engravings else 0.0
        lines = orientation(bool(engravings), depth)
        for side, e in engravings.items():
            lines.append(f"Engraved under the {side}: '{' / '.join(e.lines)}', letters "
                         f"{e.cap_height_mm:g} mm high.")
        for line in lines:
            y -= 0.019
            fig.text(0.07, y, line, fontsize=8.5, va="top")

        y -= 0.035
        fig.text(0.05, y, "Files (SHA-256)", fontsize=10, fontweight="bold", va="top")
        for name, digest in hashes.items():
            y -= 0.018
            fig.text(0.07, y, name, fontsize=7.5, va="top")
            fig.text(0.30, y, digest, fontsize=6.8, va="top", family="monospace")
        y -= 0.018
        fig.text(0.07, y, f"{order.order_id}_ticket.pdf, {order.order_id}.json", fontsize=7.5,
                 va="top")
        fig.text(0.30, y, "this ticket, and the report: it holds every file's SHA-256, this "
                 "ticket's too", fontsize=6.8, va="top")

        y -= 0.05
        for i, label in enumerate(("printed by", "date", "checked by", "date")):
            x = 0.05 + i * 0.23
            fig.text(x, y, label, fontsize=8, va="top", color="0.3")
            fig.add_artist(_line(fig, x, y - 0.03, x + 0.2))
        pages.savefig(fig)

        fig = Figure(figsize=A4_IN)
        FigureCanvasPdf(fig)
        fig.text(0.05, 0.975, f"Prescription as applied  {order.order_id}", fontsize=14,
                 fontweight="bold", va="top")
        overrides = design.prescription.overrides
        rows, bold = [], []
        for i, (key, value) in enumerate(design.params.items()):
            shown = str(value).lower() if isinstance(value, bool) else f"{value:g}" \
                if isinstance(value, float) else str(value)
            doc = ALL_PARAMS[key].doc if key in ALL_PARAMS else ""
            rows.append([key + (" *" if key in overrides else ""), shown, _unit(key),
                         textwrap.fill(doc, 60)])
            if key in overrides:
                bold.append(i)
        _table(fig.add_axes((0.04, 0.12, 0.92, 0.82)), rows, [0.31, 0.08, 0.13, 0.48],
               ["parameter", "value", "unit", "meaning"], size=7.0, bold_rows=tuple(bold))
        notes = ["* set for this order (override of the condition profile)"]
        notes += [f"note: {n}" for n in design.notes]
        notes += [f"source: {s}" for s in design.prescription.sources]
        text = "\n".join(textwrap.fill(n, 125, subsequent_indent="   ") for n in notes)
        fig.text(0.05, 0.105, text, fontsize=6.5, va="top")
        pages.savefig(fig)
    return buffer.getvalue()


def _line(fig, x0: float, y: float, x1: float):
    from matplotlib.lines import Line2D
    return Line2D(np.array([x0, x1]), np.array([y, y]), transform=fig.transFigure, color="0.4",
                  lw=0.6)
