"""The Transport contract: what every adapter of ``motia_rt.ports.Transport`` must do.

An adapter's test module subclasses ``TransportContract`` and provides one fixture,
``make_transport``: a callable taking a ``Clock`` and returning a new, unbound transport on it.
The suite plays the engine: it binds subscriptions to an ``Inbox`` that records each delivery and
settles it as the test says. It runs on the real loop with ``AsyncioClock`` and short delays;
override the ``clock`` fixture to run it on another clock. Every transport a test opens is closed
at teardown, including ones the test closed itself: ``close()`` must be safe to call twice.
"""

from __future__ import annotations

import asyncio
import itertools
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TypeAlias

import pytest
import pytest_asyncio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motia_rt.clock import AsyncioClock
from motia_rt.ports import JSON, Clock, DeadLetter, Delivery, Message, Subscription, Transport

__all__ = ["Connect", "Inbox", "Policy", "TransportContract", "TransportFactory"]

TransportFactory: TypeAlias = Callable[[Clock], Transport]
Policy: TypeAlias = Callable[[Transport, Delivery], Awaitable[None]]
"""How the inbox settles a delivery (the engine's decision): ack, retry or dead_letter."""

TIMEOUT = 2.0
"""Upper bound on any wait in this suite: a broken transport fails a test, never hangs it."""


async def ack(transport: Transport, delivery: Delivery) -> None:
    await transport.ack(delivery)


class Inbox:
    """The engine's side of a transport under test: records every delivery, settles it with
    ``policy`` (``None``: leaves it unsettled for the test to settle)."""

    def __init__(self, transport: Transport, clock: Clock, policy: Policy | None) -> None:
        self.transport = transport
        self.clock = clock
        self.policy = policy
        self.deliveries: list[Delivery] = []
        self.times: list[float] = []
        self.handled = 0
        self._changed = asyncio.Event()

    async def deliver(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        self.times.append(self.clock.monotonic())
        self._changed.set()
        if self.policy is not None:
            await self.policy(self.transport, delivery)
        self.handled += 1
        self._changed.set()

    async def until(self, count: int, *, handled: bool = False) -> None:
        """Wait for ``count`` deliveries (``handled``: also settled by the policy)."""
        async with asyncio.timeout(TIMEOUT):
            while (self.handled if handled else len(self.deliveries)) < count:
                self._changed.clear()
                await self._changed.wait()

    def log(self) -> list[tuple[str, str, int]]:
        """``(step, message id, attempt)`` per delivery, in delivery order."""
        return [(d.subscription.step, d.message.id, d.attempt) for d in self.deliveries]


Connect: TypeAlias = Callable[..., Awaitable[tuple[Transport, Inbox]]]

_ids = itertools.count(1)


def message(topic: str = "t", data: JSON = None, group_id: str | None = None) -> Message:
    n = next(_ids)
    payload = {"n": n} if data is None else data
    return Message(f"m{n}", topic, payload, f"trace-{n}", 0.0, group_id=group_id)


async def idle(transport: Transport) -> None:
    async with asyncio.timeout(TIMEOUT):
        await transport.wait_idle()
    assert transport.pending() == 0


A = Subscription("A", "t")
B = Subscription("B", "t")
FIFO = Subscription("F", "t", fifo=True)


class TransportContract:
    """Behaviour shared by every Transport. Subclasses provide the ``make_transport`` fixture."""

    @pytest.fixture
    def clock(self) -> Clock:
        return AsyncioClock()

    @pytest_asyncio.fixture
    async def connect(
        self, make_transport: TransportFactory, clock: Clock
    ) -> AsyncIterator[Connect]:
        """``await connect(subscriptions, policy=ack)``: a started transport and its inbox."""
        opened: list[Transport] = []

        async def connect_(
            subscriptions: Sequence[Subscription], policy: Policy | None = ack
        ) -> tuple[Transport, Inbox]:
            transport = make_transport(clock)
            inbox = Inbox(transport, clock, policy)
            transport.bind(subscriptions, inbox.deliver)
            await transport.start()
            opened.append(transport)
            return transport, inbox

        yield connect_
        for transport in opened:
            await transport.close()

    # -- publish -----------------------------------------------------------------------------

    async def test_publish_fans_out_to_every_subscription_as_attempt_1(
        self, connect: Connect
    ) -> None:
        transport, inbox = await connect([A, B, Subscription("C", "other")])
        msg = message(data={"order": 7})
        await transport.publish(msg)
        await idle(transport)
        assert sorted(inbox.log()) == [("A", msg.id, 1), ("B", msg.id, 1)]
        assert all(d.message == msg for d in inbox.deliveries)

    async def test_publish_without_subscribers_delivers_nothing(self, connect: Connect) -> None:
        transport, inbox = await connect([A])
        await transport.publish(message("nobody.listens"))
        assert transport.pending() == 0
        await idle(transport)
        await asyncio.sleep(0.01)  # room for a wrong delivery to show up
        assert inbox.deliveries == []

    # -- settling ----------------------------------------------------------------------------

    async def test_ack_settles(self, connect: Connect) -> None:
        transport, inbox = await connect([A], policy=None)
        await transport.publish(message())
        await inbox.until(1)
        assert transport.pending() == 1
        waiter = asyncio.create_task(idle(transport))
        await asyncio.sleep(0.01)
        assert not waiter.done(), "wait_idle() returned while a delivery was unsettled"
        await transport.ack(inbox.deliveries[0])
        await asyncio.wait_for(waiter, TIMEOUT)
        assert transport.pending() == 0

    async def test_retry_redelivers_as_the_next_attempt_after_the_delay(
        self, connect: Connect, clock: Clock
    ) -> None:
        retried_at: list[float] = []

        async def retry_once(transport: Transport, delivery: Delivery) -> None:
            if delivery.attempt < 3:
                retried_at.append(clock.monotonic())
                await transport.retry(delivery, 0.01)
            else:
                await transport.ack(delivery)

        transport, inbox = await connect([A], policy=retry_once)
        msg = message()
        await transport.publish(msg)
        await idle(transport)
        assert inbox.log() == [("A", msg.id, 1), ("A", msg.id, 2), ("A", msg.id, 3)]
        for retried, redelivered in zip(retried_at, inbox.times[1:], strict=True):
            assert redelivered - retried >= 0.01 - 0.002, "redelivered before the retry delay"

    async def test_dead_letter_records_the_delivery_and_settles(self, connect: Connect) -> None:
        returned: list[DeadLetter] = []

        async def a_fails(transport: Transport, delivery: Delivery) -> None:
            if delivery.subscription.step == "A":
                returned.append(await transport.dead_letter(delivery, "boom"))
            else:
                await transport.ack(delivery)

        transport, _ = await connect([A, B], policy=a_fails)
        msg = message()
        await transport.publish(msg)
        await idle(transport)
        [letter] = await transport.dead_letters()
        assert letter.id == returned[0].id
        assert letter.error == "boom"
        assert letter.delivery.message == msg
        assert letter.delivery.subscription.step == "A"
        assert [d.id for d in await transport.dead_letters("A")] == [letter.id]
        assert await transport.dead_letters("B") == []

    async def test_redrive_delivers_again_to_that_step_only_as_attempt_1(
        self, connect: Connect
    ) -> None:
        failed: list[Delivery] = []

        async def a_fails_once(transport: Transport, delivery: Delivery) -> None:
            if delivery.subscription.step == "A" and not failed:
                failed.append(delivery)
                await transport.dead_letter(delivery, "boom")
            else:
                await transport.ack(delivery)

        transport, inbox = await connect([A, B], policy=a_fails_once)
        msg = message()
        await transport.publish(msg)
        await idle(transport)
        [letter] = await transport.dead_letters()
        redriven = await transport.redrive(letter.id)
        assert (redriven.subscription.step, redriven.message, redriven.attempt) == ("A", msg, 1)
        await idle(transport)
        assert sorted(inbox.log()) == [("A", msg.id, 1), ("A", msg.id, 1), ("B", msg.id, 1)]
        assert inbox.deliveries[-1].subscription.step == "A"
        assert await transport.dead_letters() == []
        with pytest.raises(KeyError):
            await transport.redrive(letter.id)

    async def test_redrive_of_an_unknown_id_raises_key_error(self, connect: Connect) -> None:
        transport, _ = await connect([A])
        with pytest.raises(KeyError):
            await transport.redrive("no-such-dead-letter")

    # -- FIFO --------------------------------------------------------------------------------

    async def test_fifo_delivers_a_group_one_at_a_time_in_order(self, connect: Connect) -> None:
        busy: set[str | None] = set()
        overlaps: list[tuple[str, str, int]] = []

        async def first_retried_twice(transport: Transport, delivery: Delivery) -> None:
            group = delivery.message.group_id
            if group in busy:
                overlaps.append((group or "", delivery.message.id, delivery.attempt))
            busy.add(group)
            await asyncio.sleep(0)  # room for the transport to (wrongly) hand over the next one
            busy.discard(group)
            if delivery.message.id == m1.id and delivery.attempt < 3:
                await transport.retry(delivery, 0.01)
            else:
                await transport.ack(delivery)

        transport, inbox = await connect([FIFO], policy=first_retried_twice)
        m1, n1, m2, n2, m3 = (message(group_id=g) for g in ["g1", "g2", "g1", "g2", "g1"])
        for msg in [m1, n1, m2, n2, m3]:
            await transport.publish(msg)
        await idle(transport)
        log = [(d.message.group_id, d.message.id, d.attempt) for d in inbox.deliveries]
        g1 = [(i, a) for g, i, a in log if g == "g1"]
        assert g1 == [(m1.id, 1), (m1.id, 2), (m1.id, 3), (m2.id, 1), (m3.id, 1)]
        assert [(i, a) for g, i, a in log if g == "g2"] == [(n1.id, 1), (n2.id, 1)]
        assert log.index(("g2", n2.id, 1)) < log.index(("g1", m1.id, 2)), (
            "group g2 waited for group g1's retries"
        )
        assert overlaps == []

    # -- settling twice ----------------------------------------------------------------------

    @pytest.mark.parametrize(
        "first, second",
        [(f, s) for f in ("ack", "dead_letter") for s in ("ack", "retry", "dead_letter")],
    )
    async def test_settling_a_settled_delivery_again_is_harmless(
        self, connect: Connect, first: str, second: str
    ) -> None:
        async def settle(transport: Transport, delivery: Delivery, how: str) -> None:
            if how == "ack":
                await transport.ack(delivery)
            elif how == "retry":
                await transport.retry(delivery, 0.0)
            else:
                await transport.dead_letter(delivery, how)

        async def twice(transport: Transport, delivery: Delivery) -> None:
            await settle(transport, delivery, first)
            await settle(transport, delivery, second)

        transport, inbox = await connect([A, FIFO], policy=twice)
        m1, m2 = message(group_id="g"), message(group_id="g")
        await transport.publish(m1)
        await transport.publish(m2)
        await idle(transport)
        await asyncio.sleep(0.01)  # room for a wrong redelivery to show up
        await idle(transport)
        # Sorted both sides: ids sort as text ("m10" < "m9").
        assert sorted(inbox.log()) == sorted((s, m.id, 1) for s in ["A", "F"] for m in (m1, m2))
        fifo_order = [d.message.id for d in inbox.deliveries if d.subscription.fifo]
        assert fifo_order == [m1.id, m2.id], "a FIFO group's next message was skipped or reordered"
        letters = await transport.dead_letters()
        assert len(letters) == (4 if first == "dead_letter" else 0)

    @pytest.mark.parametrize("second", ["retry", "ack", "dead_letter"])
    async def test_the_first_settlement_of_a_retried_delivery_wins(
        self, connect: Connect, second: str
    ) -> None:
        async def retry_then_again(transport: Transport, delivery: Delivery) -> None:
            if delivery.attempt > 1:
                await transport.ack(delivery)
                return
            await transport.retry(delivery, 0.01)
            if second == "retry":
                await transport.retry(delivery, 0.01)
            elif second == "ack":
                await transport.ack(delivery)
            else:
                await transport.dead_letter(delivery, "late")

        transport, inbox = await connect([A], policy=retry_then_again)
        msg = message()
        await transport.publish(msg)
        await idle(transport)
        assert ("A", msg.id, 2) in inbox.log(), "wait_idle() returned with a retry pending"
        await asyncio.sleep(0.03)  # room for a wrong redelivery to show up
        await idle(transport)
        assert inbox.log() == [("A", msg.id, 1), ("A", msg.id, 2)], "retried more than once"
        assert await transport.dead_letters() == [], "dead-lettered and retried"

    # -- close -------------------------------------------------------------------------------

    async def test_close_stops_pending_retries(self, connect: Connect) -> None:
        async def retry(transport: Transport, delivery: Delivery) -> None:
            await transport.retry(delivery, 0.02)

        transport, inbox = await connect([A], policy=retry)
        await transport.publish(message())
        await inbox.until(1, handled=True)
        await transport.close()
        await asyncio.sleep(0.05)
        assert len(inbox.deliveries) == 1

    # -- nothing lost ------------------------------------------------------------------------

    @settings(
        max_examples=50,
        deadline=None,
        # A fresh transport per example; every adapter's subclass runs this same method.
        suppress_health_check=[
            HealthCheck.function_scoped_fixture,
            HealthCheck.differing_executors,
        ],
    )
    @given(
        count=st.integers(1, 8),
        decisions=st.lists(
            st.sampled_from(["ack", "retry", "dead_letter"]), min_size=1, max_size=12
        ),
        delay=st.sampled_from([0.0, 0.002]),
    )
    async def test_every_message_is_acked_or_dead_lettered_once_per_subscription(
        self,
        make_transport: TransportFactory,
        clock: Clock,
        count: int,
        decisions: list[str],
        delay: float,
    ) -> None:
        subscriptions = [A, B, FIFO]
        choices = itertools.cycle(decisions)
        acked: list[tuple[str, str]] = []
        fifo_log: list[Message] = []

        async def decide(delivery: Delivery) -> None:
            if delivery.subscription.fifo:
                fifo_log.append(delivery.message)
            choice = next(choices)
            if choice == "retry" and delivery.attempt >= 3:
                choice = "ack"
            if choice == "ack":
                acked.append((delivery.subscription.step, delivery.message.id))
                await transport.ack(delivery)
            elif choice == "retry":
                await transport.retry(delivery, delay)
            else:
                await transport.dead_letter(delivery, "no")

        transport = make_transport(clock)
        transport.bind(subscriptions, decide)
        await transport.start()
        try:
            messages = [message(group_id=f"g{i % 2}") for i in range(count)]
            for msg in messages:
                await transport.publish(msg)
            await idle(transport)
            letters = await transport.dead_letters()
            dead = [(d.delivery.subscription.step, d.delivery.message.id) for d in letters]
        finally:
            await transport.close()
        settled = Counter(acked + dead)
        expected = Counter((s.step, m.id) for m in messages for s in subscriptions)
        assert settled == expected, "lost or settled twice: the difference is " + repr(
            (settled - expected) + (expected - settled)
        )
        for group in ("g0", "g1"):
            # Retries repeat a message in place; collapsed, the FIFO order is the publish order.
            order = [m.id for m in fifo_log if m.group_id == group]
            collapsed = [i for n, i in enumerate(order) if n == 0 or order[n - 1] != i]
            assert collapsed == [m.id for m in messages if m.group_id == group]
