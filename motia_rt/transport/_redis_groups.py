"""Consumer groups and what is waiting in Redis: creating the groups a process binds, measuring
the backlog ``wait_idle`` waits on, reading and redriving the dead-letter streams, and tidying
up (trimming handled entries, forgetting consumers that are gone)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import ResponseError
from redis.exceptions import TimeoutError as RedisTimeoutError

from ..ports import Clock, DeadLetter, Delivery, Subscription
from ._redis_layout import (
    UNDECODABLE,
    Keys,
    MalformedEntry,
    cancel,
    decode_dead_letter,
    encode_message,
    text,
)
from ._redis_scripts import Scripts

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "BacklogGauge",
    "backlog",
    "create_group",
    "drop_consumer",
    "ensure_groups",
    "read_dead_letters",
    "redrive",
    "streams_of",
    "tidy",
    "trim_topic",
]

log = logging.getLogger("motia.redis")

BySteps = Mapping[str, Sequence[Subscription]]


def streams_of(keys: Keys, subs: Sequence[Subscription]) -> list[str]:
    """The streams a standard step's group reads: its topics' streams, then its own."""
    return [*(keys.topic(s.topic) for s in subs), keys.step(subs[0].step)]


async def create_group(client: Redis, stream: str, group: str, start: str) -> None:
    try:
        await client.xgroup_create(stream, group, start, mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


async def ensure_groups(client: Redis, keys: Keys, by_step: BySteps) -> None:
    """Create what the bound steps read, if missing. Topic streams start at ``$`` (a step added
    later does not replay history); a step's own stream at ``0`` (everything in it is for it)."""
    for step, subs in by_step.items():
        if subs[0].fifo:
            for sub in subs:
                topic = sub.topic
                cursor = [
                    keys.topic(topic),
                    keys.fifo_cursor(step, topic),
                    keys.fifo_cursors(topic),
                ]
                await Scripts.fifo_init(client, cursor, [])
            continue
        for sub in subs:
            await create_group(client, keys.topic(sub.topic), step, "$")
        await create_group(client, keys.step(step), step, "0")


async def backlog(client: Redis, keys: Keys, by_step: BySteps) -> int:
    """Entries not settled yet for the bound steps: pending in their groups, unread (at most one
    counted per stream), delayed, queued or leased in FIFO groups."""
    counted: list[str] = []  # per pipelined command: "count", "cursor" or the group it lists
    streams: list[str] = []
    async with client.pipeline(transaction=False) as pipe:
        for step, subs in by_step.items():
            if subs[0].fifo:
                for sub in subs:
                    streams.append(keys.topic(sub.topic))
                    counted.append("cursor")
                    pipe.get(keys.fifo_cursor(step, sub.topic))
                pipe.zcard(keys.fifo(step, "ready"))
                pipe.zcard(keys.fifo(step, "leased"))
                counted += ["count", "count"]
                continue
            for stream in streams_of(keys, subs):
                streams.append(stream)
                counted.append(step)
                pipe.xinfo_groups(stream)
            pipe.zcard(keys.delayed(step))
            counted.append("count")
        replies = await pipe.execute(raise_on_error=False)
    total, after, stream_of = 0, [], iter(streams)
    for what, reply in zip(counted, replies, strict=True):
        if isinstance(reply, RedisConnectionError | RedisTimeoutError):
            raise reply
        if what == "count":
            total += int(reply)
            continue
        stream = next(stream_of)
        if what == "cursor":
            after.append((stream, text(reply) if reply is not None else "0-0"))
            continue
        for group in reply if isinstance(reply, list) else ():  # no stream: nothing in it
            if text(group["name"]) == what:
                total += int(group["pending"])
                after.append((stream, text(group["last-delivered-id"])))
    if after:
        async with client.pipeline(transaction=False) as pipe:
            for stream, last in after:
                pipe.xrange(stream, f"({last}", "+", count=1)
            total += sum(len(r) for r in await pipe.execute())
    return total


class BacklogGauge:
    """The last ``backlog()`` figure, for ``pending()``, which cannot wait for Redis: reading it
    starts a new measurement in the background (at most every ``every`` seconds), and work this
    process adds counts at once, also against a measurement that was under way."""

    def __init__(self, measure: Callable[[], Awaitable[int]], clock: Clock, every: float) -> None:
        self._measure = measure
        self._clock = clock
        self._every = every
        self._figure = 0
        self._at = float("-inf")
        self._added = 0
        self._task: asyncio.Task[None] | None = None

    def mark(self) -> int:
        """Take before measuring, pass to ``record`` after."""
        return self._added

    def adding(self) -> None:
        """This process just added work to Redis (published, scheduled a retry, redrove)."""
        self._added += 1
        self._figure = max(self._figure, 1)

    def record(self, figure: int, mark: int) -> None:
        self._at = self._clock.monotonic()
        self._figure = figure if mark == self._added else max(figure, 1)

    def read(self) -> int:
        if self._task is None or self._task.done():
            try:
                if self._clock.monotonic() - self._at >= self._every:
                    loop = asyncio.get_running_loop()
                    self._task = loop.create_task(self._refresh(), name="motia-redis:backlog")
            except RuntimeError:  # no loop running: nothing to measure with
                pass
        return self._figure

    async def close(self) -> None:
        if self._task is not None:
            await cancel([self._task])

    async def _refresh(self) -> None:
        mark = self._added
        try:
            figure = await self._measure()
        except Exception as exc:  # unreachable: keep the last figure (the loops report outages)
            log.debug("could not measure the backlog: %s", exc)
            self._at = self._clock.monotonic()
            return
        self.record(figure, mark)


async def read_dead_letters(client: Redis, keys: Keys, step: str | None) -> list[DeadLetter]:
    """Dead letters of ``step`` (None: of every step), oldest first."""
    if step is not None:
        steps = [step]
    else:
        steps = sorted(text(s) for s in await client.smembers(keys.dlq_index))
    found: list[tuple[tuple[int, int], DeadLetter]] = []
    for name in steps:
        entries: Any = await client.xrange(keys.dlq(name))
        for entry_id, fields in entries or ():
            if entry_id is None or fields is None:
                continue
            eid = text(entry_id)
            try:
                letter = decode_dead_letter(name, eid, fields)
            except MalformedEntry as exc:
                log.warning("skipping an unreadable dead letter: %s", exc)
                continue
            ms, _, seq = eid.partition("-")
            found.append(((int(ms), int(seq)), letter))
    return [letter for _, letter in sorted(found, key=lambda pair: pair[0])]


async def redrive(client: Redis, keys: Keys, step: str, entry_id: str, now: float) -> Delivery:
    """Move one dead letter back to its step only, as attempt 1 (a FIFO step: to the end of its
    message group). ``KeyError`` if there is no such letter (or it was just redriven)."""
    dlq, letter_id = keys.dlq(step), f"{step}:{entry_id}"
    rows: Any = await client.xrange(dlq, entry_id, entry_id)
    if not rows or rows[0][1] is None:
        raise KeyError(f"no dead letter {letter_id!r}; list them with dead_letters()")
    letter = decode_dead_letter(step, entry_id, rows[0][1])
    message, sub = letter.delivery.message, letter.delivery.subscription
    if message.source == UNDECODABLE:
        raise KeyError(
            f"dead letter {letter_id!r} holds an entry that could not be decoded (its raw fields "
            "are its data): it cannot be redriven; publish a corrected message instead"
        )
    raw = encode_message(message)
    if sub.fifo:
        group = message.group_id or ""
        queue = keys.fifo(step, "q:") + group
        fifo = [dlq, keys.fifo(step, "ready"), keys.fifo(step, "leases")]
        moved = await Scripts.fifo_redrive(client, fifo, [entry_id, queue, group, f"1:{raw}", now])
        receipt = f"{queue}/redriven-{entry_id}"
    else:
        stream = keys.step(step)
        await create_group(client, stream, step, "0")
        moved = await Scripts.redrive(client, [dlq, stream], [entry_id, raw])
        receipt = f"{stream}/{text(moved) if moved else ''}"
    if not moved:
        raise KeyError(f"dead letter {letter_id!r} was redriven meanwhile")
    return Delivery(message, sub, 1, receipt)


def _older(a: str, b: str) -> str:
    return min(a, b, key=lambda i: tuple(int(p) for p in i.split("-")))


async def trim_topic(client: Redis, keys: Keys, topic: str) -> int:
    """Delete the entries of ``topic``'s stream that every reader is done with: older than each
    consumer group's oldest pending entry and last delivered one, and than every FIFO cursor.
    Safe at any time: those only move forward, and a group or cursor created later starts at
    the stream's end. Returns how many entries went."""
    stream = keys.topic(topic)
    try:
        groups: Any = await client.xinfo_groups(stream)
    except ResponseError:
        return 0  # no such stream
    oldest: str | None = None
    for group in groups:
        mark = text(group["last-delivered-id"])
        if int(group["pending"]):
            summary: Any = await client.xpending(stream, text(group["name"]))
            if summary["min"] is not None:
                mark = _older(mark, text(summary["min"]))
        oldest = mark if oldest is None else _older(oldest, mark)
    for cursor in await client.smembers(keys.fifo_cursors(topic)):
        mark = text((await client.get(text(cursor))) or "0-0")
        oldest = mark if oldest is None else _older(oldest, mark)
    if oldest is None or oldest == "0-0":
        return 0
    return int(await client.xtrim(stream, minid=oldest, approximate=False))


async def drop_consumer(client: Redis, keys: Keys, by_step: BySteps, consumer: str) -> None:
    """Forget ``consumer`` in every group where it owns nothing (a process shutting down)."""
    for step, subs in by_step.items():
        if not subs[0].fifo:
            for stream in streams_of(keys, subs):
                await Scripts.drop_consumer(client, [stream], [step, consumer])


async def tidy(client: Redis, keys: Keys, by_step: BySteps, *, idle_after: float) -> None:
    """Trim the bound topics' streams, and forget consumers idle for ``idle_after`` seconds that
    own nothing (each crashed worker leaves its name behind; a live one reads every second)."""
    for topic in sorted({s.topic for subs in by_step.values() for s in subs}):
        if trimmed := await trim_topic(client, keys, topic):
            log.info("trimmed %d handled entries from topic %s", trimmed, topic)
    for step, subs in by_step.items():
        for stream in streams_of(keys, subs) if not subs[0].fifo else ():
            try:
                consumers: Any = await client.xinfo_consumers(stream, step)
            except ResponseError:
                continue  # no such stream or group (yet)
            for c in consumers:
                if int(c["pending"]) == 0 and int(c["idle"]) > idle_after * 1000:
                    name = text(c["name"])
                    if await Scripts.drop_consumer(client, [stream], [step, name]):
                        log.info("forgot consumer %s of %s (gone, owned nothing)", name, step)
