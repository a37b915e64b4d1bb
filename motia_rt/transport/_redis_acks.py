"""Acks of standard deliveries, sent to Redis together instead of one round trip each.

``ack`` only queues the entry. A reader about to read takes the queue along in the same round trip
(``Readers``); otherwise one task sends it: one XACK per stream, and XDEL for a step's own
stream, in one MULTI. Whatever is queued while that round trip is out goes in the next one. Under
load one round trip carries a whole read batch; a lone ack goes at once, nothing waits on a timer.

Nothing is acked before its handler succeeded: only ``RedisStreamsTransport.ack`` queues. A
crash, or an unreachable Redis at shutdown, before a queued ack reached Redis leaves the entry
pending in its group: it is reclaimed and delivered again (at least once), never lost. Until
Redis confirmed it an entry counts in ``pending()``, so ``wait_idle`` waits for it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from functools import partial
from typing import TYPE_CHECKING, Any

from ._redis_layout import Held, cancel

if TYPE_CHECKING:
    from redis.asyncio.client import Pipeline

    from .redis_streams import RedisStreamsTransport

__all__ = ["AckBatcher"]

log = logging.getLogger("motia.redis")


class AckBatcher:
    """The acks a ``RedisStreamsTransport`` has queued and Redis has not confirmed yet."""

    def __init__(self, transport: RedisStreamsTransport) -> None:
        self.t = transport
        self._queued: list[Held] = []
        self._flusher: asyncio.Task[None] | None = None

    def add(self, held: Held) -> None:
        """Queue the ack of ``held`` (already taken out of ``transport.held``, counted settling)."""
        self._queued.append(held)
        if self._flusher is None or self._flusher.done():
            flusher = asyncio.get_running_loop().create_task(self._flush(), name="motia-redis:acks")
            flusher.add_done_callback(self._flushed)
            self._flusher = flusher

    def take(self) -> list[Held]:
        """The queued acks, for a reader to send with its read; it hands them to ``sent`` once
        the round trip returned, or back to ``give_back`` if it failed."""
        batch, self._queued = self._queued, []
        return batch

    def give_back(self, batch: list[Held]) -> None:
        for held in batch:
            self.add(held)

    def sent(self, batch: Sequence[Held], replies: Sequence[Any]) -> None:
        """``batch`` went out in one round trip with these replies to ``commands``."""
        failed = [r for r in replies if isinstance(r, Exception)]
        if failed:
            log.error("acking %d deliveries failed (%s); redelivered later", len(batch), failed[0])
        self.t.end_settle(len(batch))

    @staticmethod
    def commands(pipe: Pipeline, batch: Sequence[Held]) -> None:
        """Queue on ``pipe`` the commands that ack ``batch``; a step's own stream holds copies
        meant for one step, so those entries are deleted too (``pipe`` must then be a MULTI)."""
        by_stream: dict[tuple[str, str, bool], list[str]] = {}
        for held in batch:
            key = (held.where, held.delivery.subscription.step, held.kind == "step")
            by_stream.setdefault(key, []).append(held.ref)
        for (stream, group, delete), ids in by_stream.items():
            pipe.xack(stream, group, *ids)
            if delete:
                pipe.xdel(stream, *ids)

    @staticmethod
    def atomic(batch: Sequence[Held]) -> bool:
        """Whether acking ``batch`` takes a MULTI (XACK and XDEL of a step's own stream)."""
        return any(held.kind == "step" for held in batch)

    async def drain(self, timeout: float) -> None:
        """Wait up to ``timeout`` for the queued acks to reach Redis; what has not by then stays
        pending in Redis and is redelivered after its visibility timeout."""
        if self._flusher is None:
            return
        _, late = await asyncio.wait({self._flusher}, timeout=timeout)
        if late:
            log.warning("Redis did not take %d acks at shutdown; redelivered later", self.queued)
            await cancel(late)

    @property
    def queued(self) -> int:
        return len(self._queued)

    async def _flush(self) -> None:
        # One turn of the loop first: a reader about to read takes them along instead.
        await asyncio.sleep(0)
        while self._queued:
            batch = self.take()
            replies: list[Any] = []
            try:
                replies = await self.t.call(partial(self._send, batch))
            except Exception as exc:
                replies = [exc]
            finally:
                self.sent(batch, replies)

    def _flushed(self, flusher: asyncio.Task[None]) -> None:
        if flusher is not self._flusher:
            return  # a newer one took over
        self._flusher = None
        if flusher.cancelled() and self._queued:  # at shutdown: they stay pending in Redis
            self.t.end_settle(len(self._queued))
            self._queued = []

    async def _send(self, batch: list[Held]) -> list[Any]:
        async with self.t.client.pipeline(transaction=self.atomic(batch)) as pipe:
            self.commands(pipe, batch)
            return await pipe.execute(raise_on_error=False)
