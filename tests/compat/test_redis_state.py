"""A sync 1.0 handler's module-level state calls on a real Redis store (one that must wait): the
worker thread hands each call to the loop and waits for it."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from motia_rt.testing import Runtime
from tests.redis_support import real_redis_url
from tests.step_files import make_app

aioredis = pytest.importorskip("redis.asyncio", reason="needs the redis extra: pip install redis")
redis = pytest.importorskip("redis", reason="needs the redis extra: pip install redis")

COUNTER = """
    from motia import enqueue, http, queue, stateManager
    config = {"name": "Count", "enqueues": ["counted"],
              "triggers": [http("POST", "/count"), queue("counted")]}
    def handler(input, ctx):
        if ctx.trigger.type == "queue":
            stateManager.set("seen", str(input["n"]), True)
            return None
        n = (stateManager.get("counter", "n") or 0) + 1
        stateManager.set("counter", "n", n)
        enqueue({"topic": "counted", "data": {"n": n}})
        return {"status": 200, "body": n}
"""


def test_sync_handlers_use_a_redis_store_through_the_loop(tmp_path: Path) -> None:
    from motia_rt.state.redis import RedisStateStore

    url = real_redis_url()
    prefix = f"motia-test:{uuid.uuid4().hex}"
    store = RedisStateStore(aioredis.Redis.from_url(url), prefix=prefix)

    async def scenario(rt: Runtime) -> None:
        for expected in (1, 2, 3):
            response = await rt.post("/count")
            assert (response.status_code, response.json()) == (200, expected)
        await rt.settle()
        assert await rt.state.get("counter", "n") == 3
        assert sorted(await rt.state.items("seen")) == ["1", "2", "3"]

    try:
        Runtime(make_app(tmp_path / "steps", {"count_step.py": COUNTER}), state=store).run(scenario)
    finally:
        client = redis.Redis.from_url(url)
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
