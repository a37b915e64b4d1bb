"""Key names and entry encoding of the Redis Streams transport: JSON text only, never pickle.

A stream entry carries three fields: ``message`` (the ``Message`` as a JSON object), ``attempt``
(the attempt this copy starts at, a decimal) and, when the message has one, ``group`` (its
``messageGroupId``, kept outside the JSON so Lua scripts can route FIFO groups without parsing).
"""

from __future__ import annotations

import asyncio
import json
import math
import re
from collections.abc import Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from ..ports import DeadLetter, Delivery, Message, Subscription

__all__ = [
    "UNDECODABLE",
    "Held",
    "Keys",
    "MalformedEntry",
    "cancel",
    "dead_letter_fields",
    "decode_attempt",
    "decode_dead_letter",
    "decode_entry",
    "decode_fifo_head",
    "decode_message",
    "encode_message",
    "entry_fields",
    "parse_dead_letter_id",
    "read_entries",
    "text",
    "undecodable_message",
    "why",
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
        raise MalformedEntry(f"'message' field {name!r} is {_short(value)}, expected {kind}")
    return value


def _short(value: Any) -> str:
    shown = repr(value)
    return shown if len(shown) <= 80 else shown[:77] + "..."


def _refuse_constant(name: str) -> Any:
    raise MalformedEntry(f"the 'message' field holds {name}, which is not JSON")


def _finite_float(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise MalformedEntry(f"the 'message' field holds the number {_short(literal)}, too large "
                             "for a float (it would be infinity, which is not JSON)")  # fmt: skip
    return value


# Strict JSON only: what NaN, Infinity or an overflowing number would make of a message cannot be
# written back (retry, dead letter) nor handed to a step as JSON. The hooks cost about 0.3 us a
# message; the C scanner still does the parsing.
_strict_json = json.JSONDecoder(parse_constant=_refuse_constant, parse_float=_finite_float).decode

MAX_ATTEMPT = 1_000_000
"""The largest ``attempt`` an entry may carry; more is corruption, not a retry count."""


def decode_message(raw: bytes | str | None) -> Message:
    """The ``Message`` in an entry's ``message`` field; ``MalformedEntry`` (only) says what is
    wrong, whatever the field holds: not JSON, NaN or an overflowing number, nesting too deep to
    decode, a field of the wrong type."""
    if raw is None:
        raise MalformedEntry("the entry has no 'message' field")
    try:
        obj = _strict_json(raw if isinstance(raw, str) else raw.decode("utf-8"))
    except MalformedEntry:
        raise
    except (ValueError, UnicodeDecodeError) as exc:
        raise MalformedEntry(f"the 'message' field is not JSON: {exc}") from None
    except RecursionError:
        raise MalformedEntry("the 'message' field is nested too deeply to decode") from None
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
        raise MalformedEntry(f"'message' field 'group_id' is {_short(group)}, expected a string")
    mid, topic, trace = (
        _field(obj, "id", str),
        _field(obj, "topic", str),
        _field(obj, "trace_id", str),
    )
    at = _field(obj, "emitted_at", (int, float))
    try:
        emitted_at = float(at)
    except OverflowError:
        raise MalformedEntry(f"'message' field 'emitted_at' is {_short(at)}, not a time") from None
    return Message(
        mid, topic, obj.get("data"), trace, emitted_at, _field(obj, "source", str), group
    )


def decode_attempt(raw: bytes | str | None) -> int:
    try:
        attempt = int(text(raw)) if raw is not None else 0
    except ValueError:
        attempt = 0
    if not 1 <= attempt <= MAX_ATTEMPT:
        raise MalformedEntry(
            f"the 'attempt' field is {_short(raw)}, expected a whole number from 1 to {MAX_ATTEMPT}"
        )
    return attempt


def decode_entry(fields: Mapping[Any, Any], topic: str) -> tuple[Message, int, bytes | str]:
    """Message, base attempt and raw ``message`` field of a stream entry (``topic``: of the
    stream it was read from, '' for a step's own stream); ``MalformedEntry`` says what is wrong.

    The raw field is what the transport writes back when it moves the delivery (retry, release,
    dead letter): never re-encoded, so whatever could be read can be moved."""
    raw = fields.get(b"message", fields.get("message"))
    message = decode_message(raw)
    attempt = decode_attempt(fields.get(b"attempt", fields.get("attempt")))
    assert raw is not None
    if topic:
        if message.topic != topic:
            raise MalformedEntry(
                f"a message of topic {_short(message.topic)} in the stream of {topic!r}"
            )
        group = fields.get(b"group", fields.get("group"))
        if (text(group) if group is not None else None) != message.group_id:
            raise MalformedEntry(
                f"the entry's 'group' field is {_short(group)} but its message's group_id is "
                f"{_short(message.group_id)}"
            )
    return message, attempt, raw


def decode_fifo_head(head: str, group: str, topics: Collection[str]) -> tuple[Message, int, str]:
    """Message, base attempt and raw message of the head of a FIFO group's queue (``FIFO_ADMIT``
    wrote ``attempt:message``, or ``!entry-id`` for an entry without a message); the message
    must be of one of ``topics`` and of this ``group``. ``MalformedEntry`` says what is wrong."""
    if head.startswith("!"):
        raise MalformedEntry(f"entry {head[1:]} of a topic stream has no 'message' field")
    attempt, _, raw = head.partition(":")
    message, base, _ = decode_entry({"message": raw, "attempt": attempt}, "")
    if message.topic not in topics:
        raise MalformedEntry(f"a message of topic {_short(message.topic)} in a FIFO queue of "
                             f"{sorted(topics)}")  # fmt: skip
    if (message.group_id or "") != group:
        raise MalformedEntry(f"a message of group {_short(message.group_id)} in the queue of "
                             f"group {group!r}")  # fmt: skip
    return message, base, raw


def why(exc: BaseException) -> str:
    """What was wrong with an entry, for its dead letter (any exception decoding raised)."""
    if isinstance(exc, MalformedEntry):
        return str(exc)
    if isinstance(exc, RecursionError):
        return "nested too deeply to decode"
    return f"{type(exc).__name__}: {exc}"


UNDECODABLE = "undecodable"
"""The ``source`` of the stand-in message a dead letter holds for an entry that could not be
decoded; its data is ``{"fields": {name: raw text}}``, the entry as it was, never re-encoded."""


def undecodable_message(
    topic: str, entry_id: str, fields: Mapping[Any, Any], now: float
) -> Message:
    """A stand-in for an entry that is not a readable motia message (written by something else,
    corrupted, hostile), so it can be dead-lettered and shown: its fields as text."""
    shown = {text(k): text(v) for k, v in fields.items()}
    ref = f"{UNDECODABLE}:{entry_id}"
    return Message(ref, topic, {"fields": shown}, ref, now, source=UNDECODABLE)


def dead_letter_fields(
    delivery: Delivery, error: str, failed_at: float, raw: bytes | str | None = None
) -> list[Any]:
    """The fields of a dead-letter stream entry, flattened (Lua scripts pass them to XADD).
    ``raw``: the ``message`` field as it was read, written as it is (see ``decode_entry``)."""
    sub = delivery.subscription
    return [
        "message", raw if raw is not None else encode_message(delivery.message),
        "attempt", str(delivery.attempt),
        "error", error,
        "failed_at", repr(failed_at),
        "topic", sub.topic,
        "fifo", "1" if sub.fifo else "0",
        "delay_seconds", repr(sub.delay_seconds),
        "visibility_timeout", repr(sub.visibility_timeout),
    ]  # fmt: skip


def decode_dead_letter(step: str, entry_id: str, raw: Mapping[Any, Any]) -> DeadLetter:
    """A dead-letter entry as a ``DeadLetter``. A ``message`` that cannot be decoded (a step's
    input that held something no JSON encoder writes) comes back as an ``undecodable`` stand-in
    holding its text, so listing never hides a letter; ``MalformedEntry`` only if the entry is
    not a dead letter at all."""
    fields = {text(k): text(v) for k, v in raw.items()}
    letter_id = f"{step}:{entry_id}"
    try:
        subscription = Subscription(
            step=step,
            topic=fields["topic"],
            fifo=fields.get("fifo") == "1",
            delay_seconds=float(fields.get("delay_seconds", "0")),
            visibility_timeout=float(fields.get("visibility_timeout", "30")),
        )
        error, failed_at = fields["error"], float(fields["failed_at"])
    except (KeyError, ValueError) as exc:
        raise MalformedEntry(f"dead letter {letter_id} is unreadable: {exc!r}") from None
    try:
        message = decode_message(fields.get("message"))
    except MalformedEntry as exc:
        shown = {"message": fields.get("message", "")}
        message = undecodable_message(subscription.topic, entry_id, shown, failed_at)
        error = f"{error} (its message cannot be decoded: {exc})"
    try:
        attempt = decode_attempt(fields.get("attempt"))
    except MalformedEntry:
        attempt = 1
    delivery = Delivery(message, subscription, attempt, letter_id)
    return DeadLetter(letter_id, delivery, error, failed_at)


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
    raw: bytes | str | None = None
    """The message as read, written back as it is when the delivery moves (None: encode it)."""


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
