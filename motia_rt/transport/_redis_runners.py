"""Handing the deliveries a ``RedisStreamsTransport`` read to the engine, at most ``concurrency``
handler runs at once, without a task per delivery.

Accepted deliveries wait in a queue that a few runner tasks drain. One runner starts with the
first delivery; more start (up to ``concurrency``) only if deliveries are still waiting once the
runners had a turn, which is when their handlers awaited something. A handler that never awaits
thus costs no task of its own, and one that does gets ``concurrency`` running side by side.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING

from ..ports import Delivery

if TYPE_CHECKING:
    from .redis_streams import RedisStreamsTransport

__all__ = ["Runners"]

log = logging.getLogger("motia.redis")


class Runners:
    """The queue of accepted deliveries and the tasks running their handlers."""

    def __init__(self, transport: RedisStreamsTransport) -> None:
        self.t = transport
        self.limit = transport.concurrency
        self.tasks: set[asyncio.Task[None]] = set()
        self.stopping = False
        """Set at shutdown: runners finish the delivery in hand and take no more (what is left
        waiting is still held by the transport, which hands it back)."""
        self._waiting: deque[Delivery] = deque()
        self._running = 0
        self._runners = 0
        """Runner tasks that have not returned (``tasks`` drops them a turn later)."""
        self._topping_up = False
        self._room = asyncio.Event()

    @property
    def load(self) -> int:
        """Deliveries handed over and not finished: waiting for a runner or running."""
        return len(self._waiting) + self._running

    def room(self) -> int:
        return self.limit - self.load

    async def wait_room(self) -> None:
        while self.room() <= 0:
            self._room.clear()
            await self._room.wait()

    def submit(self, delivery: Delivery) -> None:
        self._waiting.append(delivery)
        if self._runners == 0:
            self._start_runner()
        if not self._topping_up and self._runners < self.limit:
            # Runs after the runners' next turn: whatever still waits then needs more of them.
            self._topping_up = True
            asyncio.get_running_loop().call_soon(self._top_up)

    def _top_up(self) -> None:
        self._topping_up = False
        if not self.stopping:
            for _ in range(min(len(self._waiting), self.limit - self._runners)):
                self._start_runner()

    def _start_runner(self) -> None:
        task = asyncio.get_running_loop().create_task(self._run(), name="motia-redis:runner")
        self._runners += 1
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self) -> None:
        deliver = self.t.deliver
        assert deliver is not None
        waiting = self._waiting
        try:
            while waiting and not self.stopping:
                delivery = waiting.popleft()
                self._running += 1
                try:
                    await deliver(delivery)
                except Exception as exc:
                    await self._rescue(delivery, exc)
                finally:
                    self._running -= 1
                    self._room.set()
        finally:
            self._runners -= 1

    async def _rescue(self, delivery: Delivery, exc: Exception) -> None:
        # The engine settles every delivery itself; reaching here is a bug, but the message must
        # still not be lost.
        log.exception("delivery to %s failed", delivery.subscription.step, exc_info=exc)
        try:
            await self.t.dead_letter(delivery, f"delivery failed: {type(exc).__name__}: {exc}")
        except Exception:
            log.exception("settling a delivery failed; it stays pending for reclaim")
