"""Key names and entry encoding of the Redis Streams transport: JSON text only, never pickle.

A stream entry carries three fields: ``message`` (the ``Message`` as a JSON object), ``attempt``
(the attempt this copy starts at, a decimal) and, when the message has one, ``group`` (its
``messageGroupId``, kept outside the JSON so Lua scripts can route FIFO groups without parsing).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..ports import DeadLetter, Delivery, Message, Subscription

__all__ = [
    "Held",
    "Keys",
    "MalformedEntry",
    "cancel",
    "dead_letter_fields",
    "decode_attempt",
    "decode_dead_letter",
    "decode_entry",
    "decode_message",
    "encode_message",
    "entry_fields",
    "foreign_message",
    "parse_dead_letter_id",
    "read_entries",
    "text",
]

_ENTRY_ID = re.compile(r"^\d+-\d+$")


class MalformedEntry(ValueError):
    """A stream entry that is not a motia message (written by something else, or corrupted)."""


def text(value: bytes | str) -> str:
    """Replies are bytes or str depending on the client's ``decode_responses``."""
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else value


@dataclass(frozen=True, slots=True)
class Keys:
    """Every key the transport writes, under one prefix."""

    prefix: str

    def topic(self, topic: str) -> str:
        """The stream of a topic: each subscribing step reads it through its consumer group."""
        return f"{self.prefix}:topic:{topic}"

    def step(self, step: str) -> str:
        """The stream of one step: retries, redrives and released deliveries meant for it only."""
        return f"{self.prefix}:step:{step}"

    def delayed(self, step: str) -> str:
        """ZSET of deliveries waiting for their not-before time, scored by it."""
        return f"{self.prefix}:delayed:{step}"

    def dlq(self, step: str) -> str:
        return f"{self.prefix}:dlq:{step}"

    @property
    def dlq_index(self) -> str:
        """SET naming every step that has a dead-letter stream."""
        return f"{self.prefix}:dlq-steps"

    def fifo(self, step: str, part: str) -> str:
        """FIFO bookkeeping of a step: ``ready``, ``leased``, ``leases``, ``tries``, ``q:``."""
        return f"{self.prefix}:fifo:{step}:{part}"

    def fifo_cursors(self, topic: str) -> str:
        """SET of the FIFO cursors reading ``topic``'s stream (trimming stops at the oldest)."""
        return f"{self.prefix}:fifo-cursors:{topic}"

    def fifo_cursor(self, step: str, topic: str) -> str:
        """The last entry id of ``topic``'s stream admitted into the step's FIFO group queues."""
        return f"{self.prefix}:fifo:{step}:cursor:{topic}"


def encode_message(message: Message) -> str:
    return json.dumps(
        {
            "id": message.id,
            "topic": message.topic,
            "data": message.data,
            "trace_id": message.trace_id,
            "emitted_at": message.emitted_at,
            "source": message.source,
            "group_id": message.group_id,
        },
        separators=(",", ":"),
        allow_nan=False,
    )


def entry_fields(message: Message, attempt: int) -> dict[Any, Any]:
    """The fields of a new stream entry for ``message``."""
    fields: dict[Any, Any] = {"message": encode_message(message), "attempt": str(attempt)}
    if message.group_id is not None:
        fields["group"] = message.group_id
    return fields


def _field(obj: Mapping[str, Any], name: str, kind: type | tuple[type, ...]) -> Any:
    value = obj.get(name)
    if not isinstance(value, kind) or isinstance(value, bool):
        raise MalformedEntry(f"'message' field {name!r} is {value!r}, expected {kind}")
    return value


def decode_message(raw: bytes | str | None) -> Message:
    """The ``Message`` in an entry's ``message`` field; ``MalformedEntry`` says what is wrong."""
    if raw is None:
        raise MalformedEntry("the entry has no 'message' field")
    try:
        obj = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEntry(f"the 'message' field is not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise MalformedEntry(f"the 'message' field is a JSON {type(obj).__name__}, not an object")
    group = obj.get("group_id")
    # What encode_message wrote, checked at once (this runs for every delivery); anything else
    # goes through the checks below, which say what is wrong.
    get = obj.get
    mid, topic, trace, source = get("id"), get("topic"), get("trace_id"), get("source")
    at = get("emitted_at")
    if (
        str is type(mid) is type(topic) is type(trace) is type(source)
        and type(at) is float
        and (group is None or type(group) is str)
    ):
        return Message(mid, topic, obj.get("data"), trace, at, source, group)
    if group is not None and not isinstance(group, str):
        raise MalformedEntry(f"'message' field 'group_id' is {group!r}, expected a string")
    return Message(
        id=_field(obj, "id", str),
        topic=_field(obj, "topic", str),
        data=obj.get("data"),
        trace_id=_field(obj, "trace_id", str),
        emitted_at=float(_field(obj, "emitted_at", (int, float))),
        source=_field(obj, "source", str),
        group_id=group,
    )


def decode_attempt(raw: bytes | str | None) -> int:
    try:
        attempt = int(text(raw)) if raw is not None else 0
    except ValueError:
        attempt = 0
    if attempt < 1:
        raise MalformedEntry(f"the 'attempt' field is {raw!r}, expected a whole number >= 1")
    return attempt


def decode_entry(fields: Mapping[Any, Any], topic: str) -> tuple[Message, int]:
    """Message and base attempt of a stream entry (``topic``: of the stream it was read from,
    '' for a step's own stream); ``MalformedEntry`` says what is wrong."""
    message = decode_message(fields.get(b"message", fields.get("message")))
    attempt = decode_attempt(fields.get(b"attempt", fields.get("attempt")))
    if topic and message.topic != topic:
        raise MalformedEntry(f"a message of topic {message.topic!r} in the stream of {topic!r}")
    return message, attempt


def foreign_message(topic: str, entry_id: str, fields: Mapping[Any, Any], now: float) -> Message:
    """A stand-in for an entry that is not a motia message, so it can be dead-lettered and shown."""
    shown = {text(k): text(v)[:2000] for k, v in list(fields.items())[:50]}
    ref = f"foreign:{entry_id}"
    return Message(ref, topic, {"fields": shown}, ref, now, source="foreign")


def dead_letter_fields(delivery: Delivery, error: str, failed_at: float) -> list[str]:
    """The fields of a dead-letter stream entry, flattened (Lua scripts pass them to XADD)."""
    sub = delivery.subscription
    return [
        "message", encode_message(delivery.message),
        "attempt", str(delivery.attempt),
        "error", error,
        "failed_at", repr(failed_at),
        "topic", sub.topic,
        "fifo", "1" if sub.fifo else "0",
        "delay_seconds", repr(sub.delay_seconds),
        "visibility_timeout", repr(sub.visibility_timeout),
    ]  # fmt: skip


def decode_dead_letter(step: str, entry_id: str, raw: Mapping[Any, Any]) -> DeadLetter:
    fields = {text(k): text(v) for k, v in raw.items()}
    try:
        subscription = Subscription(
            step=step,
            topic=fields["topic"],
            fifo=fields.get("fifo") == "1",
            delay_seconds=float(fields.get("delay_seconds", "0")),
            visibility_timeout=float(fields.get("visibility_timeout", "30")),
        )
        letter_id = f"{step}:{entry_id}"
        delivery = Delivery(
            decode_message(fields.get("message")),
            subscription,
            decode_attempt(fields.get("attempt")),
            letter_id,
        )
        return DeadLetter(letter_id, delivery, fields["error"], float(fields["failed_at"]))
    except (KeyError, ValueError) as exc:
        raise MalformedEntry(f"dead letter {step}:{entry_id} is unreadable: {exc!r}") from None


def parse_dead_letter_id(dead_letter_id: str) -> tuple[str, str]:
    """``"Step:1700000000000-0"`` -> ``("Step", "1700000000000-0")``; ``KeyError`` if not one."""
    step, _, entry_id = dead_letter_id.rpartition(":")
    if not step or not _ENTRY_ID.match(entry_id):
        raise KeyError(
            f"{dead_letter_id!r} is not a dead-letter id (they look like 'StepName:1700000000000-0'); "
            "list them with dead_letters() or `motia-rt dead-letters`"
        )
    return step, entry_id


@dataclass(slots=True, eq=False)
class Held:
    """A delivery handed out by this process and not settled yet, and where it lives in Redis."""

    delivery: Delivery
    kind: Literal["topic", "step", "fifo"]
    where: str
    """The stream key; for FIFO, the message group."""
    ref: str
    """The entry id; for FIFO, the lease token."""
    touched: float
    problem: str | None = None
    """Set when the transport dead-letters it itself (malformed, handed out too often)."""


def read_entries(reply: Any) -> Iterator[tuple[str, list[Any]]]:
    """XREADGROUP's reply as (stream, entries): a list of pairs (RESP2) or a dict (RESP3)."""
    if isinstance(reply, dict):
        for stream, value in reply.items():
            yield text(stream), value[0] if value and isinstance(value[0], list) else value
    else:
        for stream, entries in reply or ():
            yield text(stream), entries


async def cancel(tasks: Iterable[asyncio.Task[None]]) -> None:
    """Cancel ``tasks`` and wait for them. Cancels again while any is left: redis-py (8.1) loses
    a cancellation that arrives while it opens a connection, and ``asyncio.wait_for`` (3.11) one
    that arrives as the awaited call completes; the loops also stop on ``_stopping``."""
    left = {task for task in tasks if not task.done()}
    while left:
        for task in left:
            task.cancel()
        _, left = await asyncio.wait(left, timeout=0.05)
