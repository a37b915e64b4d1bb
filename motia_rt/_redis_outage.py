"""Riding out an unreachable Redis: one policy for every Redis adapter (transport and state).

A call that fails because Redis cannot be reached is retried with exponential backoff (up to 2 s
between tries); the first failure of an outage is logged once, and so is the recovery. A caller
that must answer someone (an HTTP request, a handler) passes ``patience``: after that many seconds
the call raises ``BackendUnavailable``, which the HTTP layer answers with 503 and ``Retry-After``.
Background loops pass no patience and wait for as long as the outage lasts.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import MaxConnectionsError
from redis.exceptions import TimeoutError as RedisTimeoutError

from .errors import BackendUnavailable
from .ports import Clock

__all__ = ["Outage", "RedisUnavailable"]

log = logging.getLogger("motia.redis")
T = TypeVar("T")

RedisUnavailable = (RedisConnectionError, RedisTimeoutError, OSError)
"""What a Redis call raises while the server is down or unreachable (retried with backoff)."""

RETRY_AFTER = 5
"""Seconds a client is told to wait (``Retry-After``) once a call ran out of patience."""


class Outage:
    """Whether Redis is reachable, as one adapter (``who``, for the log) sees it."""

    def __init__(self, clock: Clock, who: str) -> None:
        self.clock = clock
        self.who = who
        self._down_since: float | None = None

    async def call(self, op: Callable[[], Awaitable[T]], *, patience: float | None = None) -> T:
        """``op()``, retried with backoff while Redis is unreachable (``patience``: for at most
        that many seconds, then ``BackendUnavailable``; None: until it answers). ``op`` must be
        safe to run again: a reply lost in the outage does not say whether it took effect."""
        failures, started = 0, self.clock.monotonic()
        while True:
            try:
                result = await op()
            except RedisUnavailable as exc:
                waited = self.clock.monotonic() - started
                if patience is not None and waited >= patience:
                    raise BackendUnavailable("Redis", waited, RETRY_AFTER, exc) from exc
                failures += 1
                await self.backoff(exc, failures)
                continue
            self.recovered()
            return result

    async def backoff(self, exc: BaseException, failures: int) -> None:
        """Report an unreachable Redis (once per outage) and sleep the backoff for ``failures``."""
        if isinstance(exc, MaxConnectionsError):  # the pool is exhausted, the server is fine
            await self.clock.sleep(min(0.1, 0.005 * failures))
            return
        if self._down_since is None:
            self._down_since = self.clock.monotonic()
            log.warning("Redis unreachable (%s: %s); %s retrying with backoff",
                        type(exc).__name__, exc, self.who)  # fmt: skip
        await self.clock.sleep(min(2.0, 0.05 * 2 ** min(failures, 6)))

    def recovered(self) -> None:
        if self._down_since is not None:
            down = self.clock.monotonic() - self._down_since
            self._down_since = None
            log.warning("Redis reachable again after %.1fs; %s resumes", down, self.who)
