"""What the Redis Streams transport does beyond the shared contract: several processes (here,
several transports on one prefix), crashed consumers, foreign entries, FIFO across workers.

Needs a real Redis (see ``tests/redis_support.py``); every test writes under its own prefix and
deletes it afterwards.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import Any

import pytest
import pytest_asyncio

from motia_rt.clock import AsyncioClock
from motia_rt.ports import Delivery, Message, Subscription, Transport
from motia_rt.transport._redis_groups import tidy, trim_topic
from motia_rt.transport._redis_layout import Keys, entry_fields
from motia_rt.transport.redis_streams import RedisStreamsTransport
from tests.contract.transport_contract import Inbox, Policy, ack
from tests.redis_support import RedisRelay, real_redis_url

aioredis = pytest.importorskip("redis.asyncio", reason="needs the redis extra: pip install redis")

Start = Callable[..., Awaitable[tuple[RedisStreamsTransport, Inbox]]]


@pytest.fixture(scope="module")
def redis_url() -> str:
    return real_redis_url()


@pytest_asyncio.fixture
async def client(redis_url: str) -> AsyncIterator[Any]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield client
    await client.aclose()


@pytest_asyncio.fixture
async def prefix(client: Any) -> AsyncIterator[str]:
    prefix = f"motia-test:{uuid.uuid4().hex}"
    yield prefix
    keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
    if keys:
        await client.delete(*keys)


@pytest_asyncio.fixture
async def start(client: Any, prefix: str) -> AsyncIterator[Start]:
    """``await start(subscriptions, policy=ack, **options)``: a started transport ("a worker")."""
    opened: list[RedisStreamsTransport] = []

    async def start_(
        subscriptions: Sequence[Subscription], policy: Policy | None = ack, **options: Any
    ) -> tuple[RedisStreamsTransport, Inbox]:
        clock = AsyncioClock()
        transport = RedisStreamsTransport(client, prefix=prefix, clock=clock, **options)
        inbox = Inbox(transport, clock, policy)
        transport.bind(subscriptions, inbox.deliver)
        await transport.start()
        opened.append(transport)
        return transport, inbox

    yield start_
    for transport in opened:
        await transport.close()


def msg(n: int, topic: str = "t", group: str | None = None) -> Message:
    return Message(f"m{n}", topic, {"n": n}, f"trace-{n}", 1.0, group_id=group)


async def eventually(check: Callable[[], bool], timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not check():
            await asyncio.sleep(0.01)


async def test_a_crashed_consumers_delivery_is_reclaimed_as_the_next_attempt(
    start: Start, client: Any, prefix: str
) -> None:
    sub = Subscription("A", "t", visibility_timeout=0.3)
    publisher, _ = await start([sub], consume=False)
    await publisher.publish(msg(1))
    # A worker reads the entry and dies before settling it.
    stream = f"{prefix}:topic:t"
    assert await client.xreadgroup("A", "crashed", {stream: ">"}, count=10)
    _, inbox = await start([sub])
    await inbox.until(1, handled=True)
    [delivery] = inbox.deliveries
    assert (delivery.message, delivery.attempt) == (msg(1), 2)
    await publisher.wait_idle()
    assert (await client.xpending(stream, "A"))["pending"] == 0


async def test_acks_are_pending_until_redis_has_them_and_close_sends_them(
    start: Start, client: Any, prefix: str
) -> None:
    transport, inbox = await start([Subscription("A", "t")], policy=None)
    for n in range(5):
        await transport.publish(msg(n))
    await inbox.until(5)
    for delivery in inbox.deliveries:
        await transport.ack(delivery)
        await transport.ack(delivery)  # settling twice does nothing
    assert transport.pending() == 5, "queued acks count until Redis confirmed them"
    await transport.close()
    assert transport.pending() == 0
    assert (await client.xpending(f"{prefix}:topic:t", "A"))["pending"] == 0


async def test_a_worker_dying_before_its_queued_acks_reach_redis_loses_nothing(
    start: Start, redis_url: str, prefix: str
) -> None:
    sub = Subscription("A", "t", visibility_timeout=0.3)
    link = RedisRelay(redis_url)
    dying_client = aioredis.Redis.from_url(await link.open(), decode_responses=True)
    dying = RedisStreamsTransport(dying_client, prefix=prefix, clock=AsyncioClock())
    handled = Inbox(dying, dying.clock, None)
    dying.bind([sub], handled.deliver)
    await dying.start()
    try:
        await dying.publish(msg(1))
        await handled.until(1)
        await dying.ack(handled.deliveries[0])  # queued, sent at the loop's next turn
        link.close()  # the process dies before that turn
        assert dying.pending() == 1, "the ack is queued, not confirmed"
        _, inbox = await start([sub])
        await inbox.until(1, handled=True)
        assert [(d.message, d.attempt) for d in inbox.deliveries] == [(msg(1), 2)]
    finally:
        await dying.close()
        await dying_client.aclose()


async def test_a_slow_handler_keeps_its_delivery_past_the_visibility_timeout(
    start: Start,
) -> None:
    sub = Subscription("A", "t", visibility_timeout=0.3)

    async def slow(transport: Transport, delivery: Delivery) -> None:
        await asyncio.sleep(1.0)
        await transport.ack(delivery)

    first, one = await start([sub], policy=slow)
    _, two = await start([sub], policy=slow)
    await first.publish(msg(1))
    await first.wait_idle()
    assert len(one.deliveries) + len(two.deliveries) == 1, "reclaimed from a live worker"


async def test_foreign_and_malformed_entries_are_dead_lettered_and_reading_goes_on(
    start: Start, client: Any, prefix: str
) -> None:
    subs = [Subscription("A", "t"), Subscription("F", "t", fifo=True)]
    transport, inbox = await start(subs)
    stream = f"{prefix}:topic:t"
    await client.xadd(stream, {"hello": "world"})
    await client.xadd(stream, {"message": "{not json", "attempt": "1"})
    await client.xadd(stream, entry_fields(msg(1, topic="elsewhere"), 1))
    await client.xadd(stream, {**entry_fields(msg(3), 1), "attempt": "0"})
    await client.xadd(stream, {"message": '{"id": 4}', "attempt": "1"})
    await transport.publish(msg(2))
    await transport.wait_idle()
    assert sorted((d.subscription.step, d.message.id) for d in inbox.deliveries) == [
        ("A", "m2"),
        ("F", "m2"),
    ]
    letters = await transport.dead_letters()
    assert sorted(d.delivery.subscription.step for d in letters) == ["A"] * 5 + ["F"] * 5
    errors = " | ".join(d.error for d in letters if d.delivery.subscription.step == "A")
    for reason in ["no 'message'", "not JSON", "'elsewhere'", "'attempt' field", "'id' is 4"]:
        assert reason in errors
    [foreign] = [d for d in letters if d.delivery.subscription.step == "A" and "no 'me" in d.error]
    assert foreign.delivery.message.data == {"fields": {"hello": "world"}}


async def test_workers_share_a_step_and_each_message_is_handled_once(start: Start) -> None:
    sub = Subscription("A", "t")
    workers = [await start([sub], concurrency=4) for _ in range(3)]
    publisher = workers[0][0]
    for n in range(300):
        await publisher.publish(msg(n))
    await publisher.wait_idle()
    handled = [d.message.id for _, inbox in workers for d in inbox.deliveries]
    assert sorted(handled) == sorted(f"m{n}" for n in range(300))
    assert sum(1 for _, inbox in workers if inbox.deliveries) >= 2, "one worker did everything"


async def test_fifo_groups_keep_their_order_across_workers_with_retries(start: Start) -> None:
    sub = Subscription("F", "t", fifo=True)
    rng = random.Random(7)
    busy: set[str | None] = set()
    overlaps: list[str] = []
    log: list[Message] = []

    async def flaky(transport: Transport, delivery: Delivery) -> None:
        group = delivery.message.group_id
        if group in busy:
            overlaps.append(delivery.message.id)
        busy.add(group)
        log.append(delivery.message)
        await asyncio.sleep(rng.random() * 0.004)
        busy.discard(group)
        if rng.random() < 0.2 and delivery.attempt < 3:
            await transport.retry(delivery, 0.005)
        else:
            await transport.ack(delivery)

    workers = [await start([sub], policy=flaky, poll_interval=0.01) for _ in range(3)]
    messages = [msg(n, group=f"g{n % 5}") for n in range(100)]
    for m in messages:
        await workers[n % 3 if (n := messages.index(m)) else 0][0].publish(m)
    await workers[0][0].wait_idle()
    assert overlaps == [], "two workers held one FIFO group at once"
    for group in {m.group_id for m in messages}:
        order = [m.id for m in log if m.group_id == group]
        collapsed = [i for n, i in enumerate(order) if n == 0 or order[n - 1] != i]
        assert collapsed == [m.id for m in messages if m.group_id == group]


async def test_close_hands_unsettled_deliveries_to_another_worker_at_once(
    start: Start,
) -> None:
    standard, fifo = Subscription("A", "t"), Subscription("F", "t", fifo=True)
    leaving, held = await start([standard, fifo], policy=None)
    await leaving.publish(msg(1, group="g"))
    await held.until(2)
    await leaving.close()
    _, inbox = await start([standard, fifo])
    await inbox.until(2, handled=True)  # far sooner than the 30 s visibility timeout
    assert sorted((d.subscription.step, d.attempt) for d in inbox.deliveries) == [
        ("A", 1),
        ("F", 1),
    ]


async def test_a_retry_survives_the_process_that_scheduled_it(start: Start) -> None:
    sub = Subscription("A", "t")

    async def retry(transport: Transport, delivery: Delivery) -> None:
        await transport.retry(delivery, 0.3)

    first, failed = await start([sub], policy=retry)
    await first.publish(msg(1))
    await failed.until(1, handled=True)
    await first.close()  # the retry is in Redis, not in this process
    second, inbox = await start([sub])
    await inbox.until(1, handled=True)
    assert inbox.deliveries[0].attempt == 2
    await second.wait_idle()


async def test_delay_seconds_holds_the_first_delivery(start: Start, client: Any) -> None:
    sub = Subscription("A", "t", delay_seconds=0.3)
    transport, inbox = await start([sub])
    sent = transport.clock.now()
    await transport.publish(Message("m1", "t", {}, "trace", sent))
    await inbox.until(1)
    assert transport.clock.now() - sent >= 0.29
    assert inbox.deliveries[0].attempt == 1


async def test_an_entry_handed_out_too_often_is_dead_lettered(
    start: Start, client: Any, prefix: str
) -> None:
    sub = Subscription("A", "t", visibility_timeout=0.05)
    publisher, _ = await start([sub], consume=False)
    await publisher.publish(msg(1))
    stream = f"{prefix}:topic:t"
    [[_, [(entry_id, _)]]] = await client.xreadgroup("A", "dead-1", {stream: ">"})
    for name in ["dead-2", "dead-3"]:
        await client.xclaim(stream, "A", name, 0, [entry_id])
    _, inbox = await start([sub], max_deliveries=3)
    await publisher.wait_idle()
    assert inbox.deliveries == []
    [letter] = await publisher.dead_letters("A")
    assert "handed out 4 times" in letter.error
    assert letter.delivery.message == msg(1)


async def test_wait_idle_waits_for_work_another_process_is_doing(start: Start) -> None:
    sub = Subscription("A", "t")
    done: list[float] = []

    async def slow(transport: Transport, delivery: Delivery) -> None:
        await asyncio.sleep(0.2)
        done.append(transport_clock.now())
        await transport.ack(delivery)

    publisher, _ = await start([sub], consume=False)
    transport_clock = publisher.clock
    await start([sub], policy=slow)
    await publisher.publish(msg(1))
    assert publisher.pending() >= 1, "work in Redis for a bound step counts, whoever does it"
    await publisher.wait_idle()
    assert len(done) == 1 and publisher.clock.now() >= done[0]


async def test_pending_counts_what_a_dead_worker_holds_and_scheduled_retries(
    start: Start, client: Any, prefix: str
) -> None:
    """What ``/__motia/status`` reports, and so what ``MotiaTestClient.settle()`` waits for."""
    sub = Subscription("A", "t", visibility_timeout=0.5)
    publisher, _ = await start([sub], consume=False, poll_interval=0.02)
    await publisher.publish(msg(1))
    assert publisher.pending() == 1, "a publish counts at once"
    # A worker reads it and dies: only XPENDING knows, for the visibility timeout.
    assert await client.xreadgroup("A", "dead", {f"{prefix}:topic:t": ">"}, count=10)
    for _ in range(5):  # several background measurements: each finds the orphaned delivery
        assert publisher.pending() == 1
        await asyncio.sleep(0.03)

    async def retry_once(transport: Transport, delivery: Delivery) -> None:
        if delivery.attempt == 2:  # the reclaimed one: its retry waits in the delayed set
            await transport.retry(delivery, 2.0)
        else:
            await transport.ack(delivery)

    _, inbox = await start([sub], policy=retry_once)
    await inbox.until(1, handled=True)
    for _ in range(5):
        assert publisher.pending() == 1, "a scheduled retry is pending work"
        await asyncio.sleep(0.03)
    await eventually(lambda: publisher.pending() == 0)
    assert inbox.log() == [("A", "m1", 2), ("A", "m1", 3)]


async def test_dead_letters_of_a_fifo_step_redrive_to_the_end_of_their_group(
    start: Start,
) -> None:
    sub = Subscription("F", "t", fifo=True)
    first: list[str] = []

    async def m1_fails_once(transport: Transport, delivery: Delivery) -> None:
        if delivery.message.id == "m1" and not first:
            first.append("m1")
            await transport.dead_letter(delivery, "boom")
        else:
            await transport.ack(delivery)

    transport, inbox = await start([sub], policy=m1_fails_once)
    for n in (1, 2):
        await transport.publish(msg(n, group="g"))
    await transport.wait_idle()
    [letter] = await transport.dead_letters("F")
    assert letter.delivery.subscription.fifo and letter.error == "boom"
    redriven = await transport.redrive(letter.id)
    assert redriven.attempt == 1
    await transport.wait_idle()
    assert [(d.message.id, d.attempt) for d in inbox.deliveries] == [
        ("m1", 1),
        ("m2", 1),
        ("m1", 1),
    ]
    assert await transport.dead_letters() == []


async def test_trimming_keeps_every_entry_a_reader_still_needs(
    start: Start, client: Any, prefix: str
) -> None:
    subs = [Subscription("A", "t"), Subscription("F", "t", fifo=True)]
    transport, _ = await start(subs, trim_interval=None)
    stream = f"{prefix}:topic:t"
    await client.xgroup_create(stream, "late", "$")
    for n in range(20):
        await transport.publish(msg(n, group="g"))
    await transport.wait_idle()
    [[_, entries]] = await client.xreadgroup("late", "c", {stream: ">"}, count=5)
    ids = [entry_id for entry_id, _ in entries]
    keys = Keys(prefix)
    assert await trim_topic(client, keys, "t") == 0, "trimmed an entry pending for 'late'"
    await client.xack(stream, "late", *ids[:3])
    assert await trim_topic(client, keys, "t") == 3
    await client.xack(stream, "late", *ids[3:])
    assert await trim_topic(client, keys, "t") == 1  # the last one delivered to 'late' stays
    assert await client.xlen(stream) == 16


async def test_a_consuming_process_trims_handled_entries(
    start: Start, client: Any, prefix: str
) -> None:
    subs = [Subscription("A", "t"), Subscription("F", "t", fifo=True)]
    transport, _ = await start(subs, trim_interval=0.05)
    for n in range(20):
        await transport.publish(msg(n, group="g"))
    await transport.wait_idle()
    async with asyncio.timeout(5):
        while await client.xlen(f"{prefix}:topic:t") > 1:
            await asyncio.sleep(0.02)


async def test_tidying_forgets_consumers_that_own_nothing(
    start: Start, client: Any, prefix: str
) -> None:
    sub = Subscription("A", "t")
    transport, _ = await start([sub], consume=False)
    stream = f"{prefix}:topic:t"
    await client.xgroup_createconsumer(stream, "A", "gone-empty")
    await transport.publish(msg(1))
    assert await client.xreadgroup("A", "gone-holding", {stream: ">"})
    await asyncio.sleep(0.01)
    await tidy(client, Keys(prefix), transport.by_step, idle_after=0.0)
    names = {c["name"] for c in await client.xinfo_consumers(stream, "A")}
    assert names == {"gone-holding"}, "forgot a consumer that still owns a delivery"
