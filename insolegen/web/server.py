"""``insolegen serve``: the workbench on uvicorn, loopback only unless told otherwise."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from insolegen.core.errors import InputError

TOKEN_ENV = "INSOLEGEN_TOKEN"


def is_loopback(host: str) -> bool:
    """Whether ``host`` names only this machine (127.0.0.0/8, ::1, localhost)."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_options(host: str, port: object, token: str | None) -> tuple[int, str | None]:
    """The port as a number and the token (option, else ``$INSOLEGEN_TOKEN``); a host other
    than loopback without a token is refused."""
    try:
        number = int(str(port))
    except ValueError:
        number = -1
    if not 0 <= number <= 65535:
        raise InputError(f"port = {port!r}: expected a number from 0 to 65535")
    token = token or os.environ.get(TOKEN_ENV) or None
    if token is not None and (len(token) < 8 or not token.isprintable() or " " in token):
        raise InputError("token: expected at least 8 printable characters without spaces")
    if not is_loopback(host) and token is None:
        raise InputError(f"host = {host!r}: reachable from other machines; give --token "
                         f"(or set {TOKEN_ENV}) so that every request must carry it")
    return number, token


def serve(host: str = "127.0.0.1", port: object = 8000, data: Path | str = "insolegen-data",
          token: str | None = None) -> None:
    """Run the workbench until interrupted; orders are kept in ``data``."""
    number, token = check_options(host, port, token)
    try:
        import uvicorn
        from insolegen.web.app import create_app, three_dir
    except ImportError as exc:
        raise InputError(f"serve: needs the web extra ({exc.name} is missing); "
                         "pip install -e '.[web]'") from None
    if three_dir() is None:
        raise InputError("serve: three.js is missing; npm ci --prefix insolegen/web/vendor "
                         "(see the README)")
    app = create_app(Path(data), token, loopback=is_loopback(host))
    uvicorn.run(app, host=host, port=number, log_level="warning")
