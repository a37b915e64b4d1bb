"""A cron lock on Redis: with any number of instances, each tick of a cron step fires once.

The key names the step and the tick's *scheduled* fire time, not the time an instance woke up
(arq's pattern): every instance computes the same scheduled times from the cron expression, so
they contend for the same key, and an instance whose clock runs late finds the key its peers set
and skips the tick instead of firing it a second time.
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import socket
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .cron import CronLock

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["cron_lock_key", "redis_cron_lock"]

log = logging.getLogger("motia.cron")


def cron_lock_key(prefix: str, step: str, scheduled_time: float) -> str:
    """``{prefix}:cron:{step}:{scheduled time, UTC}``, e.g. ``motia:cron:Tick:2026-01-01T00:05:00Z``."""
    moment = datetime.fromtimestamp(scheduled_time, tz=UTC)
    stamp = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        stamp += f".{moment.microsecond // 1000:03d}"
    return f"{prefix}:cron:{step}:{stamp}Z"


def _reraise_lost_cancellation() -> None:
    """redis-py (8.1, on Python 3.11) can swallow a ``cancel()`` that lands while a command
    completes; the scheduler's ``close()`` would then wait forever for a loop that carries on."""
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def redis_cron_lock(
    client: Redis,
    prefix: str = "motia",
    *,
    ttl: float = 3600.0,
    patience: float = 10.0,
    owner: str | None = None,
) -> CronLock:
    """The ``lock(step, scheduled_time) -> acquired`` callable ``CronScheduler`` takes.

    ``SET key owner NX EX ttl`` on the key of (step, scheduled time): the first instance to ask
    fires the tick, every other gets False. Guarantees: a tick fires at most once as long as the
    instances' clocks differ by less than ``ttl`` seconds (the key outlives the tick by that
    long), and exactly once if at least one instance reaches Redis within ``patience`` seconds of
    it. While Redis is unreachable the lock retries with backoff for up to ``patience`` seconds,
    then skips the tick and logs an error: a missed tick is preferred to a doubled one. A reply
    lost to a dropped connection cannot skip a tick either: the retry recognises its own token.
    """
    instance = owner or f"{socket.gethostname()}:{os.getpid()}"
    expiry = max(1, math.ceil(ttl))

    async def lock(step: str, scheduled_time: float) -> bool:
        key = cron_lock_key(prefix, step, scheduled_time)
        token = f"{instance}:{uuid.uuid4().hex[:8]}"
        loop = asyncio.get_running_loop()
        deadline, failures = loop.time() + patience, 0
        while True:
            try:
                acquired = bool(await client.set(key, token, nx=True, ex=expiry))
                _reraise_lost_cancellation()
                if acquired:
                    return True
                holder = await client.get(key)
                _reraise_lost_cancellation()
                return holder in (token, token.encode())
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                failures += 1
                if loop.time() >= deadline:
                    log.error("cron tick %s of %s skipped: Redis unreachable (%s)", key, step, exc)
                    return False
                if failures == 1:
                    log.warning("cron lock for %s: Redis unreachable (%s); retrying", step, exc)
                await asyncio.sleep(min(1.0, 0.05 * 2**failures))

    return lock
