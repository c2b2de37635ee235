"""Make the synthetic plantar pressure maps of this folder (run from the repository root).

The foot is ANSUR II subject 10027 (tests/data/ansur2_feet.csv: foot length 273 mm,
ball width 101 mm, heel width 70 mm), drawn with insolegen's template outline and
landmarks. Its peak-pressure field (kPa) is a sum of Gaussian peaks at the heel, the
five metatarsal heads (the 1st moved 8 mm proximal and 4 mm medial of the template's,
as a real foot's would be) and the hallux, over a low base and a lateral midfoot band,
with no load under the medial arch: the pattern of a normal foot standing
(peaks heel and 1st metatarsal head, midfoot lowest). Values are made up to that
pattern, not measured. Sampled at sensel centres of a 5.08 mm grid (Tekscan-like),
three frames of a stance (0.6, 1.0, 0.8 of the peak). Files:

- ``ansur10027_right.csv``: generic grid, right foot, toes up the rows;
- ``ansur10027_left_tekscan.txt``: Tekscan ASCII export of the same foot as a left foot
  (mirrored), turned 15 degrees on the sensor and shifted, ``B`` outside the sensor;
- ``ansur10027_right_turned.csv``: the right foot turned -30 degrees on a 7.62 x 5.08 mm grid.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import shapely

from insolegen.foot.measurements import Measurements, foot_from_measurements

HERE = Path(__file__).parent
FOOT = foot_from_measurements(Measurements(foot_length_mm=273, ball_width_mm=101,
                                           heel_width_mm=70))
MTH1_SHIFT = (-8.0, 4.0)  # the 1st metatarsal head's peak, from the template's landmark (mm)


def mth1_peak() -> tuple[float, float]:
    x, y = FOOT.landmarks["mth1"]
    return x + MTH1_SHIFT[0], y + MTH1_SHIFT[1]


def field(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Peak pressure (kPa) at right-frame points; 0 off the foot and under the medial arch."""
    L, marks = FOOT.foot_length_mm, FOOT.landmarks

    def bump(centre, sigma, kpa):
        return kpa * np.exp(-((x - centre[0]) ** 2 + (y - centre[1]) ** 2) / (2 * sigma ** 2))
    p = 25.0 + bump(marks["heel_centre"], 14.0, 300.0) + bump(mth1_peak(), 9.0, 380.0)
    for i, kpa in zip(range(2, 6), (150.0, 140.0, 120.0, 100.0)):
        p += bump(marks[f"mth{i}"], 9.0, kpa)
    p += bump((0.93 * L, marks["mth1"][1] + 2.0), 8.0, 200.0)
    hy = marks["heel_centre"][1]
    p += 60.0 * np.exp(-((y - (hy - 18.0)) ** 2) / (2 * 12.0 ** 2)) * ((x > 0.3 * L) & (x < 0.62 * L))
    inside = shapely.contains_xy(FOOT.outline, x, y)
    arch = (x > 0.28 * L) & (x < 0.62 * L) & (y > hy - 8.0 + 6.0 * np.sin(np.pi * (x / L - 0.28) / 0.34))
    return np.where(inside & ~arch, p, 0.0)


def sample(rows: int, cols: int, col_mm: float, row_mm: float, turn_deg: float,
           mirror: bool, origin: tuple[float, float]) -> np.ndarray:
    """(rows, cols) map of sensels (i, j) at u = j col_mm, v = i row_mm: the foot point is
    R(turn) ((v, u) - origin) (rows run heel to toe), mirrored in y for a left foot."""
    j, i = np.meshgrid(np.arange(cols), np.arange(rows))
    vu = np.column_stack([i.ravel() * row_mm, j.ravel() * col_mm]) - np.asarray(origin)
    a = np.radians(turn_deg)
    xy = vu @ np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]]).T
    if mirror:
        xy[:, 1] = -xy[:, 1]
    return field(xy[:, 0], xy[:, 1]).reshape(rows, cols)


def frames(peak: np.ndarray) -> list[np.ndarray]:
    return [np.round(peak * k, 1) for k in (0.6, 1.0, 0.8)]


def write_grid(path: Path, maps: list[np.ndarray], pitch: str) -> None:
    lines = [f"# pitch_mm = {pitch}; units = kPa; synthetic, see make_maps.py"]
    for k, m in enumerate(maps):
        if k:
            lines.append("")
        lines += [",".join(f"{v:g}" for v in row) for row in m]
    path.write_text("\n".join(lines) + "\n")


def write_tekscan(path: Path, maps: list[np.ndarray], blank: np.ndarray) -> None:
    rows, cols = maps[0].shape
    head = ["ASCII_DATA @@", "VERSION 7.00-1", "DATA_TYPE Movie", "SENSOR_TYPE 3000",
            f"ROWS {rows}", f"COLS {cols}", "ROW_SPACING 0.508 cm", "COL_SPACING 0.508 cm",
            "SENSEL_AREA 0.258064 cm2", "UNITS KPa", f"END_FRAME {len(maps)}", ""]
    body = []
    for k, m in enumerate(maps, 1):
        body.append(f"Frame {k}")
        body += [",".join("B" if b else f"{v:g}" for v, b in zip(row, brow))
                 for row, brow in zip(m, blank)]
        body.append("")
    path.write_text("\n".join(head + body))


if __name__ == "__main__":
    right = sample(60, 25, 5.08, 5.08, 0.0, False, (15.0, 63.0))
    write_grid(HERE / "ansur10027_right.csv", frames(right), "5.08")
    left = sample(64, 48, 5.08, 5.08, 15.0, True, (20.0, 150.0))
    blank = np.zeros(left.shape, bool)
    blank[:, :2] = True  # the sensor's two outer columns are not sensels
    write_tekscan(HERE / "ansur10027_left_tekscan.txt", frames(left), blank)
    turned = sample(50, 60, 5.08, 7.62, -30.0, False, (30.0, 40.0))
    write_grid(HERE / "ansur10027_right_turned.csv", frames(turned), "5.08 x 7.62")
