"""Redis unreachable while requests come in: state calls and publishing wait the same bounded
time (retrying with backoff), succeed if Redis comes back meanwhile, and otherwise answer 503
with ``Retry-After`` instead of a 500.

Needs a real Redis (see ``tests/redis_support.py``); the outage is a relay the test switches off.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from motia_rt.clock import AsyncioClock
from motia_rt.errors import BackendUnavailable
from motia_rt.state.redis import RedisStateStore
from motia_rt.testing import Runtime
from motia_rt.transport.redis_streams import RedisStreamsTransport
from steps.state_groups import ORDERS
from tests.app.conftest import STEPS
from tests.app.saga_checks import assert_saga_invariants, order, view
from tests.redis_support import RedisRelay, real_redis_url
from tests.step_files import make_app

aioredis = pytest.importorskip("redis.asyncio", reason="needs the redis extra: pip install redis")
from redis.asyncio.retry import Retry  # noqa: E402
from redis.backoff import NoBackoff  # noqa: E402

APP = {
    "lookup_step.py": """
        config = {"type": "api", "name": "Lookup", "path": "/lookup", "method": "POST",
                  "emits": ["looked.up"]}
        async def handler(req, context):
            found = await context.state.get("orders", req.body["key"])
            if req.body.get("emit"):
                await context.emit({"topic": "looked.up", "data": {"key": req.body["key"]}})
            return {"status": 200, "body": {"found": found}}
    """,
}


@pytest_asyncio.fixture
async def switched(tmp_path: Path) -> AsyncIterator[tuple[RedisRelay, Any, str]]:
    """A relay, a client through it (no retries of its own) and a key prefix, cleaned up after."""
    url = real_redis_url()
    switch = RedisRelay(url)
    client = aioredis.Redis.from_url(
        await switch.open(), retry=Retry(NoBackoff(), 0), socket_connect_timeout=1
    )
    prefix = f"motia-test:{uuid.uuid4().hex}"
    yield switch, client, prefix
    switch.close()
    await client.aclose()
    direct = aioredis.Redis.from_url(url)
    keys = [key async for key in direct.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await direct.delete(*keys)
    await direct.aclose()


def runtime(
    tmp_path: Path, prefix: str, patience: float, *, state_client: Any, transport_client: Any
) -> Runtime:
    clock = AsyncioClock()
    return Runtime(
        make_app(tmp_path / "app", APP),
        state=RedisStateStore(state_client, prefix, clock=clock, patience=patience),
        transport=RedisStreamsTransport(
            transport_client, prefix=prefix, clock=clock, consume=False, publish_patience=patience
        ),
    )


async def logged(caplog: pytest.LogCaptureFixture, needle: str) -> None:
    async with asyncio.timeout(10):
        while not any(needle in r.getMessage() for r in caplog.records):
            await asyncio.sleep(0.01)


async def test_a_state_call_waits_out_a_short_outage(
    switched: tuple[RedisRelay, Any, str], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    switch, client, prefix = switched
    caplog.set_level(logging.WARNING, logger="motia.redis")
    async with runtime(tmp_path, prefix, 30.0, state_client=client, transport_client=client) as rt:
        await rt.state.set("orders", "k1", {"id": "o1"})
        switch.off()
        request = asyncio.create_task(rt.post("/lookup", json={"key": "k1"}))
        await logged(caplog, "state store retrying")
        assert not request.done(), "the request gave up while Redis was down"
        switch.on = True
        response = await request
    assert response.status_code == 200 and response.json() == {"found": {"id": "o1"}}
    assert any("reachable again" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("emit", [False, True], ids=["state", "publish"])
async def test_an_outage_longer_than_the_patience_is_a_503_with_retry_after(
    switched: tuple[RedisRelay, Any, str], tmp_path: Path, emit: bool
) -> None:
    switch, client, prefix = switched
    direct = aioredis.Redis.from_url(real_redis_url())
    # publish: the state lookup reaches Redis, publishing (through the relay) runs out of patience
    state_client = direct if emit else client
    async with runtime(
        tmp_path, prefix, 0.3, state_client=state_client, transport_client=client
    ) as rt:
        switch.off()
        response = await rt.post("/lookup", json={"key": "k2", "emit": emit})
        assert response.status_code == 503, response.text
        assert int(response.headers["retry-after"]) >= 1
        assert "Redis unreachable" in response.json()["error"]
        assert response.json()["traceId"] == response.headers["x-trace-id"]
        switch.on = True
        again = await rt.post("/lookup", json={"key": "k2", "emit": emit})
        assert again.status_code == 200, again.text
    await direct.aclose()


async def test_state_store_raises_backend_unavailable_when_patience_runs_out(
    switched: tuple[RedisRelay, Any, str],
) -> None:
    switch, client, prefix = switched
    store = RedisStateStore(client, prefix, patience=0.2)
    await store.set("g", "k", 1)
    switch.off()
    for call in (store.get("g", "k"), store.set("g", "k", 2), store.groups(), store.items("g")):
        with pytest.raises(BackendUnavailable) as raised:
            await call
        assert raised.value.retry_after >= 1 and raised.value.waited >= 0.2
    switch.on = True
    assert await store.get("g", "k") == 1


class OutageAfterTheEmit(RedisStateStore):
    """Redis goes away between ``CreateOrder``'s emit and its ``state.set`` of the order: the
    worst moment, when the request fails although the saga has started."""

    def __init__(self, switch: RedisRelay, client: Any, prefix: str) -> None:
        super().__init__(client, prefix, patience=0.3)
        self.switch = switch
        self.cut = False

    async def set(self, group: str, key: str, value: Any) -> Any:
        if group == ORDERS and not self.cut:
            self.cut = True
            self.switch.off()
        return await super().set(group, key, value)


async def test_an_order_retried_with_its_key_after_a_503_is_placed_once(
    switched: tuple[RedisRelay, Any, str],
) -> None:
    switch, client, prefix = switched
    direct = aioredis.Redis.from_url(real_redis_url())
    state = OutageAfterTheEmit(switch, client, prefix)
    transport = RedisStreamsTransport(direct, prefix=prefix, clock=AsyncioClock(), block=0.05)
    try:
        async with Runtime(STEPS, state=state, transport=transport) as rt:
            body = order(clientOrderId="cart-7")
            failed = await rt.post("/orders", json=body)
            assert failed.status_code == 503 and "retry-after" in failed.headers
            assert len(rt.emitted("order.created")) == 1, "the saga started before the outage"
            switch.on = True
            retried = await rt.post("/orders", json=body)  # what a careful client does
            assert retried.status_code == 202, retried.text
            await rt.settle()
            order_id = retried.json()["orderId"]
            assert (await view(rt, order_id))["status"] == "shipped"
            assert len(rt.services["payments"].charges) == 1, "one order, one charge"
            await assert_saga_invariants(rt)
    finally:
        await direct.aclose()
