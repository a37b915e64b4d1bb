"""The services contract against the Redis-backed services a deployment's workers share, on
fakeredis and on a real Redis.

Each "process" of a deployment has its own service objects on its own client (a worker's), over
the deployment's keys. The real-Redis class needs a server (see ``tests/redis_support.py``); it
writes under a key prefix of its own and deletes those keys afterwards.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio

from motia_rt.deployment import SharedRedis, sharing_redis
from steps.services import default_services, shared_services
from tests.contract.services_contract import DeploymentFactory, ServicesContract

aioredis = pytest.importorskip("redis.asyncio", reason="needs the redis extra: pip install redis")
fakeredis = pytest.importorskip("fakeredis", reason="needs the dev extra: pip install fakeredis")


class RedisDeployment:
    """Processes ``0`` and ``1`` on ``clients[0]`` and ``clients[1]``, sharing ``prefix``."""

    def __init__(self, clients: list[Any], prefix: str) -> None:
        self.processes = [shared_services(SharedRedis(client, prefix)) for client in clients]
        self.view = self.processes[0]

    def process(self, index: int) -> dict[str, Any]:
        return self.processes[index]

    async def charges(self) -> list[dict[str, Any]]:
        return await self.view["payments"].charges()

    async def refunds(self) -> list[dict[str, Any]]:
        return await self.view["payments"].refunds()

    async def ledger(self) -> dict[str, dict[str, int]]:
        return await self.view["catalog"].ledger()

    async def available(self) -> dict[str, int]:
        return await self.view["catalog"].available()

    async def sent(self) -> list[dict[str, Any]]:
        return await self.view["notifier"].sent()


class TestFakeRedisServices(ServicesContract):
    @pytest_asyncio.fixture(params=[False, True], ids=["bytes", "decoded"])
    async def make_deployment(
        self, request: pytest.FixtureRequest
    ) -> AsyncIterator[DeploymentFactory]:
        server = fakeredis.FakeServer()
        clients = [fakeredis.FakeAsyncRedis(server=server, decode_responses=request.param)
                   for _ in range(2)]  # fmt: skip
        numbers = itertools.count()
        yield lambda: RedisDeployment(clients, f"motia-test:{next(numbers)}")
        for client in clients:
            await client.aclose()


class TestRealRedisServices(ServicesContract):
    @pytest_asyncio.fixture
    async def make_deployment(self, redis_url: str) -> AsyncIterator[DeploymentFactory]:
        # Bytes, as `motia-rt` processes read them; two clients, as two workers have.
        clients = [aioredis.Redis.from_url(redis_url) for _ in range(2)]
        base = f"motia-test:{uuid.uuid4().hex}"
        numbers = itertools.count()
        try:
            yield lambda: RedisDeployment(clients, f"{base}:{next(numbers)}")
        finally:
            keys = [key async for key in clients[0].scan_iter(match=f"{base}:*", count=1000)]
            if keys:
                await clients[0].delete(*keys)
            for client in clients:
                await client.aclose()


def test_default_services_are_shared_only_when_the_engine_is_built_for_a_deployment() -> None:
    client = fakeredis.FakeAsyncRedis()
    assert type(default_services()["payments"]).__name__ == "PaymentGateway"
    with sharing_redis(client, "app") as shared:
        services = default_services()
    assert type(services["payments"]).__name__ == "RedisPaymentGateway"
    assert services["payments"].p == "app:svc:payments" == shared.key_prefix("payments")
    assert type(default_services()["catalog"]).__name__ == "Catalog", "only inside the block"
