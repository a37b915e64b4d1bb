"""Who may use the ``/__motia/*`` dev tools, decided per request before any tool runs.

- Off: without dev mode and without a token every tool answers 404 with the reason.
- Token (outside dev mode): ``Authorization: Bearer <token>``; reads (GET) also take the
  ``motia_token`` cookie the Workbench page sets (an ``EventSource`` cannot send a header) and
  ``?token=`` (to open the page; the access log shows it redacted). Writes take only the header.
- Host (dev mode, where no token guards the tools): the ``Host`` header must name this server as
  bound, ``localhost``, ``127.0.0.1``, ``[::1]`` or a host from ``allowed_hosts``
  (``MOTIA_ALLOWED_HOSTS``): a page on another site whose name was re-pointed at 127.0.0.1
  (DNS rebinding) sends its own name and gets 403.
- Writes (POST): a browser's ``Origin`` must be this server's own (403 otherwise), and a body must
  be ``application/json`` (415): a cross-site form or ``text/plain`` fetch cannot emit.
"""

from __future__ import annotations

import hmac
import logging
import os
import re
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from .request_body import is_json_content_type

__all__ = ["TOKEN_COOKIE", "DevAccess", "allowed_hosts_from_env", "redact_tokens_in_access_log"]

TOKEN_COOKIE = "motia_token"
_LOOPBACK = frozenset({"localhost", "127.0.0.1", "::1"})


def _hostname(netloc: str) -> str:
    """``host[:port]`` -> host, lower-cased, IPv6 brackets dropped."""
    netloc = netloc.strip().lower()
    if netloc.startswith("["):
        return netloc[1:].split("]", 1)[0]
    return netloc.rsplit(":", 1)[0] if netloc.count(":") == 1 else netloc


def allowed_hosts_from_env() -> tuple[str, ...]:
    """``MOTIA_ALLOWED_HOSTS``: host names separated by commas (``dev.example.test,10.0.0.5``)."""
    raw = os.environ.get("MOTIA_ALLOWED_HOSTS", "")
    return tuple(h.strip() for h in raw.split(",") if h.strip())


def _json_error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class DevAccess:
    def __init__(self, *, dev: bool, token: str | None, allowed_hosts: Iterable[str] = ()) -> None:
        self.dev, self.token = dev, token
        self.hosts = _LOOPBACK | {_hostname(h) for h in allowed_hosts}

    def denied(self, request: Request) -> Response | None:
        """The error response for a request that may not use the tools, or None."""
        if not self.dev and not self.token:
            return _json_error(404, "dev endpoints are off: set MOTIA_DEV_TOKEN to enable")
        if self.dev:
            host = request.headers.get("host", "")
            if not self._host_allowed(host, request):
                return _json_error(
                    403,
                    f"Host {host!r} is not this dev server's: open it as localhost or "
                    "127.0.0.1, or add the name to MOTIA_ALLOWED_HOSTS",
                )
        write = request.method not in ("GET", "HEAD")
        if not self.dev and not self._token_given(request, write):
            return _json_error(
                401, "missing or wrong dev token: send Authorization: Bearer <token>"
            )
        if write:
            return self._write_denied(request)
        return None

    def _host_allowed(self, host: str, request: Request) -> bool:
        name = _hostname(host)
        if name in self.hosts:
            return True
        server = request.scope.get("server")  # (bound address, port) as the client reached it
        return server is not None and name == str(server[0]).lower()

    def _token_given(self, request: Request, write: bool) -> bool:
        assert self.token is not None
        auth = request.headers.get("authorization", "")
        given = auth[7:].strip() if auth[:7].lower() == "bearer " else ""
        if not given and not write:
            given = request.cookies.get(TOKEN_COOKIE) or request.query_params.get("token") or ""
        return hmac.compare_digest(given.encode(), self.token.encode())

    def _write_denied(self, request: Request) -> Response | None:
        origin = request.headers.get("origin")
        if origin is not None:
            # Host and port only: behind a TLS proxy the scheme seen here may be http.
            netloc = origin.partition("://")[2].lower()
            if netloc != request.headers.get("host", "").lower():
                return _json_error(
                    403, f"cross-origin write from {origin!r} refused: use the Workbench or a "
                    "client that sends no Origin (curl, motia-rt emit)"
                )  # fmt: skip
        content_type = request.headers.get("content-type")
        has_body = request.headers.get("content-length", "0") != "0" or (
            "transfer-encoding" in request.headers
        )
        if (content_type is not None or has_body) and not is_json_content_type(content_type or ""):
            return _json_error(
                415, f"expected Content-Type application/json, got {content_type or 'none'!r}"
            )
        return None


_TOKEN_PARAM = re.compile(r"([?&]token=)[^&#\s]*", re.IGNORECASE)


class _RedactTokens(logging.Filter):
    """Blanks ``token=`` in the URL of each uvicorn access-log line."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) >= 3 and isinstance(args[2], str):
            if "token=" in args[2].lower():
                record.args = (*args[:2], _TOKEN_PARAM.sub(r"\1[redacted]", args[2]), *args[3:])
        return True


def redact_tokens_in_access_log(logger: Any = None) -> None:
    """Install the redacting filter on uvicorn's access log (once, however often called)."""
    logger = logger or logging.getLogger("uvicorn.access")
    if not any(isinstance(f, _RedactTokens) for f in logger.filters):
        logger.addFilter(_RedactTokens())
