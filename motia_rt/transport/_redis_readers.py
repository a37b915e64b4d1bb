"""The consuming side of ``RedisStreamsTransport``: one task per step reading its group (or, for a
FIFO step, admitting and leasing its message groups), one moving due retries back, one renewing
what this process holds, and the hand-back of unsettled deliveries at close."""

from __future__ import annotations

import asyncio
import itertools
import logging
import uuid
from collections.abc import Coroutine
from typing import TYPE_CHECKING, Any, Literal

from redis.exceptions import ResponseError

from .._redis_outage import RedisUnavailable
from ..ports import Delivery
from ._redis_groups import drop_consumer, tidy
from ._redis_layout import (
    Held,
    cancel,
    decode_entry,
    decode_fifo_head,
    encode_message,
    read_entries,
    text,
    undecodable_message,
    why,
)
from ._redis_runners import Runners
from ._redis_scripts import Scripts

if TYPE_CHECKING:
    from .redis_streams import RedisStreamsTransport

__all__ = ["Readers"]

log = logging.getLogger("motia.redis")


class Readers:
    """The tasks a consuming ``RedisStreamsTransport`` runs, sharing its ``concurrency`` bound."""

    def __init__(self, transport: RedisStreamsTransport) -> None:
        self.t = transport
        self._loops: list[asyncio.Task[None]] = []
        self._runs: dict[asyncio.Task[None], None] = {}
        """Tasks settling deliveries outside the runners (dead letters, deferrals)."""
        self.runners = Runners(transport)
        self._wakers: list[asyncio.Event] = []
        self._serial = itertools.count(1)
        self._stopping = False

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        for step, subs in self.t.by_step.items():
            body = self._fifo_loop(step) if subs[0].fifo else self._read_loop(step)
            self._loops.append(loop.create_task(body, name=f"motia-redis:{step}"))
        if any(not subs[0].fifo for subs in self.t.by_step.values()):
            self._loops.append(loop.create_task(self._mover_loop(), name="motia-redis:delayed"))
        if self.t.by_step:
            self._loops.append(loop.create_task(self._housekeeping(), name="motia-redis:renew"))

    def wake(self) -> None:
        for waker in self._wakers:
            waker.set()

    async def close(self, timeout: float) -> None:
        self._stopping = self.runners.stopping = True
        await cancel(self._loops)
        self._loops.clear()
        runs = [*self._runs, *self.runners.tasks]
        if runs:
            _, unfinished = await asyncio.wait(runs, timeout=timeout)
            await cancel(unfinished)
            if unfinished:
                log.warning("%d handler runs cancelled at shutdown; released", len(unfinished))
        await self.t.acks.drain(timeout=2.0)
        await self._release()

    # -- standard steps: a consumer group over the topic streams and the step's stream -----------

    async def _read_loop(self, step: str) -> None:
        t = self.t
        streams = t.streams_of(step)
        topics = {t.keys.topic(s.topic): s.topic for s in t.by_step[step]}
        visibility = t.by_step[step][0].visibility_timeout
        reclaim_every = min(max(visibility / 4, 0.05), 5.0)
        block_ms = max(1, int(min(t.block, reclaim_every) * 1000))
        next_reclaim, failures = 0.0, 0  # reclaim first: what a crashed predecessor left
        while not self._stopping:
            await self.runners.wait_room()
            try:
                if t.clock.monotonic() >= next_reclaim:
                    next_reclaim = t.clock.monotonic() + reclaim_every
                    for stream in streams:
                        await self._reclaim(step, stream, topics.get(stream, ""), visibility)
                if self.runners.room() <= 0:
                    continue
                # A whole batch even if fewer runners are free: the next deliveries are at hand
                # when the running ones finish (held, and renewed, meanwhile).
                acks = t.acks.take()
                if acks:
                    reply = await self._ack_and_read(step, streams, acks)
                else:
                    reply = await t.client.xreadgroup(
                        step, t.consumer, dict.fromkeys(streams, ">"),
                        count=t.batch, block=block_ms,
                    )  # fmt: skip
                t.recovered()
                failures = 0
                for stream, entries in read_entries(reply):
                    for entry_id, fields in entries:
                        self._accept(
                            step, stream, topics.get(stream, ""), text(entry_id), fields, 1
                        )
            except Exception as exc:
                failures += 1
                await self._trouble(step, exc, failures)

    async def _ack_and_read(self, step: str, streams: list[str], acks: list[Held]) -> Any:
        """Send the queued ``acks`` and read, in one round trip. The read does not block, so
        that the acks are confirmed at once (an empty reply: the next read blocks)."""
        t = self.t
        try:
            async with t.client.pipeline(transaction=t.acks.atomic(acks)) as pipe:
                t.acks.commands(pipe, acks)
                pipe.xreadgroup(step, t.consumer, dict.fromkeys(streams, ">"), count=t.batch)
                *acked, reply = await pipe.execute(raise_on_error=False)
        except BaseException:
            t.acks.give_back(acks)
            raise
        t.acks.sent(acks, acked)
        if isinstance(reply, Exception):
            raise reply
        return reply

    async def _reclaim(self, step: str, stream: str, topic: str, visibility: float) -> None:
        t, start = self.t, "0-0"
        while self.runners.room() > 0:
            count = min(t.batch, self.runners.room())
            reply = await t.client.xautoclaim(
                stream, step, t.consumer, int(visibility * 1000), start, count=count
            )
            start = text(reply[0])
            claimed = [(text(i), f) for i, f in reply[1] if f is not None]
            if claimed:
                async with t.client.pipeline(transaction=False) as pipe:
                    for entry_id, _ in claimed:
                        pipe.xpending_range(stream, step, entry_id, entry_id, 1)
                    counts = await pipe.execute()
                log.info(
                    "consumer %s reclaimed %d deliveries of %s", t.consumer, len(claimed), step
                )
                for (entry_id, fields), info in zip(claimed, counts, strict=True):
                    times = int(info[0]["times_delivered"]) if info else 2
                    self._accept(step, stream, topic, entry_id, fields, times)
            if start == "0-0":
                return

    def _accept(
        self, step: str, stream: str, topic: str, entry_id: str, fields: Any, times: int
    ) -> None:
        t = self.t
        receipt = f"{stream}/{entry_id}#{next(self._serial)}"
        problem, raw = None, None
        try:
            message, base, raw = decode_entry(fields, topic)
            sub = t.subscription(step, message.topic)
        except Exception as exc:  # MalformedEntry, or anything: this entry only, never the batch
            sub = t.subscription(step, topic or t.by_step[step][0].topic)
            message = undecodable_message(sub.topic, entry_id, fields, t.clock.now())
            problem = f"undecodable entry {entry_id} in {stream}: {why(exc)}"
            base, raw = 1, None
        kind: Literal["topic", "step"] = "topic" if topic else "step"
        delivery = Delivery(message, sub, base + times - 1, receipt)
        held = Held(delivery, kind, stream, entry_id, t.clock.monotonic(), problem, raw)
        due = message.emitted_at + sub.delay_seconds
        first = problem is None and kind == "topic" and base == times == 1
        if sub.delay_seconds and first and due > t.clock.now():
            # A step's delaySeconds: park the first delivery in the delayed set until it is due.
            t.hold(held)
            self._spawn(self._defer(held, due))
            return
        self._start(held, times)

    # -- FIFO steps: admit entries into per-group queues, lease ready groups ---------------------

    async def _fifo_loop(self, step: str) -> None:
        t = self.t
        subs = t.by_step[step]
        keys = [t.keys.fifo(step, p) for p in ("ready", "leased", "leases", "tries")]
        queues = t.keys.fifo(step, "q:")
        waker = self._waker()
        failures = 0
        while not self._stopping:
            waker.clear()
            wait = t.poll_interval
            try:
                now = t.clock.now()
                for sub in subs:
                    stream = t.keys.topic(sub.topic)
                    admit = [stream, t.keys.fifo_cursor(step, sub.topic), keys[0], keys[2]]
                    args = [queues, t.batch, repr(now + sub.delay_seconds)]
                    while await Scripts.fifo_admit(t.client, admit, args) >= t.batch:
                        pass
                room = self.runners.room()
                if room > 0:
                    lease_until = repr(now + subs[0].visibility_timeout)
                    take = [queues, repr(now), min(room, t.batch), lease_until, uuid.uuid4().hex]
                    *rows, expired, earliest = await Scripts.fifo_take(t.client, keys, take)
                    if int(expired):
                        log.info("consumer %s took over %s expired FIFO leases of %s",
                                 t.consumer, int(expired), step)  # fmt: skip
                    for i in range(0, len(rows), 4):
                        group, token, tries, head = (text(v) for v in rows[i : i + 4])
                        self._accept_fifo(step, group, token, int(tries), head)
                    if earliest:
                        wait = min(wait, max(0.0, float(text(earliest)) - t.clock.now()))
                t.recovered()
                failures = 0
            except Exception as exc:
                failures += 1
                await self._trouble(step, exc, failures)
                continue
            await self._sleep(waker, wait)

    def _accept_fifo(self, step: str, group: str, token: str, tries: int, head: str) -> None:
        t = self.t
        receipt = f"{t.keys.fifo(step, 'q:')}{group}/{token}#{next(self._serial)}"
        sub = t.by_step[step][0]
        problem, raw = None, None
        try:
            topics = {s.topic for s in t.by_step[step]}
            message, base, raw = decode_fifo_head(head, group, topics)
            sub = t.subscription(step, message.topic)
        except Exception as exc:  # MalformedEntry, or anything else: this entry only
            message = undecodable_message(
                sub.topic, f"fifo-{group}", {"element": head}, t.clock.now()
            )
            problem = f"undecodable FIFO entry in group {group!r} of {step}: {why(exc)}"
            base, raw = 1, None
        delivery = Delivery(message, sub, base + tries - 1, receipt)
        held = Held(delivery, "fifo", group, token, t.clock.monotonic(), problem, raw)
        self._start(held, tries)

    # -- handing deliveries to the engine --------------------------------------------------------

    def _start(self, held: Held, times: int) -> None:
        """Hand ``held`` to the engine (``times``: how often this copy was handed out)."""
        t = self.t
        if held.problem is None and times > t.max_deliveries:
            held.problem = (
                f"handed out {times} times without being settled "
                "(its consumer crashed or hung every time)"
            )
        t.hold(held)
        if held.problem is not None:
            log.error("dead-lettering for %s: %s", held.delivery.subscription.step, held.problem)
            self._spawn(t.dead_letter(held.delivery, held.problem))
            return
        self.runners.submit(held.delivery)

    async def _defer(self, held: Held, due: float) -> None:
        t = self.t
        if t.begin_settle(held.delivery) is not None:
            try:
                await t.requeue(held, held.delivery.attempt, due)
            finally:
                t.end_settle()

    def _spawn(self, body: Coroutine[Any, Any, object]) -> None:
        task = asyncio.get_running_loop().create_task(self._quietly(body))
        self._runs[task] = None
        task.add_done_callback(self._runs.pop)

    @staticmethod
    async def _quietly(body: Coroutine[Any, Any, object]) -> None:
        try:
            await body
        except Exception:
            # Only an unreachable Redis with patience used up gets here: the delivery stays
            # pending in Redis and is reclaimed after its visibility timeout.
            log.exception("settling a delivery failed; it stays pending for reclaim")

    # -- delayed retries, renewals, trouble ------------------------------------------------------

    async def _mover_loop(self) -> None:
        t = self.t
        steps = [step for step, subs in t.by_step.items() if not subs[0].fifo]
        waker = self._waker()
        failures = 0
        while not self._stopping:
            waker.clear()
            wait = max(t.poll_interval, 0.5)  # retries scheduled by other processes
            try:
                now = t.clock.now()
                for step in steps:
                    keys = [t.keys.delayed(step), t.keys.step(step)]
                    while await Scripts.move_due(t.client, keys, [repr(now), 100]) >= 100:
                        pass
                async with t.client.pipeline(transaction=False) as pipe:
                    for step in steps:
                        pipe.zrange(t.keys.delayed(step), 0, 0, withscores=True)
                    heads = await pipe.execute()
                for head in heads:
                    if head:
                        wait = min(wait, max(0.0, float(head[0][1]) - t.clock.now()))
                t.recovered()
                failures = 0
            except Exception as exc:
                failures += 1
                await self._trouble("delayed retries", exc, failures)
                continue
            await self._sleep(waker, wait)

    async def _housekeeping(self) -> None:
        """Renew what this process holds (every third of its visibility timeout) and, every
        ``trim_interval``, trim handled entries and forget the names of long-gone consumers."""
        t = self.t
        shortest = min(s.visibility_timeout for subs in t.by_step.values() for s in subs)
        tick = min(max(shortest / 3, 0.05), 10.0, t.trim_interval or 10.0)
        next_trim = t.clock.monotonic() + (t.trim_interval or 0)
        while not self._stopping:
            await t.clock.sleep(tick)
            for held in list(t.held.values()):
                visibility = held.delivery.subscription.visibility_timeout
                if t.clock.monotonic() - held.touched >= visibility / 3:
                    held.touched = t.clock.monotonic()
                    await self._renew(held, visibility)
            if t.trim_interval is not None and t.clock.monotonic() >= next_trim:
                next_trim = t.clock.monotonic() + t.trim_interval
                try:
                    await tidy(t.client, t.keys, t.by_step, idle_after=max(60.0, 10 * shortest))
                except Exception as exc:  # next time, then
                    log.debug("could not tidy up: %s", exc)

    async def _renew(self, held: Held, visibility: float) -> None:
        t, step = self.t, held.delivery.subscription.step
        try:
            if held.kind == "fifo":
                keys = [t.keys.fifo(step, "leased"), t.keys.fifo(step, "leases")]
                args = [held.where, held.ref, repr(t.clock.now() + visibility)]
                await Scripts.fifo_touch(t.client, keys, args)
            else:
                await Scripts.touch(t.client, [held.where], [step, held.ref, t.consumer])
        except Exception as exc:  # the outage is reported by the reading loops
            log.debug("could not renew %s: %s", held.delivery.receipt, exc)

    async def _trouble(self, where: str, exc: Exception, failures: int) -> None:
        """Whatever goes wrong, a consuming loop reports it and carries on after a backoff."""
        t = self.t
        if isinstance(exc, RedisUnavailable):
            await t.outage(exc, failures)
        elif isinstance(exc, ResponseError) and "NOGROUP" in str(exc):
            log.warning("consumer group of %s is gone (Redis lost its data?); recreating", where)
            await t.call(t.ensure_groups)
        else:
            log.exception("unexpected error while consuming for %s; retrying", where)
            await t.clock.sleep(min(5.0, 0.1 * 2 ** min(failures, 6)))

    def _waker(self) -> asyncio.Event:
        waker = asyncio.Event()
        self._wakers.append(waker)
        return waker

    async def _sleep(self, waker: asyncio.Event, seconds: float) -> None:
        try:
            async with asyncio.timeout(seconds):
                await waker.wait()
        except TimeoutError:
            pass

    async def _release(self) -> None:
        """Hand what this process still holds back to its step at the same attempt, so another
        worker takes it now instead of after the visibility timeout. If Redis is unreachable it
        stays pending (or leased) and is reclaimed later: nothing is lost either way."""
        t = self.t
        for held in list(t.held.values()):
            if held.problem is not None:
                continue  # left pending: reclaimed and dead-lettered later, fields intact
            if t.begin_settle(held.delivery) is None:
                continue
            delivery = held.delivery
            try:
                if held.kind == "fifo":
                    await t.fifo_settle(held, "release", t.clock.now(), patience=2.0)
                else:
                    await t.call(lambda held=held: self._release_entry(held), patience=2.0)  # type: ignore[misc]
            except Exception as exc:
                log.warning("left %s pending for reclaim: %s", delivery.receipt, exc)
            finally:
                t.end_settle()
        t.held.clear()
        try:
            await drop_consumer(t.client, t.keys, t.by_step, t.consumer)
        except Exception as exc:
            log.debug("kept consumer %s: %s", t.consumer, exc)

    async def _release_entry(self, held: Held) -> Any:
        t, delivery = self.t, held.delivery
        step = delivery.subscription.step
        keys = [held.where, t.keys.step(step)]
        message = text(held.raw) if held.raw is not None else encode_message(delivery.message)
        args = [step, held.ref, t.consumer, delivery.attempt, message,
                "1" if held.kind == "step" else "0"]  # fmt: skip
        return await Scripts.release(t.client, keys, args)
