"""StateStore on Redis, shared by every process that uses the same server and prefix.

Needs the ``redis`` extra (``pip install 'motia-sim[redis]'``). Layout, for ``prefix="motia"``:

- ``motia:state:{group}``: a hash from key to the value as JSON text, one per group;
- ``motia:state-groups``: a set naming every group that holds at least one key.

The index is not ``motia:state:groups``, because that is the hash of a group named ``groups``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .._redis_outage import Outage
from ..clock import AsyncioClock
from ..ports import JSON, Clock

if TYPE_CHECKING:
    from redis.asyncio import Redis
    from redis.asyncio.client import Pipeline

__all__ = ["RedisStateStore"]

T = TypeVar("T")


def _encode(value: Any) -> str:
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise TypeError(f"state values must be JSON: {exc}") from None


def _text(name: bytes | str) -> str:
    return name.decode() if isinstance(name, bytes) else name


class RedisStateStore:
    """``motia_rt.ports.StateStore`` on a ``redis.asyncio.Redis`` client (bytes or decoded replies).

    Values are stored as JSON text (never pickled) and decoded on every read, so callers always get
    copies. Setting a value that is not JSON raises ``TypeError`` and writes nothing.

    Every operation is one round trip (a write to the hash and the index is one MULTI/EXEC), with
    two exceptions: deleting the last key of a group then drops the group from the index under
    WATCH, so a concurrent ``set`` never goes missing from ``groups()``; and ``groups()`` checks
    that each indexed group still exists, so a process that died between those two steps of a
    delete leaves no empty group in the listing.

    While Redis is unreachable an operation is retried with backoff for up to ``patience``
    seconds (the transport's ``publish_patience`` does the same for publishing), then raises
    ``motia_rt.errors.BackendUnavailable`` (an HTTP request gets 503 and ``Retry-After``). Every
    operation is safe to send twice (a reply lost in the outage does not say if it took effect),
    except that ``delete`` may then report None for the value it removed.
    """

    def __init__(
        self,
        client: Redis,
        prefix: str = "motia",
        *,
        clock: Clock | None = None,
        patience: float = 10.0,
    ) -> None:
        self._redis = client
        self._prefix = prefix
        self._index = f"{prefix}:state-groups"
        self.patience = patience
        self._outage = Outage(clock or AsyncioClock(), "state store")

    async def _call(self, op: Callable[[], Awaitable[T]]) -> T:
        return await self._outage.call(op, patience=self.patience)

    def _hash(self, group: str) -> str:
        return f"{self._prefix}:state:{group}"

    async def get(self, group: str, key: str) -> JSON | None:
        name = self._hash(group)
        raw = await self._call(lambda: self._redis.hget(name, key))
        return None if raw is None else json.loads(raw)

    async def set(self, group: str, key: str, value: JSON) -> JSON:
        raw = _encode(value)

        async def write() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(self._hash(group), key, raw)
                pipe.sadd(self._index, group)
                await pipe.execute()

        await self._call(write)
        return json.loads(raw)

    async def delete(self, group: str, key: str) -> JSON | None:
        name = self._hash(group)

        async def remove() -> list[Any]:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.hget(name, key)
                pipe.hdel(name, key)
                pipe.hlen(name)
                replies: list[Any] = await pipe.execute()
            return replies

        raw, _, remaining = await self._call(remove)
        if raw is None:
            return None
        if remaining == 0:
            await self._call(lambda: self._unindex_if_empty(group))
        return json.loads(raw)

    async def get_group(self, group: str) -> list[JSON]:
        entries = await self._entries(group)
        return [json.loads(entries[k]) for k in sorted(entries)]

    async def clear(self, group: str) -> None:
        async def remove() -> None:
            async with self._redis.pipeline(transaction=True) as pipe:
                pipe.delete(self._hash(group))
                pipe.srem(self._index, group)
                await pipe.execute()

        await self._call(remove)

    async def items(self, group: str) -> dict[str, JSON]:
        entries = await self._entries(group)
        return {k: json.loads(entries[k]) for k in sorted(entries)}

    async def groups(self) -> list[str]:
        return await self._call(self._groups)

    async def _groups(self) -> list[str]:
        names = sorted(_text(n) for n in await self._redis.smembers(self._index))
        if not names:
            return []
        async with self._redis.pipeline(transaction=False) as pipe:
            for name in names:
                pipe.exists(self._hash(name))
            exists = await pipe.execute()
        return [name for name, found in zip(names, exists, strict=True) if found]

    async def _entries(self, group: str) -> dict[str, bytes | str]:
        name = self._hash(group)
        raw: dict[Any, Any] = await self._call(lambda: self._redis.hgetall(name))
        return {_text(k): v for k, v in raw.items()}

    async def _unindex_if_empty(self, group: str) -> None:
        name = self._hash(group)

        async def unindex(pipe: Pipeline) -> None:
            # After WATCH the pipeline runs commands at once; EXEC fails (and redis-py calls us
            # again) if a concurrent set wrote to the hash in between.
            empty = await pipe.hlen(name) == 0
            pipe.multi()  # type: ignore[no-untyped-call]  # untyped in redis-py
            if empty:
                pipe.srem(self._index, group)

        await self._redis.transaction(unindex, name)
