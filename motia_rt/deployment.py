"""What an app's ``default_services()`` may ask about the deployment it is building services for.

``motia-rt start`` and ``motia-rt worker`` run several processes of one app on one Redis. A service
that keeps records (stock, charges, sent messages) must then be one that every process shares: a
reservation made while one worker handled ``order.created`` has to be there when another worker
ships the order. Those commands build their engine inside ``sharing_redis(client, prefix)``, and
the app's ``default_services()`` reads ``shared_redis()`` to bind shared implementations. Anywhere
else (``motia-rt dev``, ``Runtime``, the simulator) ``shared_redis()`` is None, and one process holds
the whole app: fresh in-memory fakes are right, and the simulator's runs stay free of real I/O.

A context variable, not a global: an engine built in a test next to a worker's (the same process,
another task) still gets the in-memory fakes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["SharedRedis", "shared_redis", "sharing_redis"]


@dataclass(frozen=True)
class SharedRedis:
    """The Redis of a distributed deployment, for services its processes must share."""

    client: Redis
    """The process's own client (responses as bytes); closed by the process when it stops."""
    prefix: str
    """The deployment's key prefix (``MOTIA_PREFIX``); a service keeps its keys under
    ``{prefix}:svc:{name}:``, so each app and each test has its own."""

    def key_prefix(self, service: str) -> str:
        """Where the service named ``service`` keeps its keys."""
        return f"{self.prefix}:svc:{service}"


_CURRENT: ContextVar[SharedRedis | None] = ContextVar("motia_shared_redis", default=None)


def shared_redis() -> SharedRedis | None:
    """The Redis the engine being built shares with the deployment's other processes; None when
    the engine runs the whole app in this process (dev server, tests, simulator)."""
    return _CURRENT.get()


@contextmanager
def sharing_redis(client: Redis, prefix: str) -> Iterator[SharedRedis]:
    """Within the block, ``shared_redis()`` is ``SharedRedis(client, prefix)``: build the engine
    (which calls the app's ``default_services()``) inside it."""
    shared = SharedRedis(client, prefix)
    token = _CURRENT.set(shared)
    try:
        yield shared
    finally:
        _CURRENT.reset(token)
