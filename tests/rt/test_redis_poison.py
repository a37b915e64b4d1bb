"""Entries no motia process wrote (arbitrary bytes, hostile JSON) in a topic stream: each is
dead-lettered exactly once, with its reason, on its first delivery, and every valid message
around it is handled once, whether the batch is read fresh or reclaimed from a dead consumer.

Hypothesis writes the entries: widely on fakeredis (bytes and decoded replies), fewer examples on
a real Redis (bytes replies, as ``motia-rt worker`` connects). Each example uses its own key
prefix (and, on fakeredis, its own server) and deletes it afterwards.
"""

from __future__ import annotations

import asyncio
import importlib.util
import json
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motia_rt.clock import AsyncioClock
from motia_rt.ports import Message, Subscription
from motia_rt.testing import Runtime
from motia_rt.transport._redis_layout import UNDECODABLE, entry_fields
from motia_rt.transport.redis_streams import RedisStreamsTransport
from tests.contract.transport_contract import Inbox, ack
from tests.redis_support import real_redis_url
from tests.step_files import make_app

aioredis = pytest.importorskip("redis.asyncio", reason="needs the redis extra: pip install redis")
fakeredis = pytest.importorskip("fakeredis", reason="needs the dev extra: pip install fakeredis")
needs_lua = pytest.mark.skipif(
    importlib.util.find_spec("lupa") is None,
    reason="fakeredis runs the transport's Lua scripts only with lupa installed",
)

# Long enough that a busy machine (CI with two cores) still acknowledges a live delivery before
# its own reclaim pass takes it back (0.3 s handled one twice under load), short enough that the
# examples reclaiming a dead consumer's batch stay quick.
STANDARD = Subscription("A", "t", visibility_timeout=0.75)
FIFO = Subscription("F", "t", fifo=True, visibility_timeout=0.75)
Fields = dict[Any, Any]

# -- what gets written --------------------------------------------------------------------------

JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3)
    ),
    max_leaves=8,
)

GOOD = {"id": '"bad"', "topic": '"t"', "data": "{}", "trace_id": '"tr"', "emitted_at": "1.5",
        "source": '"x"', "group_id": "null"}  # fmt: skip


def message_text(**raw_json: str) -> str:
    """A message object as JSON text, with some members replaced by raw JSON text."""
    members = {**GOOD, **raw_json}
    return "{" + ",".join(f'"{name}":{value}' for name, value in members.items()) + "}"


NOT_A_STRING = st.sampled_from(["5", "[]", '{"a":1}', "null", "true", "1.5"])
NOT_FINITE = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e999", "1" * 400 + ".0"])
DEEP = st.sampled_from([3_000, 100_000]).map(lambda depth: "[" * depth + "]" * depth)


def hostile_json() -> st.SearchStrategy[Fields]:
    """A JSON ``message`` field that is wrong in one way; the other fields as a publisher writes."""
    member = st.one_of(
        st.tuples(st.just("data"), DEEP | NOT_FINITE | st.just("9" * 5_000)),
        st.tuples(st.sampled_from(["id", "topic", "trace_id", "source"]), NOT_A_STRING),
        st.tuples(st.just("emitted_at"), NOT_FINITE | st.sampled_from(['"now"', "true", "null"])),
        st.tuples(st.just("group_id"), st.sampled_from(["5", "[]", '{"g":1}', "true"])),
        st.tuples(st.just("topic"), st.just('"other"')),
    )
    wrong_member = member.map(lambda pair: {"message": message_text(**{pair[0]: pair[1]})})
    bad_attempt = st.sampled_from(["1000000000", "0", "-1", "x", "", "1.5", "9" * 5_000]).map(
        lambda attempt: {"message": message_text(), "attempt": attempt}
    )
    not_an_object = st.sampled_from(["[]", '"text"', "7", "null", "{", ""]).map(
        lambda raw: {"message": raw}
    )
    # The entry's routing field disagrees with the message it carries.
    wrong_group = st.sampled_from([
        {"message": message_text(), "group": "g1"},
        {"message": message_text(group_id='"g1"')},
        {"message": message_text(group_id='"g1"'), "group": "g2"},
    ])  # fmt: skip
    return st.one_of(wrong_member, bad_attempt, not_an_object, wrong_group).map(
        lambda fields: {"attempt": "1", **fields}
    )


def arbitrary_bytes(decoded: bool) -> st.SearchStrategy[Fields]:
    """Bytes no one meant as a message (valid UTF-8 where replies are decoded to text)."""
    blob = st.text(max_size=40).map(str.encode) if decoded else st.binary(max_size=40)
    name = blob.filter(lambda b: b not in (b"message", b"attempt", b"group"))
    as_message = blob.map(lambda b: {b"message": b, b"attempt": b"1"})
    no_message = st.dictionaries(name, blob, min_size=1, max_size=3)
    return as_message | no_message


def valid_messages() -> st.SearchStrategy[list[Message]]:
    one = st.builds(
        Message,
        id=st.just(""),
        topic=st.just("t"),
        data=JSON_VALUES,
        trace_id=st.text(max_size=6),
        emitted_at=st.floats(0, 2e9),
        source=st.sampled_from(["external", "Step"]),
        group_id=st.sampled_from([None, "g1", "g2"]),
    )
    return st.lists(one, min_size=1, max_size=4)


@dataclass
class Stream:
    """What one example writes, in order: valid messages and bad entries, mixed."""

    valid: list[Message]
    bad: list[Fields]
    order: list[bool]
    """True: the next valid message; False: the next bad entry."""


def streams(decoded: bool) -> st.SearchStrategy[Stream]:
    @st.composite
    def build(draw: st.DrawFn) -> Stream:
        valid = draw(valid_messages())
        for n, message in enumerate(valid):
            message.id = f"ok{n}"
        bad = draw(st.lists(hostile_json() | arbitrary_bytes(decoded), min_size=1, max_size=2))
        order = draw(st.permutations([True] * len(valid) + [False] * len(bad)))
        return Stream(valid, bad, order)

    return build()


# -- running it ---------------------------------------------------------------------------------


async def write(client: Any, prefix: str, stream: Stream) -> list[str]:
    """XADD the example's entries in order; the ids of the bad ones."""
    valid, bad = iter(stream.valid), iter(stream.bad)
    bad_ids = []
    for is_valid in stream.order:
        if is_valid:
            await client.xadd(f"{prefix}:topic:t", entry_fields(next(valid), 1))
        else:
            entry_id = await client.xadd(f"{prefix}:topic:t", next(bad))
            bad_ids.append(entry_id.decode() if isinstance(entry_id, bytes) else entry_id)
    return bad_ids


@pytest.fixture(scope="module")
def redis_url() -> str:
    return real_redis_url()


async def check(client: Any, prefix: str, stream: Stream, *, reclaim: bool) -> None:
    clock = AsyncioClock()
    transport = RedisStreamsTransport(client, prefix=prefix, clock=clock, block=0.05)
    inbox = Inbox(transport, clock, ack)
    transport.bind([STANDARD, FIFO], inbox.deliver)
    await transport.start()  # creates the groups at the stream's end: what follows is read
    try:
        bad_ids = await write(client, prefix, stream)
        if reclaim:  # a consumer read the whole batch and died: the entries wait for reclaim
            await client.xreadgroup("A", "dead", {f"{prefix}:topic:t": ">"}, count=100)
        async with asyncio.timeout(15):
            await transport.wait_idle()
        letters = await transport.dead_letters()
    finally:
        await transport.close()
    for step in ("A", "F"):
        handled = Counter(d.message.id for d in inbox.deliveries if d.subscription.step == step)
        assert handled == Counter(m.id for m in stream.valid), step
        dead = [d for d in letters if d.delivery.subscription.step == step]
        assert len(dead) == len(stream.bad), (step, [d.error for d in dead])
        assert all(d.delivery.message.source == UNDECODABLE and d.error for d in dead), dead
    standard = sorted(d.delivery.message.id for d in letters if d.delivery.subscription.step == "A")
    assert standard == sorted(f"{UNDECODABLE}:{entry_id}" for entry_id in bad_ids)
    for message in (d.message for d in inbox.deliveries):
        original = next(m for m in stream.valid if m.id == message.id)
        assert message == original


async def test_a_poison_entry_in_a_reclaimed_batch_strands_nothing(redis_url: str) -> None:
    """The incident: a nested entry ahead of five valid ones, read by a consumer that died; the
    reclaim pass used to stop at it every time, and nothing behind it was handled."""
    stream = Stream(
        valid=[Message(f"ok{n}", "t", {"n": n}, f"tr{n}", 1.0) for n in range(5)],
        bad=[{"message": message_text(data="[" * 100_000 + "]" * 100_000), "attempt": "1"},
             {"message": message_text(data='{"amount": NaN}'), "attempt": "1"}],
        order=[False, True, True, False, True, True, True],
    )  # fmt: skip
    client = aioredis.Redis.from_url(redis_url)
    prefix = f"motia-test:{uuid.uuid4().hex}"
    try:
        await check(client, prefix, stream, reclaim=True)
        reader = RedisStreamsTransport(client, prefix=prefix, clock=AsyncioClock())
        letters = await reader.dead_letters("A")
        reasons = " | ".join(letter.error for letter in letters)
        assert "nested too deeply" in reasons and "NaN" in reasons
        # Listing them is JSON-safe (the CLI and /__motia/dead-letters print it) ...
        json.dumps([letter.delivery.message.data for letter in letters], allow_nan=False)
        # ... and redriving one says why it cannot be, instead of looping it back.
        with pytest.raises(KeyError, match="cannot be redriven"):
            await reader.redrive(letters[0].id)
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


COUNT_APP = {
    "count_step.py": """
        config = {"type": "event", "name": "Count", "subscribes": ["t"],
                  "input": {"type": "object", "properties": {"n": {"type": "integer"}},
                            "required": ["n"]},
                  "infrastructure": {"queue": {"maxRetries": 0}}}
        async def handler(input, context):
            await context.state.set("seen", str(input["n"]), True)
    """,
}


async def test_a_message_failing_validation_is_dead_lettered_as_it_was_written(
    redis_url: str, tmp_path: Path
) -> None:
    client = aioredis.Redis.from_url(redis_url)
    prefix = f"motia-test:{uuid.uuid4().hex}"
    written = message_text(data='{"n":   "not a number"}').replace(",", ", ")
    transport = RedisStreamsTransport(client, prefix=prefix, clock=AsyncioClock(), block=0.05)
    try:
        async with Runtime(make_app(tmp_path / "app", COUNT_APP), transport=transport) as rt:
            await client.xadd(f"{prefix}:topic:t", {"message": written, "attempt": "1"})
            await rt.emit("t", {"n": 1})
            await rt.settle()
            assert await rt.state.get("seen", "1") is True
            [letter] = await rt.dead_letters()
            assert "failed validation" in letter.error
        [(_, fields)] = await client.xrange(f"{prefix}:dlq:Count")
        assert fields[b"message"].decode() == written, "the dead letter holds the entry as read"
    finally:
        keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
        if keys:
            await client.delete(*keys)
        await client.aclose()


def run(example: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(example())


FAST = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


@needs_lua
@pytest.mark.parametrize("decoded", [False, True], ids=["bytes", "decoded"])
def test_poison_entries_on_fakeredis(decoded: bool) -> None:
    @FAST
    @given(stream=streams(decoded), reclaim=st.booleans())
    def example(stream: Stream, reclaim: bool) -> None:
        async def body() -> None:
            client = fakeredis.FakeAsyncRedis(
                server=fakeredis.FakeServer(), decode_responses=decoded
            )
            try:
                await check(client, "motia-test", stream, reclaim=reclaim)
            finally:
                await client.aclose()

        run(body)

    example()


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(stream=streams(decoded=False), reclaim=st.booleans())
def test_poison_entries_on_real_redis(stream: Stream, reclaim: bool) -> None:
    url = real_redis_url()

    async def body() -> None:
        client = aioredis.Redis.from_url(url)
        prefix = f"motia-test:{uuid.uuid4().hex}"
        try:
            await check(client, prefix, stream, reclaim=reclaim)
        finally:
            keys = [key async for key in client.scan_iter(match=f"{prefix}:*", count=1000)]
            if keys:
                await client.delete(*keys)
            await client.aclose()

    run(body)
