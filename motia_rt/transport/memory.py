"""The reference Transport: in-process delivery by a pool of worker tasks.

Due deliveries wait in one ready queue; up to ``concurrency`` worker tasks take them in order and
run them concurrently (fan-out and handler concurrency as with a real queue), without a task per
message. Workers are started on demand: a worker that takes a delivery while others wait, and no
new worker is already on its way, starts one more. Handlers that never wait are run back to back by
one worker; each handler that does wait lets one more worker in, up to ``concurrency``. FIFO subscriptions hold one unsettled delivery per (step, message group), so a message
being retried blocks the ones behind it instead of being overtaken. Delays and retries wait on
loop timers, not on sleeping tasks.

A ``DeliveryPolicy`` passed at construction is the seam for the simulator: it may hold a message's
first delivery back, deliver it more than once, and order the deliveries that fall due together.
Whatever it asks, the transport's own rules still hold: an extra copy is queued inside its FIFO
group like any message, so a group never has two deliveries in flight nor a copy ahead of an
earlier message, and every timer is cancelled by ``close()``.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import deque
from collections.abc import Sequence
from typing import Protocol

from ..ports import Clock, DeadLetter, DeliverFn, Delivery, Message, Subscription

__all__ = ["DeliveryPolicy", "MemoryTransport"]


class DeliveryPolicy(Protocol):
    """How a ``MemoryTransport`` departs from plain in-order delivery (the simulator's faults and
    seed-chosen interleavings). Both hooks run synchronously inside the transport."""

    def first_delivery(self, delivery: Delivery) -> tuple[float, int]:
        """For a message's first delivery to a step: (extra seconds to hold it back, how many
        extra copies to deliver). Called once per delivery of attempt 1 (redrives included)."""
        ...

    def order(self, due: list[Delivery]) -> None:
        """Reorder, in place, the deliveries that fell due in the same loop turn."""
        ...


class MemoryTransport:
    """``motia_rt.ports.Transport`` within one process. Dead letters are kept in memory."""

    def __init__(
        self, clock: Clock, *, concurrency: int = 1000, policy: DeliveryPolicy | None = None
    ) -> None:
        self._clock = clock
        self._policy = policy
        self._due: list[Delivery] = []
        """Deliveries due this loop turn, waiting for the policy to order them."""
        self._held: dict[str, float] = {}
        """receipt -> extra delay of a FIFO delivery held back, applied when it reaches the head."""
        self._concurrency = concurrency
        self._ready: deque[Delivery] = deque()
        self._workers = 0
        self._starting = 0
        """Workers created that have not taken a delivery yet."""
        self._timers: dict[asyncio.TimerHandle, None] = {}
        self._subs: dict[str, list[Subscription]] = {}
        self._deliver: DeliverFn | None = None
        self._receipts = itertools.count(1)
        self._unsettled: dict[str, int] = {}
        """receipt -> the attempt outstanding; a settlement of any other attempt is stale."""
        self._fifo: dict[tuple[str, str], deque[Delivery]] = {}
        self._dead: dict[str, DeadLetter] = {}
        # A dict, not a set: close() cancels in creation order, so shutdown is deterministic.
        self._tasks: dict[asyncio.Task[None], None] = {}
        self._idle: asyncio.Event | None = None

    # -- Transport protocol ------------------------------------------------------------------

    def bind(self, subscriptions: Sequence[Subscription], deliver: DeliverFn) -> None:
        self._subs = {}
        for sub in subscriptions:
            self._subs.setdefault(sub.topic, []).append(sub)
        self._deliver = deliver

    async def start(self) -> None:
        if self._deliver is None:
            raise RuntimeError("bind() the transport to the engine's subscriptions before start()")

    async def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        self._ready.clear()
        self._due.clear()
        self._held.clear()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        # What was in flight is gone with the process; nothing is pending any more.
        self._unsettled.clear()
        self._fifo.clear()
        if self._idle is not None:
            self._idle.set()

    async def publish(self, message: Message) -> None:
        for sub in self._subs.get(message.topic, ()):
            self._enqueue(Delivery(message, sub, 1, self._receipt()))

    async def ack(self, delivery: Delivery) -> None:
        self._settle(delivery)

    async def retry(self, delivery: Delivery, delay: float) -> None:
        if self._current(delivery):
            self._unsettled[delivery.receipt] = delivery.attempt + 1
            self._schedule(delivery.next_attempt(), delay)

    async def dead_letter(self, delivery: Delivery, error: str) -> DeadLetter:
        letter = DeadLetter(f"dl-{delivery.receipt}", delivery, error, self._clock.now())
        if self._current(delivery):
            self._dead[letter.id] = letter
            self._settle(delivery)
        return letter

    async def dead_letters(self, step: str | None = None) -> list[DeadLetter]:
        return [
            d for d in self._dead.values() if step is None or d.delivery.subscription.step == step
        ]

    def held_dead_letters(self) -> list[DeadLetter]:
        """The dead letters, read synchronously (invariants, inspection)."""
        return list(self._dead.values())

    async def redrive(self, dead_letter_id: str) -> Delivery:
        letter = self._dead.pop(dead_letter_id, None)
        if letter is None:
            raise KeyError(f"no dead letter {dead_letter_id!r}; list them with dead_letters()")
        delivery = Delivery(
            letter.delivery.message, letter.delivery.subscription, 1, self._receipt()
        )
        self._enqueue(delivery, delay=0.0)
        return delivery

    def pending(self) -> int:
        return len(self._unsettled)

    async def wait_idle(self) -> None:
        if not self._unsettled:
            return
        if self._idle is None:
            self._idle = asyncio.Event()
        self._idle.clear()
        await self._idle.wait()

    # -- internals -----------------------------------------------------------------------------

    def _receipt(self) -> str:
        return str(next(self._receipts))

    def _enqueue(self, delivery: Delivery, delay: float | None = None) -> None:
        sub = delivery.subscription
        first = sub.delay_seconds if delay is None else delay
        policy = self._policy
        if policy is None or delivery.attempt != 1:
            self._admit(delivery, first, 0.0)
            return
        extra, copies = policy.first_delivery(delivery)
        self._admit(delivery, first, extra)
        for _ in range(copies):
            self._admit(Delivery(delivery.message, sub, 1, self._receipt()), first, 0.0)

    def _admit(self, delivery: Delivery, delay: float, extra: float) -> None:
        """Count ``delivery`` as unsettled and schedule it, or queue it behind its FIFO group."""
        sub = delivery.subscription
        self._unsettled[delivery.receipt] = delivery.attempt
        if sub.fifo:
            queue = self._fifo.setdefault((sub.step, delivery.message.group_id or ""), deque())
            queue.append(delivery)
            if len(queue) > 1:
                if extra:
                    self._held[delivery.receipt] = extra
                return
        self._schedule(delivery, delay + extra)

    def _schedule(self, delivery: Delivery, delay: float) -> None:
        if delay > 0:
            loop = asyncio.get_running_loop()
            timer: asyncio.TimerHandle | None = None

            def due() -> None:
                self._timers.pop(timer, None)  # type: ignore[arg-type]
                self._arrive(delivery)

            timer = loop.call_later(delay, due)
            self._timers[timer] = None
        else:
            self._arrive(delivery)

    def _arrive(self, delivery: Delivery) -> None:
        if self._policy is None:
            self._make_ready(delivery)
            return
        # Deliveries falling due in one loop turn go to the policy together, once they all have.
        self._due.append(delivery)
        if len(self._due) == 1:
            asyncio.get_running_loop().call_soon(self._order_due)

    def _order_due(self) -> None:
        due, self._due = self._due, []
        assert self._policy is not None
        self._policy.order(due)
        for delivery in due:
            self._make_ready(delivery)

    def _make_ready(self, delivery: Delivery) -> None:
        self._ready.append(delivery)
        if not self._starting and self._workers < self._concurrency:
            self._spawn()

    def _spawn(self) -> None:
        # Counted by the workers themselves, not by task done-callbacks: a worker that saw an
        # empty queue has stopped taking work even if its task has not finished yet.
        self._workers += 1
        self._starting += 1
        task = asyncio.get_running_loop().create_task(self._work())
        self._tasks[task] = None
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.pop(task, None)

    async def _work(self) -> None:
        assert self._deliver is not None
        ready = self._ready
        self._starting -= 1
        try:
            while ready:
                delivery = ready.popleft()
                if ready and not self._starting and self._workers < self._concurrency:
                    self._spawn()  # in case this handler waits: someone takes the next one
                try:
                    await self._deliver(delivery)
                except Exception as exc:
                    # The engine settles every delivery itself; reaching here is a bug, but the
                    # message must still not be lost.
                    error = f"delivery failed: {type(exc).__name__}: {exc}"
                    await self.dead_letter(delivery, error)
        finally:
            self._workers -= 1

    def _current(self, delivery: Delivery) -> bool:
        return self._unsettled.get(delivery.receipt) == delivery.attempt

    def _settle(self, delivery: Delivery) -> None:
        if not self._current(delivery):
            return
        del self._unsettled[delivery.receipt]
        sub = delivery.subscription
        key = (sub.step, delivery.message.group_id or "")
        queue = self._fifo.get(key) if sub.fifo else None
        # Only the head of a FIFO group is ever scheduled.
        if queue and queue[0].receipt == delivery.receipt:
            queue.popleft()
            if queue:
                head = queue[0]
                self._schedule(head, sub.delay_seconds + self._held.pop(head.receipt, 0.0))
            else:
                del self._fifo[key]
        if not self._unsettled and self._idle is not None:
            self._idle.set()
