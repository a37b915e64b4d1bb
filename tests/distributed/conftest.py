"""Fixtures for the multi-process tests: a real Redis, a key prefix per test, the test app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from tests.distributed.apps import Process, write_app
from tests.redis_support import real_redis_url

aioredis = pytest.importorskip("redis.asyncio", reason="needs the redis extra: pip install redis")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """A real Redis that answered PING (see ``tests/redis_support.py`` for skip and fail rules)."""
    return real_redis_url()


@pytest.fixture
def prefix() -> str:
    return f"motia-test:{uuid.uuid4().hex}"


@pytest_asyncio.fixture
async def client(redis_url: str, prefix: str) -> AsyncIterator[Any]:
    """A client on the shared Redis; every key under ``prefix`` is deleted afterwards."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
    for i in range(0, len(keys), 1000):
        await client.unlink(*keys[i : i + 1000])
    await client.aclose()


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return write_app(tmp_path / "app")


@pytest.fixture
def processes() -> Iterator[list[Process]]:
    """Processes a test starts; any still running at teardown is killed."""
    started: list[Process] = []
    yield started
    for process in started:
        if process.proc is not None and process.proc.poll() is None:
            process.kill()
