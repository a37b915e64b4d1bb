"""The Redis cron lock: several instances, each tick fired exactly once, clock skew included.

Needs a real Redis (see ``tests/redis_support.py``); each test uses its own key prefix and
deletes it afterwards.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import pytest_asyncio

from motia_rt.clock import AsyncioClock
from motia_rt.cron import CronLock, CronScheduler
from motia_rt.cron_lock import cron_lock_key, redis_cron_lock
from motia_rt.engine import Engine
from motia_rt.loader import load_steps
from motia_rt.state.memory import MemoryStateStore
from motia_rt.transport.memory import MemoryTransport
from tests.redis_support import real_redis_url
from tests.rt.test_cron import JumpClock
from tests.step_files import make_app

aioredis = pytest.importorskip("redis.asyncio", reason="needs the redis extra: pip install redis")

EVERY_SECOND = {
    "tick_step.py": """
        config = {"type": "cron", "name": "Tick", "cron": "* * * * * *"}
        async def handler(context):
            pass
    """,
}


@pytest.fixture(scope="module")
def redis_url() -> str:
    return real_redis_url()


@pytest_asyncio.fixture
async def client(redis_url: str) -> AsyncIterator[Any]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    prefix = f"motia-test:{uuid.uuid4().hex}"
    client.test_prefix = prefix
    yield client
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await client.delete(*keys)
    await client.aclose()


class SkewedClock(AsyncioClock):
    """Real time, but this instance's wall clock is ``skew`` seconds off."""

    def __init__(self, skew: float) -> None:
        self.skew = skew

    def now(self) -> float:
        return super().now() + self.skew


def recording(lock: CronLock, log: list[tuple[int, float, bool]], instance: int) -> CronLock:
    async def wrapped(step: str, due: float) -> bool:
        acquired = await lock(step, due)
        log.append((instance, due, acquired))
        return acquired

    return wrapped


async def run_instances(
    tmp_path: Path, client: Any, clocks: list[Any], until: Any, app: dict[str, str] = EVERY_SECOND
) -> tuple[list[tuple[int, float, bool]], list[Engine]]:
    steps = make_app(tmp_path, app)
    log: list[tuple[int, float, bool]] = []
    engines, schedulers = [], []
    for i, clock in enumerate(clocks):
        engine = Engine(load_steps(steps), clock=clock, transport=MemoryTransport(clock),
                        state=MemoryStateStore())  # fmt: skip
        await engine.start()
        lock = recording(redis_cron_lock(client, client.test_prefix), log, i)
        scheduler = CronScheduler(engine, lock)
        scheduler.start()
        engines.append(engine)
        schedulers.append(scheduler)
    await until(log)
    for scheduler in schedulers:
        await scheduler.close()
    return log, engines


def fired_once_each(log: list[tuple[int, float, bool]], instances: int) -> list[float]:
    """The ticks every instance asked about; asserts each was acquired exactly once."""
    asked = Counter(due for _, due, _ in log)
    common = sorted(due for due, n in asked.items() if n == instances)
    acquired = Counter(due for _, due, ok in log if ok)
    assert [due for due in common if acquired[due] != 1] == []
    assert all(n == 1 for n in acquired.values()), "a tick fired twice"
    return common


async def test_three_skewed_instances_fire_every_tick_exactly_once(
    tmp_path: Path, client: Any
) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    # Virtual clocks, 0.7 s ahead and 1.3 s behind: skew moves when an instance wakes up, not
    # which ticks it computes.
    clocks = [JumpClock(start), JumpClock(start + 0.7), JumpClock(start - 1.3)]

    async def until(log: list[tuple[int, float, bool]]) -> None:
        async with asyncio.timeout(20):
            while len({i for i, due, _ in log[-30:] if due >= start + 200}) < 3:
                await asyncio.sleep(0.01)

    log, engines = await run_instances(tmp_path, client, clocks, until)
    common = fired_once_each(log, 3)
    assert len(common) >= 195
    ran = sum(1 for e in engines for r in e.runs if r.kind == "cron")
    acquired = sum(1 for _, _, ok in log if ok)
    # Closing a scheduler cancels a tick that acquired its lock but has not started running.
    assert acquired - len(engines) <= ran <= acquired, "a tick ran without the lock"


async def test_in_real_time_three_instances_fire_each_second_once(
    tmp_path: Path, client: Any
) -> None:
    clocks = [SkewedClock(0.0), SkewedClock(0.4), SkewedClock(-0.3)]

    async def until(log: list[tuple[int, float, bool]]) -> None:
        # Until every instance has asked about two of the same seconds (a fixed 2.6 s saw only one
        # under load: where the instances start within a second decides how many they share).
        async with asyncio.timeout(10):
            while sum(n == 3 for n in Counter(due for _, due, _ in log).values()) < 2:
                await asyncio.sleep(0.05)

    log, _ = await run_instances(tmp_path, client, clocks, until)
    assert len(fired_once_each(log, 3)) >= 2


async def test_the_key_is_the_step_and_scheduled_time_and_it_expires(client: Any) -> None:
    lock = redis_cron_lock(client, client.test_prefix, ttl=5)
    tick = datetime(2026, 1, 1, 0, 5, tzinfo=UTC).timestamp()
    assert await lock("Tick", tick)
    assert not await lock("Tick", tick)
    assert await lock("Tick", tick + 60)
    assert await lock("Other", tick)
    key = cron_lock_key(client.test_prefix, "Tick", tick)
    assert key == f"{client.test_prefix}:cron:Tick:2026-01-01T00:05:00Z"
    assert 0 < await client.ttl(key) <= 5
    assert cron_lock_key("p", "S", tick + 0.25).endswith("00:05:00.250Z")


async def test_ticks_seconds_apart_in_one_minute_have_keys_of_their_own(
    tmp_path: Path, client: Any
) -> None:
    # Motia's six fields, seconds first: six ticks a minute, each its own key and owner.
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    every_ten = {
        "tick_step.py": EVERY_SECOND["tick_step.py"].replace("* * * * * *", "*/10 * * * * *")
    }
    clocks = [JumpClock(start), JumpClock(start + 0.4)]

    async def until(log: list[tuple[int, float, bool]]) -> None:
        async with asyncio.timeout(20):
            while len({i for i, due, _ in log if due >= start + 120}) < 2:
                await asyncio.sleep(0.01)

    log, _ = await run_instances(tmp_path, client, clocks, until, every_ten)
    common = fired_once_each(log, 2)
    assert common[:12] == [start + 10 * i for i in range(1, 13)]
    keys = {cron_lock_key(client.test_prefix, "Tick", due) for due in common[:6]}
    stamps = sorted(key.removeprefix(f"{client.test_prefix}:cron:Tick:") for key in keys)
    assert stamps == [f"2026-01-01T00:00:{s}0Z" for s in range(1, 6)] + ["2026-01-01T00:01:00Z"]
    assert await client.exists(*keys) == 6, "one key per tick, held in Redis"


class LosesFirstReply:
    """A client whose first SET reaches Redis but whose reply is lost with the connection."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self.lost = False

    async def set(self, *args: Any, **kwargs: Any) -> Any:
        result = await self.client.set(*args, **kwargs)
        if not self.lost:
            self.lost = True
            raise aioredis.ConnectionError("connection reset by peer")
        return result

    async def get(self, key: str) -> Any:
        return await self.client.get(key)


async def test_a_lost_reply_does_not_skip_the_tick(client: Any) -> None:
    lock = redis_cron_lock(LosesFirstReply(client), client.test_prefix)  # type: ignore[arg-type]
    assert await lock("Tick", 1_800_000_000.0)


async def test_an_unreachable_redis_skips_the_tick_and_says_so(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens here once the socket closes
    from redis.asyncio.retry import Retry
    from redis.backoff import NoBackoff

    client = aioredis.Redis(port=port, socket_connect_timeout=0.2, retry=Retry(NoBackoff(), 0))
    lock = redis_cron_lock(client, "motia-test", patience=0.3)
    with caplog.at_level(logging.WARNING, logger="motia.cron"):
        assert not await lock("Tick", 1_800_000_000.0)
    await client.aclose()
    assert "skipped: Redis unreachable" in caplog.text
