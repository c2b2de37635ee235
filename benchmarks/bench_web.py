"""How fast the workbench's 3D view follows a changed value, at the default resolution.

Starts ``insolegen serve`` on a free 127.0.0.1 port and times, for a
heel_cup_depth_mm changed each run (medians):

- the floor: :func:`insolegen.pipeline.job.render` of the same order in this
  process (the library's work alone: design, mesh, STL bytes read back and
  measured), and an HTTP round trip to ``/api/schema`` (the transport alone);
- an HTTP client: the request to ``/api/preview`` until its last mesh byte;
- the browser (Debian's headless Chromium, software WebGL): from setting the
  value in the form to the new mesh drawn on the canvas.

    python benchmarks/bench_web.py [--repeat N]
"""

from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from insolegen.pipeline.job import render
from insolegen.web.engine import preview_order

ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]


def post(url: str, body: dict) -> bytes:
    req = urllib.request.Request(url, json.dumps(body).encode(), method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as resp:
        return resp.read()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    n = parser.parse_args().repeat
    order = {"foot_length_mm": "265", "conditions": "flat_feet"}
    floor = []
    for i in range(n):
        o = preview_order({**order, "set": {"heel_cup_depth_mm": str(14 + i % 10)}})
        t = time.perf_counter()
        render(o)
        floor.append(time.perf_counter() - t)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        server = subprocess.Popen([sys.executable, "-m", "insolegen", "serve", "--port", str(port),
                                   "--data", data])
        try:
            for _ in range(200):
                try:
                    urllib.request.urlopen(url + "/api/schema").read()
                    break
                except OSError:
                    time.sleep(0.1)
            schema, http, size = [], [], 0
            for i in range(n):
                t = time.perf_counter()
                urllib.request.urlopen(url + "/api/schema").read()
                schema.append(time.perf_counter() - t)
                t = time.perf_counter()
                size = len(post(url + "/api/preview",
                                {**order, "set": {"heel_cup_depth_mm": str(14 + i % 10)}}))
                http.append(time.perf_counter() - t)
            browser, page_ms = browser_times(url, n)
        finally:
            server.terminate()
            server.wait()
    f, h = statistics.median(floor), statistics.median(http)
    print(f"floor: render in process          {1000 * f:7.1f} ms")
    print(f"floor: HTTP round trip (schema)   {1000 * statistics.median(schema):7.1f} ms")
    print(f"HTTP client: preview bytes        {1000 * h:7.1f} ms  ({size / 1e6:.1f} MB, "
          f"{h / f:.2f}x render)")
    if browser:
        b = statistics.median(browser)
        print(f"browser: value set to mesh drawn  {1000 * b:7.1f} ms  ({b / f:.2f}x render; "
              f"page's own fetch-to-drawn {statistics.median(page_ms):.0f} ms)")


def browser_times(url: str, n: int) -> tuple[list[float], list[float]]:
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url + "/")
        page.wait_for_function("document.querySelector('#view3d').dataset.seq")
        times, own = [], []
        for i in range(n):
            seq = int(page.eval_on_selector("#view3d", "c => c.dataset.seq"))
            t = time.perf_counter()
            page.fill("#p-heel_cup_depth_mm", str(14 + i % 10))
            page.wait_for_function(
                f"Number(document.querySelector('#view3d').dataset.seq) > {seq}")
            times.append(time.perf_counter() - t)
            own.append(float(page.eval_on_selector("#view3d", "c => c.dataset.ms")))
        browser.close()
    return times, own


if __name__ == "__main__":
    main()
