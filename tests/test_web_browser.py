"""The workbench in a real browser (Debian's headless Chromium, driven by Playwright): fill
an order, see the 3D view draw and change, make it, download the STL and find it
byte-identical to ``insolegen generate``; errors shown; a screenshot of each page."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
import trimesh
from PIL import Image

from insolegen.web.app import three_dir
from webutil import Server, cli_files

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
SHOTS = Path(__file__).parent.parent / "out" / "web-screenshots"


@pytest.fixture(scope="module")
def browser_page(tmp_path_factory):
    assert three_dir() is not None, "three.js missing: npm ci --prefix insolegen/web/vendor"
    from playwright.sync_api import sync_playwright
    srv = Server(tmp_path_factory.mktemp("webui") / "data")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        yield srv, page, errors
        browser.close()
    srv.close()


def _canvas(page) -> np.ndarray:
    url = page.eval_on_selector("#view3d", "c => c.toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))


def _wait_preview(page, after: int) -> int:
    page.wait_for_function(f"Number(document.querySelector('#view3d').dataset.seq || 0) > {after}",
                           timeout=30000)
    return int(page.eval_on_selector("#view3d", "c => c.dataset.seq"))


def _shot(page, name: str, tmp: Path) -> None:
    for folder in (tmp, SHOTS):
        folder.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def test_order_in_the_browser_matches_the_cli(browser_page, tmp_path):
    srv, page, errors = browser_page
    page.goto(srv.url + "/")
    seq = _wait_preview(page, 0)
    background = _canvas(page)[0, 0]
    page.fill("#f-order_id", "WEB-1")
    page.fill("#f-patient_ref", "PAT-0042")
    page.fill("#f-clinic", "North clinic")
    page.fill("#f-technician", "AB")
    page.fill("#f-foot_length_mm", "250")
    seq = _wait_preview(page, seq)
    first = _canvas(page)
    drawn = np.any(first != background, axis=2)
    assert drawn.mean() > 0.05  # the pair covers a good part of the view
    assert len(np.unique(first.reshape(-1, 3), axis=0)) > 50  # shaded, colour-mapped
    assert "heel cup depth" in page.inner_text("#features")
    assert "note:" in page.inner_text("#notes")

    page.fill("#p-heel_cup_depth_mm", "25")
    seq = _wait_preview(page, seq)
    second = _canvas(page)
    assert np.any(second != first, axis=2).mean() > 0.002  # the view followed the change
    row = "tr[data-param=heel_cup_depth_mm]"
    assert page.inner_text(f"{row} .profile") == "18"  # flat_feet's value, and where from
    assert page.inner_text(f"{row} .from") == "this order (override)"
    cells = page.inner_text("tr[data-feature=heel_cup_depth_mm]").split("\t")[1:]
    assert [abs(float(c) - 25) < 0.5 for c in cells] == [True, True]  # measured on the mesh
    _shot(page, "new-order", tmp_path)

    page.fill("#p-heel_cup_depth_mm", "45")  # out of range: refused in the page
    page.wait_for_function("document.querySelector('#message').textContent.includes('45')")
    assert page.inner_text("#message") == ("--set heel_cup_depth_mm = '45': out of range, "
                                           "expected a number from 0 to 30")
    # and on the server, when the page's check is bypassed: the CLI's line
    answer = page.evaluate("""async () => { const r = await fetch('/api/preview', {method: 'POST',
        body: JSON.stringify({foot_length_mm: 250, conditions: 'flat_feet',
                              set: {heel_cup_depth_mm: 45}})}); return [r.status, await r.json()]; }""")
    assert answer == [400, {"error": "--set heel_cup_depth_mm = 45: out of range, expected a "
                                     "number from 0 to 30"}]
    page.fill("#p-heel_cup_depth_mm", "25")
    _wait_preview(page, seq)

    page.click("#make")
    page.wait_for_selector("#made-files a")
    with page.expect_download() as info:
        page.click("#made-files a:text('WEB-1_right.stl')")
    stl = Path(info.value.path()).read_bytes()
    expected = cli_files(["--foot-length", "250", "--condition", "flat_feet", "--id", "WEB-1",
                          "--set", "heel_cup_depth_mm=25"], tmp_path / "cli")
    assert stl == expected["WEB-1_right.stl"]
    mesh = trimesh.load(io.BytesIO(stl), file_type="stl")
    assert mesh.is_watertight and mesh.is_winding_consistent and mesh.volume > 0
    record_id = page.inner_text("#made-files").split(":")[0].removeprefix("Order ").strip()
    record = json.loads(srv.request("GET", f"/api/orders/{record_id}")[1])
    for name, data in expected.items():  # every file of the order, not only the STL
        assert srv.request("GET", f"/api/orders/{record_id}/files/{name}")[1] == data
    assert record["ticket"] == {"patient_ref": "PAT-0042", "clinic": "North clinic",
                                "technician": "AB"}
    assert errors == []


def test_orders_page_finds_and_reopens_for_the_other_foot(browser_page, tmp_path):
    srv, page, errors = browser_page
    order = {"order_id": "WEB-2", "foot_length_mm": "250", "conditions": "flat_feet",
             "side": "right", "resolution_mm": "3", "set": {"heel_cup_depth_mm": "25"},
             "patient_ref": "PAT-0077"}
    assert srv.request("POST", "/api/orders", order)[0] == 201  # made by an order system
    page.goto(srv.url + "/orders")
    page.fill("#find-ref", "pat-0077")
    page.click("#find")
    page.wait_for_selector("#order-list tbody tr")
    assert "WEB-2" in page.inner_text("#order-list")
    _shot(page, "orders", tmp_path)
    page.click("#order-list button:text('other foot')")
    page.wait_for_function("document.querySelector('#f-order_id').value === 'WEB-2-left'")
    assert page.input_value("#f-side") == "left"
    assert page.input_value("#f-resolution_mm") == "3"
    assert page.input_value("#p-heel_cup_depth_mm") == "25"
    assert page.input_value("#f-foot_length_mm") == "250"
    assert errors == []


def test_batches_page_runs_a_file(browser_page, tmp_path):
    srv, page, errors = browser_page
    orders = tmp_path / "orders.csv"
    orders.write_text("order_id,foot_length_mm,conditions,resolution_mm\n"
                      "B1,250,flat_feet,3\nB2,260,no_such_condition,3\n")
    page.goto(srv.url + "/batches")
    page.set_input_files("#batch-file", str(orders))
    page.click("#batch-start")
    page.wait_for_function("document.querySelector('#batch-status').textContent.includes('finished')",
                           timeout=60000)
    table = page.inner_text("#batch-list")
    assert "done" in table and "failed" in table and "no_such_condition" in table
    with page.expect_download() as info:
        page.click("#batch-list a:text('B1_right.stl')")
    mesh = trimesh.load(io.BytesIO(Path(info.value.path()).read_bytes()), file_type="stl")
    assert mesh.is_watertight
    _shot(page, "batches", tmp_path)
    assert errors == []


def test_two_browsers_at_once_keep_their_own_orders(browser_page, tmp_path):
    srv, page, errors = browser_page
    browser = page.context.browser
    contexts = [browser.new_context(accept_downloads=True) for _ in range(2)]
    pages = [c.new_page() for c in contexts]
    try:
        for i, p in enumerate(pages):
            p.goto(srv.url + "/")
            _wait_preview(p, 0)
            p.fill("#f-order_id", f"TWO-{i}")
            p.fill("#f-patient_ref", f"PAT-TWO-{i}")
            p.fill("#f-foot_length_mm", str(240 + 20 * i))
            p.fill("#f-resolution_mm", "3")
            p.select_option("#f-side", ["left", "right"][i])
        for p in pages:  # both make at once
            p.evaluate("document.querySelector('#make').click()")
        for i, p in enumerate(pages):
            p.wait_for_selector("#made-files a", timeout=60000)
            side = ["left", "right"][i]
            links = sorted(a.inner_text() for a in p.query_selector_all("#made-files a"))
            assert links == sorted([f"TWO-{i}_{side}.stl", f"TWO-{i}.json"])
            with p.expect_download() as info:
                p.click(f"#made-files a:text('TWO-{i}_{side}.stl')")
            expected = cli_files(["--foot-length", str(240 + 20 * i), "--condition", "flat_feet",
                                  "--side", side, "--resolution-mm", "3", "--id", f"TWO-{i}"],
                                 tmp_path / f"cli{i}")
            assert Path(info.value.path()).read_bytes() == expected[f"TWO-{i}_{side}.stl"]
    finally:
        for c in contexts:
            c.close()
    assert errors == []
