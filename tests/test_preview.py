"""Issue 5: the PNG preview and the PDF job ticket are real pictures of the insole.

The PNG has its size, is not blank, and its plan view is coloured by
thickness (a thick heel rim and a thin toe differ, in the colour scale's
order); the PDF has two pages with the ticket's facts. Both are made only
when asked for, and the same job gives the same bytes in another process.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import sys

import numpy as np
import pytest
from matplotlib.image import imread

from conftest import ROOT, make_pair, run_cli

FIELDS = {"order_id": "P-17", "conditions": "plantar_fasciitis", "foot_length_mm": 245,
          "resolution_mm": 2.0}


@pytest.fixture(scope="module")
def job(tmp_path_factory):
    out = tmp_path_factory.mktemp("preview")
    result = make_pair(out, formats="stl,3mf,png,pdf", engrave="yes", material="tpu", **FIELDS)
    return result, out


def test_png_is_a_real_picture(job):
    _, out = job
    image = imread(out / "P-17.png")
    assert image.shape[:2] == (1000, 1400)
    rgb = image[:, :, :3]
    assert rgb.std() > 0.1, "not blank"
    packed = (rgb * 255).round().astype(np.uint32) @ np.array([65536, 256, 1], np.uint32)
    assert len(np.unique(packed)) > 500, "a colour scale, not a few flat colours"


def test_plan_colour_follows_thickness(job):
    """Sample the PNG where the drawing puts a thick and a thin spot of the right insole."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import viridis
    from matplotlib.figure import Figure

    from insolegen.output import making as outputs, preview
    from insolegen.pipeline.order import order_from_mapping
    result, out = job
    design = result.design
    order = order_from_mapping({**FIELDS, "engrave": "yes", "material": "tpu"})
    solids, engravings = outputs.solids_for(order, design, order.sides)
    fig = Figure(figsize=(14, 10), dpi=100)
    FigureCanvasAgg(fig)
    preview.draw(fig, "P-17", design, solids, result.measured, engravings,
                 outputs.notes(order, engravings))
    fig.canvas.draw()
    plan = fig.axes[0]
    image = imread(out / "P-17.png")[:, :, :3]
    assert np.array_equal(np.asarray(fig.canvas.buffer_rgba())[:, :, :3],
                          (image * 255).round().astype(np.uint8)), "same drawing as the file"
    hx, _ = design.landmarks["heel_centre"]
    toe_x = design.insole_length_mm - 4.0
    toe_y = float(np.mean(design.plan.borders(np.array([toe_x])), axis=0)[0])
    spots = {"rim": (hx, design.heel_lat_y + 1.0), "toe": (toe_x, toe_y)}
    colour = {}
    for name, (x, y) in spots.items():  # plan image: x = -world y, y = world x (right insole)
        px, py = plan.transData.transform((-y, x))
        row, col = int(round(1000 - py)), int(round(px))
        colour[name] = image[row - 1:row + 2, col - 1:col + 2].reshape(-1, 3).mean(axis=0)
    scale = viridis(np.linspace(0, 1, 256))[:, :3]
    position = {name: int(np.argmin(np.linalg.norm(scale - c, axis=1)))
                for name, c in colour.items()}
    assert min(np.linalg.norm(scale - c, axis=1).min() for c in colour.values()) < 0.1
    assert position["rim"] > position["toe"] + 100, (colour, position)


def test_pdf_ticket_has_two_pages_with_the_facts(job):
    _, out = job
    data = (out / "P-17_ticket.pdf").read_bytes()
    assert data.startswith(b"%PDF") and b"CreationDate" not in data
    assert data.count(b"/Type /Page\n") + data.count(b"/Type /Page ") == 2 or \
        data.count(b"/Type /Page") - data.count(b"/Type /Pages") == 2
    if shutil.which("pdftotext") is None:
        pytest.skip("pdftotext (poppler-utils) not installed")
    text = subprocess.run(["pdftotext", "-layout", str(out / "P-17_ticket.pdf"), "-"],
                          capture_output=True, text=True, check=True).stdout
    report = (out / "P-17.json").read_text()
    import json
    making = json.loads(report)["making"]
    for fact in ("Job ticket", "P-17", "TPU", "Print orientation", "heel_cup_depth_mm",
                 making["sha256"]["P-17_right.stl"], "printed by", "foot length"):
        assert fact in text, fact
    assert f"{making['mass_g']['right']:.0f} g" in text


def test_pdf_renders_to_a_page_image(job, tmp_path):
    _, out = job
    if shutil.which("pdftoppm") is None:
        pytest.skip("pdftoppm (poppler-utils) not installed")
    subprocess.run(["pdftoppm", "-r", "40", "-png", "-f", "1", "-l", "1",
                    str(out / "P-17_ticket.pdf"), str(tmp_path / "page")], check=True)
    page = imread(next(tmp_path.glob("page*.png")))
    assert page.shape[0] > page.shape[1] > 300, "A4 portrait"
    assert page[:, :, :3].std() > 0.05


def test_preview_and_ticket_are_the_same_bytes_in_another_process(job, tmp_path):
    _, out = job
    proc = run_cli("generate", "--id", "P-17", "--condition", "plantar_fasciitis",
                   "--foot-length", "245", "--resolution-mm", "2.0", "--engrave",
                   "--material", "tpu", "--format", "stl,3mf,png,pdf", "--out", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    for name in ("P-17.png", "P-17_ticket.pdf", "P-17.3mf", "P-17_left.stl"):  # not the JSON:
        # it echoes the order as given ("245" from the command line, 245 here)
        assert (tmp_path / name).read_bytes() == (out / name).read_bytes(), name


def test_default_generate_does_not_draw(tmp_path):
    code = ("import sys; from pathlib import Path; from insolegen.pipeline.order import order_from_mapping;"
            "from insolegen.pipeline.job import generate;"
            f"generate(order_from_mapping({{'order_id': 'q', 'conditions': 'neutral',"
            f" 'foot_length_mm': 250, 'resolution_mm': 2}}), Path({str(tmp_path)!r}));"
            "print('matplotlib' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "False"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["q.json", "q_left.stl", "q_right.stl"]


def test_preview_draws_a_single_side(tmp_path):
    make_pair(tmp_path, side="left", formats="png", **{**FIELDS, "order_id": "solo"})
    image = imread(io.BytesIO((tmp_path / "solo.png").read_bytes()))
    assert image.shape[:2] == (1000, 1400) and image[:, :, :3].std() > 0.1
