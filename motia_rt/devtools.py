"""Internal endpoints under ``/__motia/``: live topic stream (SSE), flow graph, state, dead letters,
external emit, status, OpenAPI and the Workbench page.

Open in development mode; otherwise every endpoint needs the token (``MOTIA_DEV_TOKEN``), sent as
``Authorization: Bearer <token>`` or ``?token=``, and without a configured token they are off.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Mount, Route

from .engine import Engine
from .eventlog import EventLog
from .graph import flow_graph
from .openapi import openapi_document

__all__ = ["devtools_routes"]

_PAGE = Path(__file__).with_name("workbench.html")


class _DevTools:
    def __init__(self, engine: Engine, log: EventLog, *, dev: bool, token: str | None) -> None:
        self.engine, self.log, self.dev, self.token = engine, log, dev, token
        self.epoch = secrets.token_hex(4)  # names this life of the server in event ids

    def denied(self, request: Request) -> Response | None:
        if self.dev:
            return None
        if not self.token:
            return JSONResponse({"error": "dev endpoints are off: set MOTIA_DEV_TOKEN to enable"},
                                status_code=404)  # fmt: skip
        given = request.query_params.get("token") or ""
        auth = request.headers.get("authorization", "")
        if auth.lower().startswith("bearer "):
            given = auth[7:].strip()
        if not hmac.compare_digest(given.encode(), self.token.encode()):
            return JSONResponse({"error": "missing or wrong dev token"}, status_code=401)
        return None

    def guard(self, handler: Any) -> Any:
        async def endpoint(request: Request) -> Response:
            return self.denied(request) or await handler(request)

        return endpoint

    def cursor(self, request: Request) -> int:
        """The record to resume after: ``Last-Event-ID`` or ``?after=``, as ``<epoch>:<n>`` or ``<n>``.

        Record ids start again from 1 when the server restarts, so a cursor of another epoch (or
        past the end of this log) is from an earlier life of the server: all this one holds is new.
        """
        raw = request.headers.get("last-event-id") or request.query_params.get("after") or "0"
        epoch, _, number = raw.strip().rpartition(":")
        if not number.isdigit() or (epoch and epoch != self.epoch):
            return 0
        cursor = int(number)
        return cursor if cursor <= self.log.last_id else 0

    async def events(self, request: Request) -> Response:
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
                for record in batch:
                    position = record["id"]
                    yield (f"id: {self.epoch}:{position}\nevent: {record['kind']}\n"
                           f"data: {json.dumps(record)}\n\n")  # fmt: skip
                if once:
                    return

        headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    async def status(self, request: Request) -> Response:
        running = sum(1 for r in self.engine.runs if r.outcome == "running")
        return JSONResponse({"pending": self.engine.transport.pending(), "running": running,
                             "busy": self.engine.busy(), "cursor": self.log.last_id,
                             "epoch": self.epoch})  # fmt: skip

    async def emit(self, request: Request) -> Response:
        try:
            body = json.loads(await request.body())
            topic, data = body["topic"], body.get("data")
            assert isinstance(topic, str) and topic
        except (ValueError, KeyError, TypeError, AssertionError):
            return JSONResponse({"error": 'send {"topic": str, "data": JSON}'}, status_code=400)
        message = await self.engine.emit_external(topic, data, group_id=body.get("messageGroupId"))
        return JSONResponse({"messageId": message.id, "traceId": message.trace_id}, status_code=202)

    async def flows(self, request: Request) -> Response:
        return JSONResponse(flow_graph(self.engine.registry))

    async def state(self, request: Request) -> Response:
        store = self.engine.state
        group = request.path_params.get("group")
        if group is None:
            return JSONResponse({"groups": await store.groups()})
        return JSONResponse({"group": group, "items": await store.items(group)})

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
        return HTMLResponse(_PAGE.read_text(encoding="utf-8"))


def devtools_routes(
    engine: Engine, log: EventLog, *, dev: bool = True, token: str | None = None
) -> list[BaseRoute]:
    """The ``/__motia/*`` routes. ``log`` must already observe ``engine``."""
    tools = _DevTools(engine, log, dev=dev, token=token)
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
