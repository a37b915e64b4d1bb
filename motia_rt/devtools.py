"""Internal endpoints under ``/__motia/``: live topic stream (SSE), flow graph, state, dead letters,
external emit, status, OpenAPI and the Workbench page.

Open in development mode (to this machine's host names only); otherwise every endpoint needs the
token (``MOTIA_DEV_TOKEN``), and without a configured token they are off: see ``dev_access``.

Limits, so that no client can take the server down: an emit body is held to the request body
limit (413); at most ``max_streams`` event streams are open at once (503 with ``Retry-After``);
a stream replays at most ``replay_records`` records and ``replay_bytes`` of text before going live.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator, Callable, Iterable
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route
from starlette.types import Receive, Scope, Send

from .dev_access import TOKEN_COOKIE, DevAccess
from .engine import Engine
from .eventlog import EventLog
from .graph import flow_graph
from .openapi import openapi_document
from .request_body import MalformedJSON, PayloadTooLarge, parse_json, read_body
from .schema import encode_json

__all__ = ["devtools_routes"]

_PAGE = Path(__file__).with_name("workbench.html")

MAX_TRACE_ID = 200
"""Characters of a caller-chosen ``traceId`` on ``/__motia/emit``: ids travel in every event,
log line and stream record of the trace, so an unbounded one would be copied everywhere."""


class _EventStream(StreamingResponse):
    """An SSE response that gives its stream slot back when it ends, however it ends."""

    def __init__(self, body: AsyncIterator[str], release: Callable[[], None]) -> None:
        headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        super().__init__(body, media_type="text/event-stream", headers=headers)
        self._release = release

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self._release()


_MAX_CURSOR_DIGITS = 18  # a record number this server can reach; more digits are not a cursor


class _DevTools:
    def __init__(
        self,
        engine: Engine,
        log: EventLog,
        access: DevAccess,
        *,
        body_limit: int,
        max_streams: int,
        replay_records: int,
        replay_bytes: int,
    ) -> None:
        self.engine, self.log, self.access = engine, log, access
        self.body_limit, self.max_streams = body_limit, max_streams
        self.replay_records, self.replay_bytes = replay_records, replay_bytes
        self.streams = 0
        self.epoch = secrets.token_hex(4)  # names this life of the server in event ids

    def guard(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            return self.access.denied(request) or await handler(request)

        return endpoint

    def cursor(self, request: Request) -> int:
        """The record to resume after: ``Last-Event-ID`` or ``?after=``, as ``<epoch>:<n>`` or ``<n>``.

        Record ids start again from 1 when the server restarts, so a cursor of another epoch (or
        past the end of this log) is from an earlier life of the server: all this one holds is new.
        A stream replays a bounded tail of the log, however far back its cursor is.
        """
        raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
        epoch, _, number = raw.strip().rpartition(":")
        valid = number.isdigit() and len(number) <= _MAX_CURSOR_DIGITS
        cursor = int(number) if valid and (not epoch or epoch == self.epoch) else 0
        if cursor > self.log.last_id:
            cursor = 0
        return max(cursor, self._replay_start())

    def _replay_start(self) -> int:
        """The cursor after which at most ``replay_records`` records of ``replay_bytes`` lie."""
        start, size = self.log.last_id, 0
        for entry in reversed(self.log.entries_since(self.log.last_id - self.replay_records)):
            size += entry.size  # counted from above: no encoding to decide
            if size > self.replay_bytes:
                break
            start = entry.id - 1
        return start

    async def events(self, request: Request) -> Response:
        if self.streams >= self.max_streams:
            response = JSONResponse({"error": f"{self.max_streams} event streams are open, the "
                                     "most this server serves: close one or retry later"},
                                    status_code=503)  # fmt: skip
            response.headers["retry-after"] = "5"
            return response
        cursor = self.cursor(request)
        once = request.query_params.get("once") == "1"

        async def stream() -> AsyncIterator[str]:
            position = cursor
            yield f"retry: 1000\n: motia events after {position}\n\n"
            while True:
                batch = await self.log.wait(position, timeout=15.0)
                if not batch:
                    if once:
                        return
                    yield ": keep-alive\n\n"
                    continue
                position = batch[-1].id
                yield "".join([f"id: {self.epoch}:{e.id}\nevent: {e.kind}\ndata: {e.text}\n\n"
                               for e in batch])  # fmt: skip
                if once:
                    return

        self.streams += 1
        return _EventStream(stream(), self._stream_closed)

    def _stream_closed(self) -> None:
        self.streams -= 1

    async def status(self, request: Request) -> Response:
        running = sum(1 for r in self.engine.runs if r.outcome == "running")
        return JSONResponse({"pending": self.engine.transport.pending(), "running": running,
                             "busy": self.engine.busy(), "cursor": self.log.last_id,
                             "epoch": self.epoch})  # fmt: skip

    async def emit(self, request: Request) -> Response:
        usage = ('send {"topic": str, "data": JSON, "messageGroupId": str (optional), '
                 f'"traceId": str of 1 to {MAX_TRACE_ID} characters (optional)}}')  # fmt: skip
        try:
            raw = await read_body(request.receive, request.headers.get("content-length"),
                                  self.body_limit)  # fmt: skip
            body = parse_json(raw)
        except PayloadTooLarge as exc:
            return JSONResponse({"error": str(exc), "limit": exc.limit},
                                status_code=413)  # fmt: skip
        except MalformedJSON as exc:
            return JSONResponse({"error": f"malformed JSON body: {exc}; {usage}"}, status_code=400)
        topic = body.get("topic") if isinstance(body, dict) else None
        if not isinstance(topic, str) or not topic:
            return JSONResponse({"error": f"no topic: {usage}"}, status_code=400)
        group_id = body.get("messageGroupId")
        if group_id is not None and not (isinstance(group_id, str) and group_id):
            return JSONResponse({"error": f"messageGroupId is not a non-empty string: {usage}"},
                                status_code=400)  # fmt: skip
        trace_id = body.get("traceId")
        if trace_id is not None and not (isinstance(trace_id, str)
                                         and 0 < len(trace_id) <= MAX_TRACE_ID):  # fmt: skip
            return JSONResponse({"error": f"traceId is not a string of 1 to {MAX_TRACE_ID} "
                                 f"characters: {usage}"}, status_code=400)  # fmt: skip
        message = await self.engine.emit_external(topic, body.get("data"), trace_id=trace_id,
                                                  group_id=group_id)  # fmt: skip
        return JSONResponse({"messageId": message.id, "traceId": message.trace_id}, status_code=202)

    async def flows(self, request: Request) -> Response:
        return JSONResponse(flow_graph(self.engine.registry))

    async def state(self, request: Request) -> Response:
        store = self.engine.state
        group = request.path_params.get("group")
        if group is None:
            return JSONResponse({"groups": await store.groups()})
        try:
            # Encoded here: a value the store cannot decode, or too deep to encode, is a 422.
            text = encode_json({"group": group, "items": await store.items(group)})
        except (ValueError, TypeError, RecursionError) as exc:
            return JSONResponse({"error": f"state group {group!r} holds a value that is not JSON "
                                 f"({type(exc).__name__}: {exc}); delete or rewrite it"},
                                status_code=422)  # fmt: skip
        return Response(text, media_type="application/json")

    async def dead_letters(self, request: Request) -> Response:
        letters = await self.engine.dead_letters(request.query_params.get("step"))
        return JSONResponse([{
            "id": d.id, "step": d.delivery.subscription.step, "topic": d.delivery.message.topic,
            "data": d.delivery.message.data, "traceId": d.delivery.message.trace_id,
            "attempt": d.delivery.attempt, "error": d.error, "failedAt": d.failed_at,
        } for d in letters])  # fmt: skip

    async def redrive(self, request: Request) -> Response:
        try:
            delivery = await self.engine.redrive(request.path_params["id"])
        except KeyError as exc:
            return JSONResponse({"error": str(exc.args[0])}, status_code=404)
        return JSONResponse({"step": delivery.subscription.step, "attempt": delivery.attempt},
                            status_code=202)  # fmt: skip

    async def traces(self, request: Request) -> Response:
        return JSONResponse(self.log.traces())

    async def openapi(self, request: Request) -> Response:
        return JSONResponse(openapi_document(self.engine.registry))

    async def workbench(self, request: Request) -> Response:
        response = HTMLResponse(_PAGE.read_text(encoding="utf-8"))
        token = self.access.token
        if token and not self.access.dev:
            # For the page's event stream (EventSource sends no header); reads only, this site only.
            response.set_cookie(TOKEN_COOKIE, token, path="/__motia", httponly=True,
                                samesite="strict")  # fmt: skip
        return response


def devtools_routes(
    engine: Engine,
    log: EventLog,
    *,
    dev: bool = True,
    token: str | None = None,
    allowed_hosts: Iterable[str] = (),
    body_limit: int = 1024 * 1024,
    max_streams: int = 64,
    replay_records: int = 1000,
    replay_bytes: int = 1024 * 1024,
) -> list[BaseRoute]:
    """The ``/__motia/*`` routes. ``log`` must already observe ``engine``.

    ``allowed_hosts``: host names besides loopback the tools answer to in dev mode.
    ``body_limit``: bytes of an emit body. ``max_streams``: event streams open at once.
    ``replay_records`` / ``replay_bytes``: how much of the log a new stream is sent first."""
    access = DevAccess(dev=dev, token=token, allowed_hosts=allowed_hosts)
    tools = _DevTools(engine, log, access, body_limit=body_limit, max_streams=max_streams,
                      replay_records=replay_records, replay_bytes=replay_bytes)  # fmt: skip
    g = tools.guard
    # One Mount: a request for an api route is checked against one prefix, not eleven routes.
    routes = [
        Route("/events", g(tools.events)),
        Route("/status", g(tools.status)),
        Route("/emit", g(tools.emit), methods=["POST"]),
        Route("/flows", g(tools.flows)),
        Route("/state", g(tools.state)),
        Route("/state/{group:path}", g(tools.state)),
        Route("/dead-letters", g(tools.dead_letters)),
        Route("/dead-letters/{id}/redrive", g(tools.redrive), methods=["POST"]),
        Route("/traces", g(tools.traces)),
        Route("/openapi.json", g(tools.openapi)),
        Route("/workbench", g(tools.workbench)),
    ]
    return [Mount("/__motia", routes=routes)]
