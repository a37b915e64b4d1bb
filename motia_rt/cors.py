"""CORS for the api routes, off unless asked for: ``create_app(cors=...)`` or ``MOTIA_CORS_ORIGINS``.

Motia answers preflight requests and sets ``Access-Control-Allow-Origin``, so a browser front end
on another origin can call the api. Here that is opt-in: with it on, any page the allowed origins
serve can read the api's responses in its visitors' browsers. The dev tools (``/__motia/*``) never
answer cross-origin: their state and emit endpoints are for the developer's own tab only.
"""

from __future__ import annotations

import os
from collections.abc import Sequence

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["ApiCors", "cors_origins_from_env"]

_TOOLS = "/__motia"
_METHODS = b"GET, HEAD, POST, PUT, PATCH, DELETE, OPTIONS"
_MAX_AGE = b"600"


def cors_origins_from_env() -> tuple[str, ...]:
    """``MOTIA_CORS_ORIGINS``: origins separated by commas (``https://app.example.com``), or ``*``."""
    raw = os.environ.get("MOTIA_CORS_ORIGINS", "")
    return tuple(o.strip().rstrip("/") for o in raw.split(",") if o.strip())


class ApiCors:
    """ASGI middleware: a preflight to an api route from an allowed origin is answered 204 with
    the methods and the headers asked for; an api response to an allowed origin carries
    ``Access-Control-Allow-Origin`` (``*`` when every origin is allowed) and exposes
    ``x-trace-id``. Other origins get no CORS headers (their browser withholds the response), and
    their preflight a JSON 403. No credentials: cookies are not sent cross-origin."""

    def __init__(self, app: ASGIApp, origins: Sequence[str]) -> None:
        self.app = app
        self.any_origin = "*" in origins
        self.origins = frozenset(o.rstrip("/") for o in origins)

    def _allow(self, origin: str) -> bytes | None:
        if self.any_origin:
            return b"*"
        return origin.encode("latin-1") if origin in self.origins else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(_TOOLS):
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        origin = headers.get("origin")
        if origin is None:
            await self.app(scope, receive, send)
            return
        allowed = self._allow(origin)
        asked = headers.get("access-control-request-method")
        if scope["method"] == "OPTIONS" and asked is not None:
            await self._preflight(allowed, origin, headers, send)
            return

        async def with_cors(message: Message) -> None:
            if message["type"] == "http.response.start" and allowed is not None:
                raw = list(message.get("headers", []))
                raw += [(b"access-control-allow-origin", allowed),
                        (b"access-control-expose-headers", b"x-trace-id"),
                        (b"vary", b"Origin")]  # fmt: skip
                message = {**message, "headers": raw}
            await send(message)

        await self.app(scope, receive, with_cors)

    async def _preflight(
        self, allowed: bytes | None, origin: str, headers: Headers, send: Send
    ) -> None:
        if allowed is None:
            body = (b'{"error":"origin not allowed by CORS: set create_app(cors=[...]) or '
                    b'MOTIA_CORS_ORIGINS to allow it"}')  # fmt: skip
            raw = [(b"content-type", b"application/json"),
                   (b"content-length", str(len(body)).encode()), (b"vary", b"Origin")]  # fmt: skip
            await send({"type": "http.response.start", "status": 403, "headers": raw})
            await send({"type": "http.response.body", "body": body})
            return
        raw = [(b"access-control-allow-origin", allowed),
               (b"access-control-allow-methods", _METHODS),
               (b"access-control-max-age", _MAX_AGE), (b"vary", b"Origin"),
               (b"content-length", b"0")]  # fmt: skip
        requested = headers.get("access-control-request-headers")
        if requested:
            raw.append((b"access-control-allow-headers", requested.encode("latin-1")))
        await send({"type": "http.response.start", "status": 204, "headers": raw})
        await send({"type": "http.response.body", "body": b""})
