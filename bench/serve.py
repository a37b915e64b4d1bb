"""A server for the HTTP figures, run as a subprocess:

    python -m bench.serve APP --port 8001 [--http h11|httptools] [--loop asyncio|uvloop]

APP is one of:

- ``motia``: ``create_app("steps")`` as served in one process (in-memory adapters, dev tools off,
  no cron) with a catalogue deep enough that every order ships: each POST also runs its saga
  (seven deliveries) in the same process, on the same core;
- ``front``: the same app with a transport that binds no subscriber, so an emit is recorded and
  goes nowhere: the request path alone (validate, state write, emit), as the HTTP front of the
  distributed mode runs it while workers elsewhere consume;
- ``redis-front``: that front on Redis (``RedisStreamsTransport(consume=False)`` and
  ``RedisStateStore``), as ``motia-rt start`` serves it; ``--prefix`` names its keys;
- ``bare``: a Starlette endpoint that parses and validates the same body with the same pydantic
  model and answers the same JSON.

Each adds ``GET /__bench/stats`` (RSS, and for motia the deliveries pending) so the driver can
wait for the sagas a load test started to drain, and see whether memory keeps growing.
"""

from __future__ import annotations

import argparse
import gc
import sys
import uuid
from collections.abc import Sequence
from typing import Any

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from motia_rt.clock import AsyncioClock
from motia_rt.ports import DeliverFn, Subscription
from motia_rt.transport.memory import MemoryTransport

from ._paths import ROOT, STEPS

__all__ = ["bare_app", "main", "motia_app"]

STOCK = 10**9


def _rss_kib() -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def deep_catalog() -> Any:
    """The default catalogue with a billion of each product: no order of a load test runs out."""
    sys.path.insert(0, str(ROOT))
    from steps.services.catalog import DEFAULT_PRODUCTS, Catalog, Product

    return Catalog([Product(p.sku, p.name, p.price_cents, STOCK) for p in DEFAULT_PRODUCTS])


class _PublishOnly(MemoryTransport):
    """Records what is published and delivers it to nobody (consumers live elsewhere)."""

    def bind(self, subscriptions: Sequence[Subscription], deliver: DeliverFn) -> None:
        super().bind((), deliver)


def motia_app(
    variant: str = "motia", redis_url: str = "", prefix: str = "bench", history: int = 10_000
) -> Starlette:
    from motia_rt.server import create_app

    services = {"catalog": deep_catalog()}
    if variant == "front":
        app = create_app(
            STEPS, services=services, dev=False, cron=False, transport=_PublishOnly(AsyncioClock())
        )
    elif variant == "redis-front":
        from redis.asyncio import Redis

        from motia_rt.state.redis import RedisStateStore
        from motia_rt.transport.redis_streams import RedisStreamsTransport

        client = Redis.from_url(redis_url)
        transport = RedisStreamsTransport(
            client, prefix=prefix, clock=AsyncioClock(), consume=False
        )
        app = create_app(
            STEPS,
            services=services,
            dev=False,
            cron=False,
            transport=transport,
            state=RedisStateStore(client, prefix),
        )
    else:
        app = create_app(STEPS, services=services, dev=False, cron=False, history=history)
    engine = app.state.engine

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse(
            {
                "rss_kib": _rss_kib(),
                "pending": engine.transport.pending(),
                "events": len(engine.events),
                "runs": len(engine.runs),
            }
        )

    # Last, as in the bare app: the measured requests are not matched against it first.
    app.router.routes.append(Route("/__bench/stats", stats))
    return app


def bare_app() -> Starlette:
    sys.path.insert(0, str(ROOT))
    from steps.models import CreateOrderBody, OrderAccepted

    async def create_order(request: Request) -> JSONResponse:
        try:
            body = CreateOrderBody.model_validate_json(await request.body())
        except ValidationError as exc:
            errors: Any = exc.errors(include_url=False, include_context=False)
            return JSONResponse(
                {"error": "request body failed validation", "errors": errors}, status_code=400
            )
        trace_id = str(uuid.uuid4())
        accepted = OrderAccepted(
            orderId="ord_" + uuid.uuid4().hex, status="pending", traceId=trace_id
        )
        del body
        return JSONResponse(
            accepted.model_dump(mode="json"), status_code=202, headers={"x-trace-id": trace_id}
        )

    async def stats(request: Request) -> JSONResponse:
        return JSONResponse({"rss_kib": _rss_kib(), "pending": 0})

    return Starlette(
        routes=[Route("/orders", create_order, methods=["POST"]), Route("/__bench/stats", stats)]
    )


def main(argv: list[str] | None = None) -> None:
    import uvicorn

    parser = argparse.ArgumentParser(prog="python -m bench.serve")
    parser.add_argument("app", choices=("motia", "front", "redis-front", "bare"))
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--prefix", default="bench")
    parser.add_argument(
        "--history",
        type=int,
        default=10_000,
        help="events and runs kept (motia app): "
        "create_app's default, or more for a driver that counts events by them",
    )
    parser.add_argument("--http", default="h11", choices=("h11", "httptools"))
    parser.add_argument("--loop", default="asyncio", choices=("asyncio", "uvloop"))
    args = parser.parse_args(argv)
    app = (
        bare_app()
        if args.app == "bare"
        else motia_app(args.app, args.redis_url, args.prefix, args.history)
    )
    # As `motia-rt start` does, for every app alike: start-up objects never die, so keep them out
    # of the full collections (without it, a full pass over them took ~60 ms and set the p99).
    gc.freeze()
    # The same settings for both apps; access logs off (they would be most of the work).
    uvicorn.run(
        app,
        host="127.0.0.1",
        port=args.port,
        http=args.http,
        loop=args.loop,
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__":
    main()
