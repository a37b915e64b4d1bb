"""Transport on Redis Streams: several processes on several machines share the work, at least once.

Needs the ``redis`` extra. Layout for ``prefix="motia"`` (see ``docs/deployment.md``):

- ``motia:topic:{topic}``: a stream per topic; each standard subscribing step is a consumer group
  on it (created at ``$`` by every process that binds the step, publishers included, so nothing
  published after the first process started is missed); consumers are named ``host:pid:random``;
- ``motia:step:{step}``: a stream per step, read by the same group, holding copies meant for that
  step only: retries (moved from ``motia:delayed:{step}``, a ZSET scored by not-before time),
  redriven dead letters and deliveries released by a process shutting down;
- ``motia:dlq:{step}``: dead letters, with the error, attempt and subscription;
- ``motia:fifo:{step}:*``: FIFO steps (see ``_redis_scripts``): entries are admitted in stream
  order into one queue per message group; a worker leases a group, handles its head, and only
  settling the head (ack, dead letter) lets the next one go, across all workers.

Every settlement is one atomic step (a command, a MULTI/EXEC, or a Lua script from
``_redis_scripts``), so a crash between two commands never loses a message. Acks of standard
steps are queued and sent together, one round trip for all those queued meanwhile
(``_redis_acks``). A delivery whose consumer died is reclaimed (XAUTOCLAIM, or an expired FIFO
lease) after the step's visibility timeout; a live consumer renews what it holds every third of
that timeout, so a slow handler is not reclaimed while it runs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import socket
import uuid
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from .._redis_outage import Outage, RedisUnavailable
from ..ports import Clock, DeadLetter, DeliverFn, Delivery, Message, Subscription
from ._redis_acks import AckBatcher
from ._redis_groups import (
    BacklogGauge,
    backlog,
    ensure_groups,
    read_dead_letters,
    redrive,
    streams_of,
)
from ._redis_layout import (
    Held,
    Keys,
    dead_letter_fields,
    encode_message,
    entry_fields,
    parse_dead_letter_id,
    text,
)
from ._redis_readers import Readers
from ._redis_scripts import Scripts

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = ["RedisStreamsTransport", "RedisUnavailable", "default_consumer_name"]

log = logging.getLogger("motia.redis")
T = TypeVar("T")


def default_consumer_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class RedisStreamsTransport:
    """``motia_rt.ports.Transport`` on Redis Streams, shared by every process with the same prefix.

    Parameters: ``client`` a ``redis.asyncio.Redis`` (bytes or decoded replies); ``prefix`` of
    every key; ``clock`` for timestamps and delays; ``consumer`` this process's name in the
    groups (default ``host:pid:random``); ``consume=False`` for a process that only publishes
    (``motia-rt start``): it creates the groups but reads nothing; ``concurrency`` bounds the
    handler runs in flight; ``batch`` the entries read at once; ``block`` how long a read waits
    for new entries; ``shutdown_timeout`` how long ``close()`` lets running handlers finish;
    ``max_deliveries`` how often an entry may be handed out without ever being settled (its
    consumer crashed or hung each time) before it is dead-lettered; ``publish_patience`` how long
    ``publish`` retries while Redis is unreachable before it raises ``BackendUnavailable``;
    ``record_limit`` caps the stream of a topic nobody here subscribes to; ``trim_interval`` how
    often a consuming process trims handled entries from its topics' streams (None: never).

    Guarantees: at least once (a message is acked only after its handler settled it; a crash
    anywhere, even between ``ack`` and the batched XACK, leaves it pending, delayed or queued,
    never gone), retries survive any process
    dying, FIFO order per (step, message group) across all workers. While Redis is unreachable
    every loop logs it once, retries with backoff and logs the recovery.
    """

    def __init__(
        self,
        client: Redis,
        *,
        prefix: str = "motia",
        clock: Clock,
        consumer: str | None = None,
        consume: bool = True,
        concurrency: int = 16,
        batch: int = 32,
        block: float = 1.0,
        poll_interval: float = 0.05,
        shutdown_timeout: float = 10.0,
        max_deliveries: int = 20,
        publish_patience: float = 10.0,
        record_limit: int = 10_000,
        trim_interval: float | None = 60.0,
    ) -> None:
        if concurrency < 1 or batch < 1:
            raise ValueError("concurrency and batch must be at least 1")
        self.client = client
        self.keys = Keys(prefix)
        self.clock = clock
        self.consumer = consumer or default_consumer_name()
        self.consume = consume
        self.concurrency = concurrency
        self.batch = batch
        self.block = block
        self.poll_interval = poll_interval
        self.shutdown_timeout = shutdown_timeout
        self.max_deliveries = max_deliveries
        self.publish_patience = publish_patience
        self.record_limit = record_limit
        self.trim_interval = trim_interval
        self.by_topic: dict[str, list[Subscription]] = {}
        self.by_step: dict[str, list[Subscription]] = {}
        self.deliver: DeliverFn | None = None
        self.held: dict[str, Held] = {}
        """receipt -> a delivery this process handed out and nobody settled yet."""
        self._settling = 0
        self._expected: dict[tuple[str, str], float] = {}
        """(step, message id) this process published or retried, not yet seen delivered."""
        self._version = 0
        self._changed = asyncio.Event()
        self.acks = AckBatcher(self)
        self._readers = Readers(self)
        self._started = False
        self._closed = False
        self._outage = Outage(clock, f"consumer {self.consumer}")
        self.in_redis = BacklogGauge(self.backlog, clock, poll_interval)
        """What Redis last reported as not settled for the bound steps, whoever holds it."""

    # -- Transport protocol ----------------------------------------------------------------------

    def bind(self, subscriptions: Sequence[Subscription], deliver: DeliverFn) -> None:
        self.by_topic, self.by_step = {}, {}
        for sub in subscriptions:
            self.by_topic.setdefault(sub.topic, []).append(sub)
            self.by_step.setdefault(sub.step, []).append(sub)
        self.deliver = deliver

    async def start(self) -> None:
        if self.deliver is None:
            raise RuntimeError("bind() the transport to the engine's subscriptions before start()")
        if self._started:
            return
        self._started = True
        await self.call(self.ensure_groups)
        added = self.in_redis.mark()
        self.in_redis.record(await self.call(self.backlog), added)
        if self.consume:
            self._readers.start()

    async def close(self) -> None:
        """Stop reading, let running handlers finish (``shutdown_timeout``), then hand back what
        this process still holds so another worker takes it at once. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        await self.in_redis.close()
        if self._started and self.consume:
            await self._readers.close(self.shutdown_timeout)
        self._expected.clear()
        self._bump()

    async def publish(self, message: Message) -> None:
        subs = self.by_topic.get(message.topic, ())
        # A topic nobody subscribes to is only recorded, in a stream capped at record_limit.
        maxlen = None if subs else self.record_limit
        stream, fields = self.keys.topic(message.topic), entry_fields(message, 1)
        await self.call(
            lambda: self.client.xadd(stream, fields, maxlen=maxlen), patience=self.publish_patience
        )
        if subs:
            self.in_redis.adding()
        if self.consume:
            for sub in subs:
                self._expect(sub.step, message.id)
        self._readers.wake()

    async def ack(self, delivery: Delivery) -> None:
        held = self.begin_settle(delivery)
        if held is None:
            return
        if held.kind != "fifo":
            self.acks.add(held)  # sent with the others queued now; settled once Redis has it
            return
        try:
            await self.fifo_settle(held, "ack", self._fifo_ready_at(held))
        finally:
            self.end_settle()

    async def retry(self, delivery: Delivery, delay: float) -> None:
        held = self.begin_settle(delivery)
        if held is None:
            return
        try:
            await self.requeue(held, delivery.attempt + 1, self.clock.now() + max(0.0, delay))
        finally:
            self.end_settle()

    async def dead_letter(self, delivery: Delivery, error: str) -> DeadLetter:
        now = self.clock.now()
        step = delivery.subscription.step
        held = self.begin_settle(delivery)
        if held is None:
            return DeadLetter(f"{step}:stale-{delivery.receipt}", delivery, error, now)
        fields = dead_letter_fields(delivery, error, now, held.raw)
        try:
            if held.kind == "fifo":
                reply = await self.fifo_settle(held, "dead", self._fifo_ready_at(held), fields)
            else:
                keys = [held.where, self.keys.dlq(step), self.keys.dlq_index]
                args = [step, held.ref, step, "1" if held.kind == "step" else "0", *fields]
                reply = await self.call(lambda: Scripts.dead_letter(self.client, keys, args))
        finally:
            self.end_settle()
        ref = text(reply) if isinstance(reply, bytes | str) else f"stale-{delivery.receipt}"
        return DeadLetter(f"{step}:{ref}", delivery, error, now)

    async def dead_letters(self, step: str | None = None) -> list[DeadLetter]:
        return await self.call(lambda: read_dead_letters(self.client, self.keys, step))

    async def redrive(self, dead_letter_id: str) -> Delivery:
        step, entry_id = parse_dead_letter_id(dead_letter_id)
        delivery = await self.call(
            lambda: redrive(self.client, self.keys, step, entry_id, self.clock.now())
        )
        self.in_redis.adding()
        if self.consume and step in self.by_step:
            self._expect(step, delivery.message.id)
        self._readers.wake()
        return delivery

    def pending(self) -> int:
        """Deliveries not settled yet for the bound steps, as far as this process can tell at
        once: those it holds unsettled or published and has not seen delivered, or, if more,
        what Redis last reported for those steps whoever holds it (pending in the groups, also
        deliveries held by a worker that died and not reclaimed yet, scheduled retries, FIFO
        queues, unread entries). Asking refreshes that figure in the background, at most every
        ``poll_interval``; work this process adds counts at once. Once closed: only its own."""
        local = len(self.held) + self._settling + len(self._expected)
        if self._closed or not self._started:
            return local
        return max(local, self.in_redis.read())

    async def wait_idle(self) -> None:
        """Return once this process holds nothing and Redis has no backlog for the bound steps:
        nothing unread, pending, delayed or queued in FIFO groups (whoever is consuming it)."""
        while True:
            if self.held or self._settling:
                await self._changes(None)
                continue
            version, added = self._version, self.in_redis.mark()
            backlog = await self.call(self.backlog)
            self.in_redis.record(backlog, added)
            if backlog == 0 and version == self._version and not self.held and not self._settling:
                self._expected.clear()
                return
            await self._changes(self.poll_interval)

    # -- inspection and helpers shared with the readers ------------------------------------------

    async def backlog(self) -> int:
        """Entries in Redis not settled yet for the bound steps (unread ones count at most one per
        stream), whoever consumes them: ``wait_idle`` waits for 0."""
        return await backlog(self.client, self.keys, self.by_step)

    def streams_of(self, step: str) -> list[str]:
        return streams_of(self.keys, self.by_step[step])

    def subscription(self, step: str, topic: str) -> Subscription:
        """The subscription of ``step`` to ``topic`` (a copy's topic may no longer be bound)."""
        for sub in self.by_step[step]:
            if sub.topic == topic:
                return sub
        first = self.by_step[step][0]
        return Subscription(step, topic, first.fifo, first.delay_seconds, first.visibility_timeout)

    async def ensure_groups(self) -> None:
        await ensure_groups(self.client, self.keys, self.by_step)

    async def call(self, op: Callable[[], Awaitable[T]], *, patience: float | None = None) -> T:
        """``op()``, retried with backoff while Redis is unreachable (see ``Outage.call``)."""
        return await self._outage.call(op, patience=patience)

    async def outage(self, exc: BaseException, failures: int) -> None:
        """Report an unreachable Redis (once per outage) and sleep the backoff for ``failures``."""
        await self._outage.backoff(exc, failures)

    def recovered(self) -> None:
        self._outage.recovered()

    def hold(self, held: Held) -> None:
        self.held[held.delivery.receipt] = held
        self._expected.pop((held.delivery.subscription.step, held.delivery.message.id), None)
        self._bump()

    async def requeue(self, held: Held, attempt: int, not_before: float) -> None:
        """Settle ``held`` by delivering its message again as ``attempt`` from ``not_before``."""
        step = held.delivery.subscription.step
        if held.kind == "fifo":
            await self.fifo_settle(held, "retry", not_before)
        else:
            raw = held.raw
            message = text(raw) if raw is not None else encode_message(held.delivery.message)
            member = f"{uuid.uuid4().hex}:{attempt}:{message}"
            keys = [held.where, self.keys.delayed(step)]
            args = [step, held.ref, repr(not_before), member, "1" if held.kind == "step" else "0"]
            await self.call(lambda: Scripts.schedule(self.client, keys, args))
        self.in_redis.adding()
        if self.consume and step in self.by_step:
            self._expect(step, held.delivery.message.id)
        self._readers.wake()

    # -- internals -------------------------------------------------------------------------------

    def _fifo_ready_at(self, held: Held) -> float:
        return self.clock.now() + held.delivery.subscription.delay_seconds

    async def fifo_settle(
        self,
        held: Held,
        mode: str,
        ready_at: float,
        fields: Sequence[str] = (),
        *,
        patience: float | None = None,
    ) -> Any:
        """Settle the head of a leased FIFO group (mode ack, retry, release or dead)."""
        step = held.delivery.subscription.step
        keys = [self.keys.fifo(step, p) for p in ("ready", "leased", "leases", "tries")]
        keys += [self.keys.dlq(step), self.keys.dlq_index]
        queues = self.keys.fifo(step, "q:")
        args = [queues, held.where, held.ref, mode, repr(ready_at), step, *fields]
        reply = await self.call(
            lambda: Scripts.fifo_settle(self.client, keys, args), patience=patience
        )
        self._readers.wake()
        return reply

    def begin_settle(self, delivery: Delivery) -> Held | None:
        held = self.held.pop(delivery.receipt, None)
        if held is not None:
            self._settling += 1
        return held

    def end_settle(self, settled: int = 1) -> None:
        self._settling -= settled
        self._bump()

    def _expect(self, step: str, message_id: str) -> None:
        now = self.clock.monotonic()
        self._expected[(step, message_id)] = now
        # Another worker may take it; forget it once any step could have reclaimed it twice.
        horizon = now - 2 * max(s.visibility_timeout for s in self.by_step[step])
        while self._expected:
            key, since = next(iter(self._expected.items()))
            if since >= horizon:
                break
            del self._expected[key]
        self._bump()

    def _bump(self) -> None:
        self._version += 1
        self._changed.set()

    async def _changes(self, timeout: float | None) -> None:
        self._changed.clear()
        try:
            async with asyncio.timeout(timeout):
                await self._changed.wait()
        except TimeoutError:
            pass
