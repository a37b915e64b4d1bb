"""The StateStore contract against ``RedisStateStore``, on fakeredis and on a real Redis.

The real-Redis class needs a server (see ``tests/redis_support.py``); each test writes under its
own key prefix and deletes those keys afterwards, so it can share a server with anything else.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from motia_rt.state.redis import RedisStateStore
from tests.contract.state_contract import StateStoreContract, StoreFactory

aioredis = pytest.importorskip("redis.asyncio", reason="needs the redis extra: pip install redis")
fakeredis = pytest.importorskip("fakeredis", reason="needs the dev extra: pip install fakeredis")


class TestFakeRedisStateStore(StateStoreContract):
    @pytest_asyncio.fixture(params=[False, True], ids=["bytes", "decoded"])
    async def make_store(self, request: pytest.FixtureRequest) -> AsyncIterator[StoreFactory]:
        client = fakeredis.FakeAsyncRedis(
            server=fakeredis.FakeServer(), decode_responses=request.param
        )
        numbers = itertools.count()
        yield lambda: RedisStateStore(client, prefix=f"motia-test:{next(numbers)}")
        await client.aclose()


class TestRealRedisStateStore(StateStoreContract):
    @pytest_asyncio.fixture
    async def make_store(self, redis_url: str) -> AsyncIterator[StoreFactory]:
        client = aioredis.Redis.from_url(redis_url)
        base = f"motia-test:{uuid.uuid4().hex}"
        numbers = itertools.count()
        try:
            yield lambda: RedisStateStore(client, prefix=f"{base}:{next(numbers)}")
        finally:
            keys = [key async for key in client.scan_iter(match=f"{base}:*", count=1000)]
            if keys:
                await client.delete(*keys)
            await client.aclose()


async def test_layout_is_a_hash_per_group_and_an_index_of_groups() -> None:
    client: Any = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer(), decode_responses=True)
    store = RedisStateStore(client, prefix="app")
    await store.set("orders", "o1", {"total": 3})
    await store.set("groups", "k", True)
    assert await client.hgetall("app:state:orders") == {"o1": '{"total":3}'}
    assert await client.hgetall("app:state:groups") == {"k": "true"}
    assert await client.smembers("app:state-groups") == {"orders", "groups"}
    await store.delete("orders", "o1")
    assert sorted(await client.keys("app:*")) == ["app:state-groups", "app:state:groups"]
    assert await client.smembers("app:state-groups") == {"groups"}
    await client.aclose()


async def test_groups_skips_an_indexed_group_whose_hash_is_gone() -> None:
    # What a process dying between a delete's two steps leaves behind.
    client: Any = fakeredis.FakeAsyncRedis(server=fakeredis.FakeServer())
    store = RedisStateStore(client, prefix="app")
    await store.set("a", "k", 1)
    await client.sadd("app:state-groups", "ghost")
    assert await store.groups() == ["a"]
    await client.aclose()
