"""The workbench's HTTP API on a real server: orders made as the CLI makes them, bad ones
refused with the CLI's message, nothing half written, nothing outside the data folder."""

from __future__ import annotations

import concurrent.futures
import io
import json
import os
import signal
import time

import numpy as np
import pytest
import trimesh

from insolegen.web.engine import read_preview
from insolegen.web.server import check_options
from insolegen.core.errors import InputError
from webutil import Server, cli_error, cli_files

RES = "2.5"  # coarse plan: the same code paths, a quarter of the triangles


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("web")
    srv = Server(root / "data", env={"INSOLEGEN_MAX_SCAN_MB": "1"})
    srv.root = root
    yield srv
    srv.close()


def _order(i: int) -> dict:
    return {"order_id": f"API-{i:02d}", "foot_length_mm": str(230 + 2 * i),
            "conditions": ["flat_feet", "overpronation", "high_arches"][i % 3],
            "side": ["both", "left", "right"][i % 3], "resolution_mm": RES,
            "set": {"heel_cup_depth_mm": str(14 + i % 6)}, "patient_ref": f"P-{i % 7}"}


def _cli_args(order: dict) -> list[str]:
    return ["--foot-length", order["foot_length_mm"], "--condition", order["conditions"],
            "--side", order["side"], "--resolution-mm", RES, "--id", order["order_id"],
            "--set", f"heel_cup_depth_mm={order['set']['heel_cup_depth_mm']}"]


BAD = [
    ({"order_id": "BAD-1", "foot_length_mm": "260", "conditions": "flat_foot_typo"},
     ["--foot-length", "260", "--condition", "flat_foot_typo", "--id", "BAD-1"]),
    ({"order_id": "BAD-2", "foot_length_mm": "260", "conditions": "flat_feet",
      "set": {"heel_cup_depth_mm": "45"}},
     ["--foot-length", "260", "--condition", "flat_feet", "--set", "heel_cup_depth_mm=45",
      "--id", "BAD-2"]),
    ({"order_id": "../../escape", "foot_length_mm": "260", "conditions": "flat_feet"},
     ["--foot-length", "260", "--condition", "flat_feet", "--id", "../../escape"]),
    ({"order_id": "BAD-4", "foot_length_mm": "9000", "conditions": "flat_feet"},
     ["--foot-length", "9000", "--condition", "flat_feet", "--id", "BAD-4"]),
    ({"order_id": "BAD-5", "foot_length_mm": "260", "conditions": "flat_feet",
      "side": "middle"},
     ["--foot-length", "260", "--condition", "flat_feet", "--side", "middle", "--id", "BAD-5"]),
]


def test_fifty_orders_from_four_threads(server, tmp_path, capsys):
    good = [_order(i) for i in range(45)]
    bad = [b for b, _ in BAD]
    posts = good[:9] + bad[:1] + good[9:18] + bad[1:2] + good[18:27] + bad[2:3] \
        + good[27:36] + bad[3:4] + good[36:] + bad[4:]
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda o: server.request("POST", "/api/orders", o), posts))
    by_id = {o["order_id"]: a for o, a in zip(posts, answers)}
    for (order, args) in BAD:
        status, body, _ = by_id[order["order_id"]]
        assert 400 <= status < 500, body
        message = json.loads(body)["error"]
        assert message == cli_error([*args, "--out", str(tmp_path / "refused")], capsys)
        assert "Traceback" not in message and "\n" not in message
    assert not (tmp_path / "refused").exists()
    made = {}
    for order in good:
        status, body, _ = by_id[order["order_id"]]
        assert status == 201, body
        answer = json.loads(body)
        assert answer["outcome"] == "done" and answer["order_id"] == order["order_id"]
        made[order["order_id"]] = answer["id"]
    assert len(set(made.values())) == 45  # one folder each, never shared
    data = server.root / "data"
    # every order folder is whole: its record and exactly the files it lists
    folders = sorted((data / "orders").iterdir())
    assert len(folders) == 45
    for folder in folders:
        record = json.loads((folder / "record.json").read_text())
        assert sorted(p.name for p in folder.iterdir()) == sorted([*record["files"], "record.json"])
    assert list((data / ".tmp").iterdir()) == []
    assert sorted(p.name for p in server.root.iterdir()) == ["data"]  # nothing outside DIR
    # the same bytes as the CLI's, file for file (one in three checked against a CLI run)
    for order in good[::3]:
        rid = made[order["order_id"]]
        expected = cli_files(_cli_args(order), tmp_path / order["order_id"])
        record = json.loads(server.request("GET", f"/api/orders/{rid}")[1])
        assert sorted(record["files"]) == sorted(expected)
        assert record["ticket"] == {"patient_ref": order["patient_ref"]}
        assert set(record["measured"]) == ({"left", "right"} if order["side"] == "both"
                                           else {order["side"]})
        for name, data_ in expected.items():
            status, body, _ = server.request("GET", f"/api/orders/{rid}/files/{name}")
            assert status == 200 and body == data_, name
    # found by patient reference
    status, body, _ = server.request("GET", "/api/orders?patient_ref=p-3")
    found = {o["order_id"] for o in json.loads(body)}
    assert found == {o["order_id"] for o in good if o["patient_ref"] == "P-3"}


def test_preview_is_the_stl_as_binary_and_writes_nothing(server):
    data = server.root / "data"
    before = sorted(p.name for p in (data / "orders").iterdir())
    order = {"foot_length_mm": "255", "conditions": "flat_feet", "resolution_mm": RES}
    status, body, headers = server.request("POST", "/api/preview", order)
    assert status == 200 and headers["content-type"] == "application/octet-stream"
    meta, sides = read_preview(body)
    assert set(sides) == {"left", "right"}
    for side, (tri, thick) in sides.items():
        mesh = trimesh.Trimesh(tri.reshape(-1, 3), np.arange(tri.size // 3).reshape(-1, 3),
                               process=True)
        assert mesh.is_watertight and mesh.volume > 0
        assert abs(tri[..., 2].min()) < 1e-6 and abs(tri[..., 0].min()) < 1e-6
        # thickness: the solid's height over each corner; the bottom is z = 0 here, so a top
        # corner's thickness is its z, to float32
        top = tri[..., 2] > 0
        assert np.allclose(thick[top], tri[..., 2][top], atol=1e-4)
        assert thick.min() >= meta["parameters"]["min_thickness_mm"] - 0.05
        medial = meta["sides"][side]["landmarks"]["mth1"][1]
        assert np.sign(medial) == (1 if side == "right" else -1)  # medial side: +Y on a right
    left, right = sides["left"][0], sides["right"][0]
    assert np.array_equal(left[..., 1], -right[..., 1][:, ::-1])  # exact mirror, re-wound
    assert sorted(p.name for p in (data / "orders").iterdir()) == before


def test_bad_requests_get_one_line_and_nothing_is_written(server):
    data = server.root / "data"
    before = sorted(p.name for p in data.rglob("*"))
    cases = [
        ("POST", "/api/orders", b"{not json", 400, "order: not JSON"),
        ("POST", "/api/orders", b"[1, 2]", 400, "expected a JSON object"),
        ("POST", "/api/orders", json.dumps({"order_id": "X", "foot_length_mm": "260",
                                            "conditions": "flat_feet", "bogus": 1}).encode(),
         400, "'bogus': unknown order field"),
        ("POST", "/api/orders", json.dumps({"order_id": "X", "conditions": "flat_feet",
                                            "scan": "../../etc/passwd"}).encode(),
         400, "scan id = '../../etc/passwd'"),
        ("POST", "/api/preview", json.dumps({"foot_length_mm": "260", "conditions": "x"}).encode(),
         400, "condition = 'x': unknown"),
        ("GET", "/api/orders/..%2F..%2Fetc", None, 404, None),
        ("GET", "/api/orders/nope/files/x.stl", None, 404, "no such order"),
        ("POST", "/api/scans?filename=foot.stl", b"x" * 1_100_000, 413, "at most 1 MB"),
        ("POST", "/api/scans?filename=foot.exe", b"solid x", 400, "unsupported file type"),
        ("POST", "/api/orders", b"{" + b" " * (2 << 20) + b"}", 413, "at most 1.04858 MB"),
        ("POST", "/api/scans", b"solid x", 400, "filename: field required"),
    ]
    for method, path, raw, code, text in cases:
        status, body, _ = server.request(method, path, raw=raw)
        assert status == code, (path, body)
        if text:
            message = json.loads(body)["error"]
            assert text in message and "Traceback" not in message, message
    assert sorted(p.name for p in data.rglob("*")) == before


def test_other_sites_and_rebound_names_are_refused(server):
    order = {"order_id": "CSRF", "foot_length_mm": "260", "conditions": "flat_feet",
             "resolution_mm": RES}
    for headers, text in [({"Origin": "http://evil.example"}, "origin = 'http://evil.example'"),
                          ({"Host": "evil.example:80"}, "host = 'evil.example:80'")]:
        status, body, _ = server.request("POST", "/api/orders", order, headers=headers)
        assert status == 403 and text in json.loads(body)["error"]
    assert not [p for p in (server.root / "data" / "orders").iterdir()
                if json.loads((p / "record.json").read_text())["order_id"] == "CSRF"]
    own = {"Origin": server.url, "Host": server.url.split("//")[1]}
    assert server.request("POST", "/api/preview", order, headers=own)[0] == 200


def test_openapi_schema_lists_the_api(server):
    status, body, _ = server.request("GET", "/openapi.json")
    paths = json.loads(body)["paths"]
    for path in ("/api/orders", "/api/orders/{record_id}", "/api/orders/{record_id}/files/{name}",
                 "/api/preview", "/api/batches"):
        assert path in paths


def test_token_is_required_on_every_request_when_given(tmp_path):
    srv = Server(tmp_path / "data", token="s3cret-token")
    try:
        for path in ("/", "/api/schema", "/openapi.json", "/static/app.js"):
            status, body, _ = srv.request("GET", path, headers={"Authorization": "Bearer wrong!!"})
            assert status == 401 and b"token" in body
        assert srv.request("GET", "/api/schema")[0] == 200
        assert srv.request("GET", "/api/schema", headers={"Authorization": "",
                                                         "X-Insolegen-Token": "s3cret-token"})[0] == 200
        # the page opened once with ?token= gets a cookie that its later requests carry
        status, _, headers = srv.request("GET", "/?token=s3cret-token",
                                         headers={"Authorization": ""})
        assert status == 200 and "insolegen_token=s3cret-token" in headers["set-cookie"]
        assert "HttpOnly" in headers["set-cookie"]
        assert srv.request("GET", "/api/schema", headers={
            "Authorization": "", "Cookie": "insolegen_token=s3cret-token"})[0] == 200
    finally:
        srv.close()


def test_other_hosts_need_a_token(monkeypatch):
    monkeypatch.delenv("INSOLEGEN_TOKEN", raising=False)
    with pytest.raises(InputError, match="host = '0.0.0.0': reachable from other machines"):
        check_options("0.0.0.0", 8000, None)
    assert check_options("0.0.0.0", "8000", "long-enough") == (8000, "long-enough")
    assert check_options("::1", 1, None) == (1, None)
    monkeypatch.setenv("INSOLEGEN_TOKEN", "from-the-env")
    assert check_options("10.0.0.5", 80, None) == (80, "from-the-env")


def test_a_killed_server_leaves_no_half_written_order(tmp_path):
    data = tmp_path / "data"
    srv = Server(data)
    order = {"order_id": "KILL", "foot_length_mm": "270", "conditions": "plantar_fasciitis",
             "formats": ["stl", "3mf", "png", "pdf"]}
    try:
        with concurrent.futures.ThreadPoolExecutor(2) as pool:
            futures = [pool.submit(srv.request, "POST", "/api/orders", order) for _ in range(2)]
            deadline = time.monotonic() + 30
            while not any((data / ".tmp").iterdir()) and time.monotonic() < deadline:
                time.sleep(0.01)
            os.kill(srv.proc.pid, signal.SIGKILL)
            srv.proc.wait()
            for f in futures:
                f.exception()
    finally:
        srv.close()
    for folder in (data / "orders").iterdir():  # any order there is whole
        record = json.loads((folder / "record.json").read_text())
        assert sorted(p.name for p in folder.iterdir()) == sorted([*record["files"], "record.json"])
    srv = Server(data)  # the next start clears what the killed one left unfinished
    try:
        assert list((data / ".tmp").iterdir()) == []
    finally:
        srv.close()


def test_an_uploaded_scan_makes_the_cli_s_insole(server, tmp_path):
    from insolegen.scan.read import sample_scan
    scan = sample_scan()
    status, body, _ = server.request("POST", f"/api/scans?filename={scan.name}",
                                     raw=scan.read_bytes(),
                                     headers={"Content-Type": "application/octet-stream"})
    assert status == 200, body
    name = json.loads(body)["scan"]
    assert name.endswith(".stl") and "/" not in name
    order = {"order_id": "SCAN-1", "scan": name, "conditions": "flat_feet", "side": "right",
             "resolution_mm": RES}
    status, body, _ = server.request("POST", "/api/orders", order)
    assert status == 201, body
    rid = json.loads(body)["id"]
    expected = cli_files(["--scan", str(scan), "--condition", "flat_feet", "--side", "right",
                          "--resolution-mm", RES, "--id", "SCAN-1"], tmp_path / "cli")
    got = server.request("GET", f"/api/orders/{rid}/files/SCAN-1_right.stl")[1]
    assert got == expected["SCAN-1_right.stl"]
    mesh = trimesh.load(io.BytesIO(got), file_type="stl")
    assert mesh.is_watertight and mesh.volume > 0
    record = json.loads(server.request("GET", f"/api/orders/{rid}")[1])
    assert record["fields"]["scan"] == name  # the stored scan's name, not a server path
    # a scan is only ever one the server was given: a path to any other file is refused
    status, body, _ = server.request("POST", "/api/orders", {**order, "scan": str(scan)})
    assert status == 400 and "scan id" in json.loads(body)["error"]


def test_every_format_is_the_cli_s_byte_for_byte(server, tmp_path):
    order = {"order_id": "ALL-1", "foot_length_mm": "262", "conditions": "plantar_fasciitis",
             "resolution_mm": RES, "formats": ["stl", "3mf", "obj", "png", "pdf"],
             "material": "tpu", "set": {"heel_lift_mm": "4"}}
    status, body, _ = server.request("POST", "/api/orders", order)
    assert status == 201, body
    answer = json.loads(body)
    expected = cli_files(["--foot-length", "262", "--condition", "plantar_fasciitis",
                          "--resolution-mm", RES, "--format", "stl,3mf,obj,png,pdf",
                          "--material", "tpu", "--set", "heel_lift_mm=4", "--id", "ALL-1"],
                         tmp_path / "cli")
    assert sorted(answer["files"]) == sorted(expected)
    assert {n.rsplit(".", 1)[1] for n in expected} == {"stl", "3mf", "obj", "png", "pdf", "json"}
    for name, data in expected.items():
        status, got, headers = server.request("GET", f"/api/orders/{answer['id']}/files/{name}")
        assert status == 200 and got == data, name
        assert name in headers["content-disposition"]
