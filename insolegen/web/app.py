"""The workbench's FastAPI app: the pages, the HTTP API, the token check.

Every route is a thin door onto the library: an order is validated by
:func:`insolegen.pipeline.order.order_from_mapping` and made by
:func:`insolegen.pipeline.job.generate`, so the same order gives the same
bytes as ``insolegen generate``. An :class:`~insolegen.core.errors.InputError`
becomes a 4xx answer ``{"error": "<the CLI's one line>"}``; nothing else of a
failure reaches the client.
"""

from __future__ import annotations

import hmac
import logging
import shutil
import time
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from insolegen import __version__
from insolegen.core.errors import InputError, InsolegenError, one_line
from insolegen.web import engine, form
from insolegen.web.batches import Batches
from insolegen.web.store import NotFound, Store, new_id

log = logging.getLogger("insolegen.web")
STATIC = Path(__file__).parent / "static"
MAX_JSON_BYTES = 1 << 20       # an order is a few hundred bytes
MAX_ORDERS_FILE_BYTES = 50 << 20
TOKEN_COOKIE = "insolegen_token"
OPEN_PATHS = ("/favicon.ico",)
THREE_DIRS = ("build", "examples/jsm")
LOOPBACK_NAMES = ("127.0.0.1", "localhost", "::1")


def three_dir() -> Path | None:
    """three.js as npm installed it into ``insolegen/web/vendor`` (see the README), or None."""
    root = Path(__file__).parent / "vendor" / "node_modules" / "three"
    return root if (root / "build" / "three.module.js").is_file() else None


def _error(status: int, message: object) -> JSONResponse:
    return JSONResponse({"error": one_line(message)}, status_code=status)


async def _body(request: Request, limit: int, what: str) -> bytes:
    """The request body, refused (InputError, 413) past ``limit`` bytes, read as it comes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _TooLarge(f"{what}: {int(declared) / 1e6:.1f} MB; accepted: at most "
                        f"{limit / 1e6:g} MB")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _TooLarge(f"{what}: more than {limit / 1e6:g} MB; accepted: at most "
                            f"{limit / 1e6:g} MB")
        chunks.append(chunk)
    return b"".join(chunks)


class _TooLarge(InputError):
    """A request body over its limit (413)."""


async def _json(request: Request) -> object:
    import json
    data = await _body(request, MAX_JSON_BYTES, "order")
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InputError(f"order: not JSON ({exc})") from None


def _foreign(request: Request, loopback: bool) -> str | None:
    """Why a request is refused as not from this workbench's own page, or None.

    A page of another site may make the browser post to 127.0.0.1 (and DNS
    rebinding may give such a site a name that resolves here): a write whose
    ``Origin`` is not this server, or, on a loopback server, a ``Host`` that is
    not a loopback name, is refused.
    """
    host = request.headers.get("host", "")
    if loopback and host.rsplit(":", 1)[0].strip("[]").lower() not in LOOPBACK_NAMES:
        return f"host = {host!r}: this server answers only to 127.0.0.1 or localhost"
    origin = request.headers.get("origin")
    if request.method not in ("GET", "HEAD") and origin is not None \
            and origin.split("://", 1)[-1].rstrip("/").lower() != host.lower():
        return f"origin = {origin!r}: requests from other sites are refused"
    return None


def create_app(data_dir: Path, token: str | None = None, batch_workers: int = 0,
               loopback: bool = True) -> FastAPI:
    """The workbench app keeping its orders in ``data_dir``; with ``token`` every request
    must carry it (``Authorization: Bearer``, ``X-Insolegen-Token``, ``?token=`` or the
    cookie the page gets from ``?token=``). ``loopback``: the server is bound to this
    machine only, so only loopback ``Host`` names are answered."""
    store = Store(Path(data_dir))
    batches = Batches(store, batch_workers)
    app = FastAPI(title="insolegen workbench", version=__version__,
                  description="Custom orthotic insoles: the same engine as the insolegen "
                              "command line. Lengths in mm, angles in degrees.")
    app.state.store, app.state.batches = store, batches

    @app.middleware("http")
    async def check_token(request: Request, call_next):
        refused = _foreign(request, loopback)
        if refused is not None:
            return _error(403, refused)
        if token is None or request.url.path in OPEN_PATHS:
            return await call_next(request)
        auth = request.headers.get("authorization", "")
        given = [auth[7:] if auth.lower().startswith("bearer ") else "",
                 request.headers.get("x-insolegen-token", ""),
                 request.query_params.get("token", ""),
                 request.cookies.get(TOKEN_COOKIE, "")]
        if not any(g and hmac.compare_digest(g.encode(), token.encode()) for g in given):
            return _error(401, "token: missing or wrong; give the server's --token as "
                               "'Authorization: Bearer TOKEN' (or open the page with ?token=TOKEN)")
        response = await call_next(request)
        if request.query_params.get("token"):
            response.set_cookie(TOKEN_COOKIE, token, httponly=True, samesite="strict")
        return response

    @app.exception_handler(InputError)
    async def input_error(request: Request, exc: InputError):
        return _error(413 if isinstance(exc, _TooLarge) else 400, exc)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError):
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ())[1:]) or "request"
        return _error(400, f"{where}: {first.get('msg', 'not acceptable').lower()}")

    @app.exception_handler(NotFound)
    async def not_found(request: Request, exc: NotFound):
        return _error(404, exc.args[0] if exc.args else "not found")

    @app.exception_handler(InsolegenError)
    async def internal(request: Request, exc: InsolegenError):
        log.error("%s: %s", request.url.path, exc)
        return _error(500, exc)

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception):
        log.exception("%s", request.url.path)
        return _error(500, f"internal error: {type(exc).__name__} (see the server's log)")

    # ---- pages -------------------------------------------------------------------------
    @app.get("/", include_in_schema=False)
    @app.get("/batches", include_in_schema=False)
    @app.get("/orders", include_in_schema=False)
    def page() -> HTMLResponse:
        return HTMLResponse((STATIC / "index.html").read_text(encoding="utf-8"))

    @app.get("/favicon.ico", include_in_schema=False)
    def favicon() -> Response:
        return Response(status_code=204)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    three = three_dir()
    for sub in THREE_DIRS:
        if three is not None:
            app.mount(f"/vendor/three/{sub}", StaticFiles(directory=three / sub), name=sub)

    # ---- the form's tables --------------------------------------------------------------
    @app.get("/api/schema", tags=["form"], summary="Every order field, parameter and condition")
    def get_schema() -> dict:
        return form.schema() | {"three": three is not None}

    @app.get("/api/profile", tags=["form"],
             summary="Parameter values for conditions on a base, and which gives each")
    def get_profile(conditions: str, base: str | None = None) -> dict:
        return form.resolved(conditions, base)

    # ---- orders ---------------------------------------------------------------------------
    def _fields(data: object) -> tuple[dict, dict]:
        fields, ticket = engine.split_fields(data)
        if fields.get("scan") not in (None, ""):
            fields["scan"] = str(store.scan_path(fields["scan"]))
        return fields, ticket

    @app.post("/api/preview", tags=["orders"], response_class=Response,
              summary="The order's insoles as binary mesh for the viewer; nothing written",
              responses={200: {"content": {"application/octet-stream": {}}}})
    async def post_preview(request: Request) -> Response:
        fields, _ = _fields(await _json(request))
        import anyio
        data = await anyio.to_thread.run_sync(
            lambda: engine.preview_bytes(engine.preview_order(fields)))
        return Response(data, media_type="application/octet-stream")

    def _make(fields: dict, ticket: dict, given: dict) -> dict:
        from insolegen.pipeline.job import generate
        order = engine.order_for(fields)
        record_id = new_id()
        work = store.work_dir()
        try:
            result = generate(order, work)
            record = {"id": record_id, "order_id": order.order_id, "insolegen_version": __version__,
                      "made_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                      "fields": given, "ticket": ticket, "notes": list(result.design.notes),
                      "measured": result.measured, "files": sorted(p.name for p in
                                                                   result.files.values())}
            store.publish(work, record_id, record)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        return record

    @app.post("/api/orders", tags=["orders"], status_code=201,
              summary="Make an order (the batch-order fields, JSON): its id and outcome")
    async def post_order(request: Request) -> dict:
        given = await _json(request)
        fields, ticket = _fields(given)
        import anyio
        record = await anyio.to_thread.run_sync(lambda: _make(fields, ticket, given))
        return {"id": record["id"], "order_id": record["order_id"], "outcome": "done",
                "files": record["files"], "notes": record["notes"]}

    @app.get("/api/orders", tags=["orders"], summary="Orders, newest first; by patient reference")
    def list_orders(patient_ref: str = "") -> list[dict]:
        return store.find(patient_ref)

    @app.get("/api/orders/{record_id}", tags=["orders"],
             summary="An order's record and measured features")
    def get_order(record_id: str) -> dict:
        return store.record(record_id)

    @app.get("/api/orders/{record_id}/files/{name}", tags=["orders"], summary="One file")
    def get_file(record_id: str, name: str) -> FileResponse:
        return FileResponse(store.file(record_id, name), filename=name)

    @app.post("/api/scans", tags=["orders"], summary="Upload a scan (raw body); its name for "
              "an order's scan field")
    async def post_scan(request: Request, filename: str) -> dict:
        from insolegen.scan.load import max_scan_bytes
        data = await _body(request, max_scan_bytes(), f"scan = {filename!r}")
        return {"scan": store.save_scan(data, filename)}

    # ---- batches -------------------------------------------------------------------------
    @app.post("/api/batches", tags=["batches"], status_code=202,
              summary="Upload an orders file (raw body: CSV or JSON Lines) and start it")
    async def post_batch(request: Request, filename: str) -> dict:
        data = await _body(request, MAX_ORDERS_FILE_BYTES, f"orders = {filename!r}")
        return {"id": batches.start(data, filename)}

    @app.get("/api/batches/{batch_id}", tags=["batches"],
             summary="A batch's progress and the manifest's outcomes")
    def get_batch(batch_id: str) -> dict:
        return batches.status(batch_id)

    @app.get("/api/batches/{batch_id}/orders/{order_id}/files/{name}", tags=["batches"],
             summary="A file of a finished order of a batch")
    def get_batch_file(batch_id: str, order_id: str, name: str) -> FileResponse:
        return FileResponse(batches.file(batch_id, order_id, name), filename=name)

    return app
