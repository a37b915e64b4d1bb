"""Area 4, end-to-end latency: ``POST /orders`` until ``fulfillment.shipped`` is emitted, one order
at a time, in-process (memory adapters) and on Redis (Redis state and Streams transport)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

from motia_rt.clock import AsyncioClock
from motia_rt.testing import Runtime

from ._measure import percentile
from ._paths import STEPS
from ._report import Row, compare, skipped
from .serve import deep_catalog
from .simulator import ZERO_DELAYS

__all__ = ["run"]

AREA = "4"
ORDERS = 200
Harness = Callable[[], AbstractAsyncContextManager[Any]]


def memory_runtime() -> AbstractAsyncContextManager[Any]:
    return Runtime(STEPS, services={"catalog": deep_catalog()}, retry=ZERO_DELAYS)


@asynccontextmanager
async def redis_runtime() -> AsyncIterator[Any]:
    from redis.asyncio import Redis

    from motia_rt.state.redis import RedisStateStore
    from motia_rt.transport.redis_streams import RedisStreamsTransport

    from ._redis import REDIS_URL, delete_prefix, new_prefix

    prefix = new_prefix("e2e")
    client = Redis.from_url(REDIS_URL)
    transport = RedisStreamsTransport(client, prefix=prefix, clock=AsyncioClock())
    try:
        async with Runtime(
            STEPS,
            services={"catalog": deep_catalog()},
            retry=ZERO_DELAYS,
            transport=transport,
            state=RedisStateStore(client, prefix),
        ) as rt:
            yield rt
    finally:
        await client.aclose()
        delete_prefix(prefix)


async def _orders(harness: Harness, n: int) -> tuple[list[float], list[float]]:
    """(POST -> 202, POST -> fulfillment.shipped emitted) in milliseconds, for ``n`` orders one
    after the other. The end is the event's own ``emitted_at``, not when the waiter woke up."""
    to_202: list[float] = []
    to_shipped: list[float] = []
    async with harness() as rt:
        for i in range(n):
            body = {"email": f"e2e{i}@example.com", "items": [{"sku": "sku-book", "quantity": 1}]}
            start, wall = time.perf_counter(), time.time()
            response = await rt.post("/orders", json=body)
            to_202.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 202, response.text
            order = response.json()["orderId"]
            shipped = await rt.wait_for_topic(
                "fulfillment.shipped", match={"orderId": order}, timeout=30
            )
            to_shipped.append((shipped.emitted_at - wall) * 1000)
    return to_202, to_shipped


def _rounds(harness: Harness, rounds: int, n: int) -> dict[str, list[float]]:
    """Per round, the p50 and p99 of each measure (a round is one fresh runtime)."""
    out: dict[str, list[float]] = {"post50": [], "post99": [], "e2e50": [], "e2e99": []}
    asyncio.run(_orders(harness, 20))  # warm-up
    for _ in range(rounds):
        post, e2e = asyncio.run(_orders(harness, n))
        out["post50"].append(percentile(post, 50))
        out["post99"].append(percentile(post, 99))
        out["e2e50"].append(percentile(e2e, 50))
        out["e2e99"].append(percentile(e2e, 99))
    return out


def run(quick: bool = False) -> list[Row]:
    rounds, n = (1, 50) if quick else (3, ORDERS)
    memory = _rounds(memory_runtime, rounds, n)
    note = (
        f"{n} orders one at a time x{rounds} runtimes; sku-book to ann-like buyers "
        "(approved, shipped); end = fulfillment.shipped emitted_at"
    )
    rows = [
        compare(
            AREA,
            f"POST -> fulfillment.shipped {p}, in-process",
            "ms",
            memory[f"e2e{p[1:]}"],
            f"POST -> 202 {p}, same runtime",
            memory[f"post{p[1:]}"],
            note=note,
        )
        for p in ("p50", "p99")
    ]
    from ._redis import unavailable

    reason = unavailable()
    if reason is not None:
        return [*rows, skipped(AREA, "POST -> fulfillment.shipped, on Redis", reason)]
    redis = _rounds(redis_runtime, rounds, n)
    for p in ("p50", "p99"):
        rows.append(
            compare(
                AREA,
                f"POST -> fulfillment.shipped {p}, on Redis",
                "ms",
                redis[f"e2e{p[1:]}"],
                f"in-process {p}",
                memory[f"e2e{p[1:]}"],
                note="one process: Runtime on RedisStateStore + RedisStreamsTransport; every hop "
                "goes through Redis (XADD, XREADGROUP, ack, the handler's state reads and writes)",
            )
        )
    return rows
