"""Serving a request or a delivery leaves no reference cycles behind.

Objects in a cycle are freed only by the garbage collector, so a cycle per request makes every
request's objects (request, context, validated body, ...) pile up until a collection: the
collector then runs more often and for longer, and a server that once spent half its request time
in it (a self-calling middleware closure, fixed) is what this guards against.
"""

from __future__ import annotations

import asyncio
import gc
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from motia_rt.server import create_app
from steps.services.catalog import DEFAULT_PRODUCTS, Catalog, Product

STEPS = Path(__file__).resolve().parents[2] / "steps"
ORDER = b'{"email":"ann@example.com","items":[{"sku":"sku-book","quantity":1}],"paymentMethod":"pm_card_visa"}'

Message = dict[str, Any]


@contextmanager
def cyclic_garbage() -> Iterator[Counter[str]]:
    """Counts, by type, the objects that only the cycle collector could free, made inside."""
    found: Counter[str] = Counter()
    gc.collect()
    gc.disable()
    gc.set_debug(gc.DEBUG_SAVEALL)
    try:
        yield found
        gc.collect()
        found.update(type(o).__name__ for o in gc.garbage)
    finally:
        gc.set_debug(0)
        gc.garbage.clear()
        gc.enable()


async def _request(
    app: Callable[..., Awaitable[None]], method: str, path: str, body: bytes = b""
) -> int:
    scope = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": method,
        "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
        "root_path": "", "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80),
        "headers": [(b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode())],
    }  # fmt: skip
    messages = [{"type": "http.request", "body": body, "more_body": False}]
    status: list[int] = []

    async def receive() -> Message:
        return messages.pop() if messages else {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        if message["type"] == "http.response.start":
            status.append(message["status"])

    await app(scope, receive, send)
    return status[0]


def test_orders_and_their_sagas_leave_no_reference_cycles() -> None:
    catalog = Catalog([Product(p.sku, p.name, p.price_cents, 10**6) for p in DEFAULT_PRODUCTS])
    app = create_app(STEPS, services={"catalog": catalog}, dev=False, cron=False)
    engine = app.state.engine

    async def main() -> Counter[str]:
        await engine.start()
        for _ in range(5):  # warm-up: first-use caches are not garbage
            assert await _request(app, "POST", "/orders", ORDER) == 202
        await engine.settle()
        with cyclic_garbage() as found:
            for _ in range(50):
                assert await _request(app, "POST", "/orders", ORDER) == 202
                await _request(app, "GET", "/orders/ord_unknown")
            await engine.settle()
        assert sum(r.outcome == "ok" and r.kind == "event" for r in engine.runs) >= 50 * 7
        await engine.close()
        return found

    assert asyncio.run(main()) == Counter()
