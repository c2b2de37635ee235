"""The technician's picture: plan view coloured by thickness, and the medial side profile.

Drawn with matplotlib's object API on a :class:`~matplotlib.figure.Figure`
(no pyplot, no screen, no global state), so workers in a pool can draw at
the same time. The plan view is seen from above with the toes up, the left
insole on the left as under the wearer's feet; the profile is the right
insole (or the left, mirrored) seen from its medial side, heights
stretched.
"""

from __future__ import annotations

import io

import numpy as np

from insolegen.core.numbers import fmt
from insolegen.geometry.inspection import _top as top_surface  # faces that look up
from insolegen.mesh.solid import Solid

PLAN_GAP_MM = 25.0
_LEGEND = {"o": "heel centre", "^": "arch apex (navicular)", "s": "1st / 5th metatarsal heads",
           "D": "met pad peak", "v": "heel spur recess centre"}
_MARKS = {"heel_centre": ("heel", "o"), "arch_apex": ("arch apex", "^"),
          "mth1": ("MTH1", "s"), "mth5": ("MTH5", "s")}


def _marks(design) -> list[tuple[tuple[float, float], str, str]]:
    """Landmarks and pad / recess centres to mark: (x, y) canonical frame, label, marker."""
    out = [(design.landmarks[k], label, marker) for k, (label, marker) in _MARKS.items()]
    if design.params["met_pad"]:
        out.append((design.met_pad_centre, "met pad", "D"))
    if design.params["heel_spur_relief"]:
        out.append((design.heel_recess_centre, "spur recess", "v"))
    return out


def conditions_title(design) -> str:
    return ", ".join(c.replace("_", " ") for c in design.prescription.conditions)


def title(order_id: str, design) -> str:
    """``order id - conditions - foot and insole length``."""
    return (f"Order {order_id}  |  {conditions_title(design)}  |  "
            f"foot {fmt(design.foot_length_mm)} mm, insole {fmt(design.insole_length_mm)} mm "
            f"({design.params['insole_length']})")


def draw_plan(ax, design, solids: dict[str, Solid], engravings: dict) -> object:
    """Both insoles seen from above, toes up, coloured by thickness; returns the colour mapping.

    The colour scale is stretched at the low end (power 0.5) so that the
    few millimetres of the shell and the pads stay readable next to the rims.
    """
    from matplotlib.colors import PowerNorm
    zmax = max(float(s.vertices[:, 2].max()) for s in solids.values())
    norm = PowerNorm(0.5, vmin=0.0, vmax=zmax)
    shift = {}
    # image x = -world y (so +Y, the wearer's left, is on the left), image y = world x
    if "left" in solids and "right" in solids:
        right_lo = -solids["right"].vertices[:, 1].max()
        left_hi = -solids["left"].vertices[:, 1].min()
        shift = {"right": 0.0, "left": right_lo - PLAN_GAP_MM - left_hi}
    mapping = None
    for side, solid in solids.items():
        dx = shift.get(side, 0.0)
        v = solid.vertices
        top, _ = top_surface(v, solid.faces)
        px, py = -v[:, 1] + dx, v[:, 0]
        mapping = ax.tripcolor(px, py, top, v[:, 2], shading="gouraud", cmap="viridis",
                               norm=norm, rasterized=True)
        ax.tricontour(px, py, top, v[:, 2], levels=np.arange(2.0, zmax, 2.0), colors="k",
                      linewidths=0.3, alpha=0.45)
        sign = -1.0 if side == "left" else 1.0
        if design.pressure:
            draw_pressure(ax, design, sign, dx)
        for (x, y), label, marker in _marks(design):
            ax.plot(-sign * y + dx, x, marker, ms=7, mfc="white", mec="k", mew=1.2, zorder=5)
            ax.annotate(label, (-sign * y + dx, x), xytext=(6, 5), textcoords="offset points",
                        fontsize=7.5, zorder=6,
                        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none",
                              "alpha": 0.8})
        if side in engravings:
            for poly in engravings[side].shape.geoms:
                for ring in (poly.exterior, *poly.interiors):
                    xy = np.asarray(ring.coords)
                    ax.plot(-xy[:, 1] + dx, xy[:, 0], color="tab:red", lw=0.6)
        ax.text(-v[:, 1].mean() + dx, -10, f"{side.upper()}\n{np.ptp(v[:, 1]):.0f} mm wide",
                ha="center", va="top", fontsize=10, fontweight="bold")
    ax.set_aspect("equal")
    ax.set_ylim(-32, design.insole_length_mm + 6)
    ax.set_xticks([])
    ax.set_ylabel("heel to toe (mm)")
    for spine in ("top", "right", "bottom"):
        ax.spines[spine].set_visible(False)
    ax.set_title("Plan view from above, toes up (left insole on the left)", fontsize=10)
    return mapping


def draw_pressure(ax, design, sign: float, dx: float) -> None:
    """The registered peak-pressure map laid on the plan: translucent red isobars at a
    quarter, half and three quarters of its peak, and an X at each pressure relief."""
    pts = np.asarray(design.pressure["points"], dtype=float)
    values = np.asarray(design.pressure["values"], dtype=float)
    if len(pts) < 3:
        return
    from matplotlib.tri import Triangulation
    from scipy.spatial import cKDTree
    px, py = -sign * pts[:, 1] + dx, pts[:, 0]
    tri = Triangulation(px, py)
    pitch = float(np.median(cKDTree(pts).query(pts, k=2)[0][:, 1]))
    corners = pts[tri.triangles]
    longest = np.max(np.linalg.norm(corners - np.roll(corners, 1, axis=1), axis=2), axis=1)
    tri.set_mask(longest > 1.6 * pitch)  # no isobars across the unloaded arch
    levels = values.max() * np.array([0.25, 0.5, 0.75, 1.0001])
    ax.tricontourf(tri, values, levels=levels, cmap="Reds", alpha=0.35, zorder=3)
    ax.tricontour(tri, values, levels=levels[:3], colors="darkred", linewidths=0.7, zorder=3)
    for x, y, _, _ in design.reliefs:
        ax.plot(-sign * y + dx, x, "x", ms=9, mew=2.0, color="darkred", zorder=5)


def section_heights(solid: Solid, stations: np.ndarray) -> np.ndarray:
    """Highest point (mm) of ``solid``'s section by the plane ``x = station`` for each
    station (mm, ascending): the most any edge crossing the plane, or a vertex on it,
    reaches. Exact for a triangle mesh, whatever its vertices' spacing; 0 where none."""
    v = solid.vertices
    f = solid.faces
    edges = np.vstack([f[:, [0, 1]], f[:, [1, 2]], f[:, [2, 0]]])
    a, b = v[edges[:, 0]], v[edges[:, 1]]
    lo, hi = np.minimum(a[:, 0], b[:, 0]), np.maximum(a[:, 0], b[:, 0])
    first = np.searchsorted(stations, lo, side="left")
    count = np.searchsorted(stations, hi, side="right") - first
    edge = np.repeat(np.arange(len(edges)), count)
    at = np.repeat(first - np.cumsum(count) + count, count) + np.arange(count.sum())
    x = stations[at]
    a, b = a[edge], b[edge]
    span = b[:, 0] - a[:, 0]
    t = np.where(span != 0.0, (x - a[:, 0]) / np.where(span != 0.0, span, 1.0), 0.0)
    z = np.where(span != 0.0, a[:, 2] + t * (b[:, 2] - a[:, 2]), np.maximum(a[:, 2], b[:, 2]))
    out = np.zeros(len(stations))
    np.maximum.at(out, at, z)
    return out


def draw_profile(ax, design, measured: dict, solid: Solid) -> None:
    """Medial side view of the insole with heel cup and arch annotated: the part's own
    silhouette (highest point of ``solid``'s section every millimetre along X) and, from
    the design,
    the height along the arch line and the midline."""
    xs = np.linspace(0.0, design.insole_length_mm, 500)
    lat, med = design.plan.borders(xs)
    mid = (lat + med) / 2
    stations = np.arange(0.0, design.insole_length_mm + 1.0, 1.0)
    silhouette = section_heights(solid, stations)
    apex_x, apex_y = design.landmarks["arch_apex"]
    u = (apex_y - np.interp(apex_x, xs, mid)) / (np.interp(apex_x, xs, med)
                                                  - np.interp(apex_x, xs, mid))
    medial = design.top(np.column_stack([xs, mid + u * (med - mid)]))
    middle = design.top(np.column_stack([xs, mid]))
    ax.fill_between(stations, 0, silhouette, color="0.85", label="the part seen from the side")
    ax.plot(xs, medial, color="tab:blue", lw=1.6, label="medial arch line")
    ax.plot(xs, middle, color="0.3", lw=1.0, ls="--", label="midline")
    ax.axhline(0, color="k", lw=0.8)
    seat = measured["heel_seat_height_mm"]
    cup = measured["heel_cup_depth_mm"]
    ax.annotate("", (3.0, seat + cup), (3.0, seat),
                arrowprops={"arrowstyle": "<->", "color": "tab:red", "lw": 1.2})
    ax.text(6.0, seat + cup / 2, f"heel cup\n{cup:.1f} mm", color="tab:red", fontsize=8,
            va="center")
    apex_top = float(np.interp(apex_x, xs, medial))
    seat_mid = float(np.interp(apex_x, xs, middle))
    ax.annotate("", (apex_x, apex_top), (apex_x, seat_mid),
                arrowprops={"arrowstyle": "<->", "color": "tab:blue", "lw": 1.2})
    ax.text(apex_x + 4, (apex_top + seat_mid) / 2,
            f"arch {measured['arch_rise_mm']:.1f} mm\n"
            f"(peak {measured['arch_peak_height_mm']:.1f} mm above floor)",
            color="tab:blue", fontsize=8, va="center")
    ax.set_xlim(-2, design.insole_length_mm + 2)
    ax.set_ylim(0, max(float(silhouette.max()), apex_top) * 1.2 + 1)
    ax.set_xlabel("heel to toe (mm)")
    ax.set_ylabel("height (mm)\nvertical scale stretched")
    ax.grid(alpha=0.25)
    ax.legend(loc="upper right", fontsize=7, frameon=False)
    ax.set_title("Medial side profile (right insole; the left is its mirror image)", fontsize=10)


def summary_lines(design, measured: dict) -> list[str]:
    """Key numbers for the picture's side box."""
    p = design.params
    return [f"heel cup {measured['heel_cup_depth_mm']:.1f} mm",
            f"arch {measured['arch_rise_mm']:.1f} mm",
            f"rearfoot post {fmt(measured['rearfoot_tilt_deg'], sign=True)} deg",
            f"forefoot post {p['forefoot_post_deg']:+g} deg",
            f"rim medial {measured['rim_medial_mm']:.1f} / lateral "
            f"{measured['rim_lateral_mm']:.1f} / back {measured['rim_posterior_mm']:.1f} mm",
            f"medial flange {measured['medial_flange_mm']:.1f} mm, part "
            f"{measured['height_mm']:.1f} mm tall",
            f"heel seat {measured['heel_seat_height_mm']:.1f} mm thick",
            f"thinnest {measured['min_thickness_mm']:.1f} mm",
            f"met pad {'%g mm' % p['met_pad_height_mm'] if p['met_pad'] else 'none'}",
            f"heel spur relief {'yes' if p['heel_spur_relief'] else 'no'}"]


def draw(fig, order_id: str, design, solids: dict[str, Solid], measured: dict[str, dict],
         engravings: dict, notes: list[str] = (),
         rect: tuple[float, float, float, float] = (0, 0, 1, 1)) -> None:
    """The whole preview into ``fig`` within ``rect`` (left, bottom, width, height, figure
    units); ``notes`` are extra lines for the side box (material, engraving)."""
    from matplotlib.lines import Line2D

    def at(x: float, y: float, w: float, h: float) -> tuple[float, float, float, float]:
        left, bottom, width, height = rect
        return (left + x * width, bottom + y * height, w * width, h * height)

    m = measured.get("right") or next(iter(measured.values()))
    plan = fig.add_axes(at(0.03, 0.33, 0.50, 0.60))
    mapping = draw_plan(plan, design, solids, engravings)
    fig.colorbar(mapping, cax=fig.add_axes(at(0.54, 0.38, 0.012, 0.50)),
                 label="thickness above the floor (mm)")
    box = "As measured on the written file\n" + "\n".join(summary_lines(design, m))
    if notes:
        box += "\n\n" + "\n".join(notes)
    x0, y0, _, _ = at(0.64, 0.90, 0, 0)
    fig.text(x0, y0, box, va="top", fontsize=9.5, family="monospace", linespacing=1.55,
             bbox={"boxstyle": "round,pad=0.6", "fc": "0.96", "ec": "0.7"})
    markers = dict.fromkeys(marker for _, _, marker in _marks(design))
    handles = [Line2D([], [], ls="", marker=mk, ms=7, mfc="white", mec="k", label=_LEGEND[mk])
               for mk in markers]
    handles.append(Line2D([], [], color="0.3", lw=0.6, label="thickness contours, every 2 mm"))
    if design.pressure:
        handles.append(Line2D([], [], color="darkred", lw=0.7, label="peak pressure "
                              "(%s): 25 / 50 / 75 %% of %.0f %s" % (
                                  design.pressure["source"], max(design.pressure["values"]),
                                  design.pressure["units"])))
        handles.append(Line2D([], [], ls="", marker="x", ms=8, mew=2, color="darkred",
                              label="pressure relief"))
    if engravings:
        handles.append(Line2D([], [], color="tab:red", lw=1.0,
                              label="engraving on the bottom (seen through)"))
    legend = fig.add_axes(at(0.64, 0.36, 0.33, 0.16))
    legend.axis("off")
    legend.legend(handles=handles, loc="upper left", fontsize=8.5, frameon=False)
    side = "right" if "right" in solids else "left"
    canonical = solids[side] if side == "right" else solids[side].mirrored()
    draw_profile(fig.add_axes(at(0.07, 0.06, 0.88, 0.20)), design, m, canonical)
    x0, y0, _, _ = at(0.5, 0.985, 0, 0)
    fig.text(x0, y0, title(order_id, design), ha="center", va="top", fontsize=13,
             fontweight="bold")


def png(order_id: str, design, solids: dict[str, Solid], measured: dict[str, dict],
        engravings: dict, notes: list[str] = ()) -> bytes:
    """The preview as PNG bytes (1400 x 1000 px), deterministic for the same input."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    fig = Figure(figsize=(14, 10), dpi=100)
    FigureCanvasAgg(fig)
    draw(fig, order_id, design, solids, measured, engravings, notes)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
