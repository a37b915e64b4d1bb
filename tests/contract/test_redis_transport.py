"""The Transport contract against ``RedisStreamsTransport``, on a real Redis and on fakeredis.

Each transport a test opens gets its own key prefix; the real-Redis fixture deletes every key
under the test's prefixes afterwards, so the suite can share a server with anything else.
fakeredis runs the transport's Lua scripts only with ``lupa`` installed; without it that class is
skipped (the real-Redis class still runs).
"""

from __future__ import annotations

import importlib.util
import itertools
import uuid
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from motia_rt.ports import Clock, Transport
from motia_rt.transport.redis_streams import RedisStreamsTransport
from tests.contract.transport_contract import TransportContract, TransportFactory

aioredis = pytest.importorskip("redis.asyncio", reason="needs the redis extra: pip install redis")
fakeredis = pytest.importorskip("fakeredis", reason="needs the dev extra: pip install fakeredis")


def _factory(client: object, base: str) -> TransportFactory:
    numbers = itertools.count()

    def make(clock: Clock) -> Transport:
        prefix = f"{base}:{next(numbers)}"
        return RedisStreamsTransport(client, prefix=prefix, clock=clock, block=0.5)  # type: ignore[arg-type]

    return make


class TestRealRedisTransport(TransportContract):
    @pytest_asyncio.fixture
    async def make_transport(self, redis_url: str) -> AsyncIterator[TransportFactory]:
        client = aioredis.Redis.from_url(redis_url)
        base = f"motia-test:{uuid.uuid4().hex}"
        try:
            yield _factory(client, base)
        finally:
            keys = [key async for key in client.scan_iter(match=f"{base}:*", count=1000)]
            if keys:
                await client.delete(*keys)
            await client.aclose()


@pytest.mark.skipif(
    importlib.util.find_spec("lupa") is None,
    reason="fakeredis runs Lua (EVAL) only with lupa installed (pip install 'fakeredis[lua]'), "
    "and the transport settles every delivery with a Lua script",
)
class TestFakeRedisTransport(TransportContract):
    @pytest_asyncio.fixture(params=[False, True], ids=["bytes", "decoded"])
    async def make_transport(
        self, request: pytest.FixtureRequest
    ) -> AsyncIterator[TransportFactory]:
        client = fakeredis.FakeAsyncRedis(
            server=fakeredis.FakeServer(), decode_responses=request.param
        )
        yield _factory(client, "motia-test")
        await client.aclose()
