"""The four ports the engine runs on: Clock, Transport, StateStore and Services.

The engine imports nothing but these protocols and the message types below. Each port has an
in-memory reference adapter (``motia_rt.clock``, ``motia_rt.transport.memory``,
``motia_rt.state.memory``); Redis and the simulator supply others that pass the same contract suites.
"""

from __future__ import annotations

import json
import json.scanner
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol, TypeAlias, runtime_checkable

import pydantic_core

__all__ = [
    "JSON",
    "UNDECODED",
    "Clock",
    "DeadLetter",
    "DeliverFn",
    "Delivery",
    "Message",
    "Services",
    "StateStore",
    "Subscription",
    "Transport",
    "decode_json",
]

JSON: TypeAlias = Any
"""A value that survives ``json.dumps``/``json.loads`` unchanged (dict, list, str, number, bool, None)."""


class Clock(Protocol):
    """Time as the engine sees it. Real: the asyncio loop; simulated: virtual time."""

    def now(self) -> float:
        """Wall-clock time in seconds since the epoch (timestamps, cron schedules)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back (durations, deadlines)."""
        ...

    async def sleep(self, seconds: float) -> None: ...


UNDECODED: Any = type("Undecoded", (), {"__repr__": lambda self: "UNDECODED"})()
"""Pass as ``Message(data=UNDECODED, raw=text)``: ``data`` is decoded from ``raw`` on first read."""

_from_json: Callable[[str], Any] = pydantic_core.from_json
_scan_json: Callable[[str, int], tuple[Any, int]] = json.scanner.make_scanner(
    json.JSONDecoder()  # type: ignore[arg-type]  # typeshed types the C scanner class oddly
)


class Message:
    """One emitted event as it travels: JSON data plus the trace it belongs to.

    Treat it as immutable. It is a plain slotted class rather than a frozen dataclass because one
    is built per emit and per delivery read from a broker, and a frozen dataclass pays an
    ``object.__setattr__`` per field; for the same reason ``data`` may be left ``UNDECODED`` and
    is then decoded from ``raw`` the first time something reads it.
    """

    __slots__ = ("_data", "emitted_at", "group_id", "id", "raw", "source", "topic", "trace_id")

    def __init__(
        self,
        id: str,
        topic: str,
        data: JSON,
        trace_id: str,
        emitted_at: float,
        source: str = "external",
        group_id: str | None = None,
        raw: str | None = None,
    ) -> None:
        if data is UNDECODED and raw is None:
            raise ValueError("a Message with UNDECODED data needs its raw JSON text")
        self.id = id
        self.topic = topic
        self._data = data
        self.trace_id = trace_id
        self.emitted_at = emitted_at
        self.source = source
        """Name of the emitting step, or ``"external"`` / ``"http"`` / ``"cron"``."""
        self.group_id = group_id
        """Motia's ``messageGroupId``: FIFO subscribers keep order within a group."""
        self.raw = raw
        """``data`` as JSON text, when the emitter has it (a delivery decodes its own copy)."""

    @property
    def data(self) -> JSON:
        if self._data is UNDECODED:
            assert self.raw is not None
            self._data = decode_json(self.raw)
        return self._data

    @property
    def time(self) -> float:
        return self.emitted_at

    def _key(self) -> tuple[Any, ...]:
        return (self.id, self.topic, self.data, self.trace_id, self.emitted_at, self.source,
                self.group_id)  # fmt: skip

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Message)
        return self._key() == other._key()

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return (
            f"Message(id={self.id!r}, topic={self.topic!r}, data={self.data!r}, "
            f"trace_id={self.trace_id!r}, emitted_at={self.emitted_at!r}, "
            f"source={self.source!r}, group_id={self.group_id!r})"
        )


def decode_json(text: str) -> JSON:
    """Decode JSON text this package encoded itself: pydantic-core's parser (about twice as fast
    as the standard library's here), which gives the same values, types and float bits. What it
    refuses goes to the standard library's C scanner: strings with lone surrogates (a Python
    string may hold one, and the encoder writes it as a ``\\u`` escape), and text that is not
    JSON, which then fails with ``json.loads``'s error."""
    try:
        return _from_json(text)
    except ValueError:
        pass
    try:
        value, end = _scan_json(text, 0)
    except StopIteration:
        return json.loads(text)
    if end != len(text):
        return json.loads(text)
    return value


@dataclass(frozen=True, slots=True)
class Subscription:
    """A step subscribed to a topic: the unit the transport delivers to."""

    step: str
    topic: str
    fifo: bool = False
    delay_seconds: float = 0.0
    visibility_timeout: float = 30.0


@dataclass(slots=True)
class Delivery:
    """One attempt at handing ``message`` to the step of ``subscription``. ``attempt`` starts at 1.

    Treat it as immutable (not frozen only because one is built per delivery, see ``Message``)."""

    message: Message
    subscription: Subscription
    attempt: int = 1
    receipt: str = ""
    """Transport-specific handle used by ack/retry/dead_letter (a stream entry id, a counter)."""

    def next_attempt(self) -> Delivery:
        return replace(self, attempt=self.attempt + 1)


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A delivery that will not be retried again, and why."""

    id: str
    delivery: Delivery
    error: str
    failed_at: float
    history: tuple[str, ...] = field(default=())


DeliverFn: TypeAlias = Callable[[Delivery], Awaitable[None]]


class Transport(Protocol):
    """Moves messages from emitters to subscribed steps, at least once.

    The engine calls ``bind`` once with every subscription and its delivery callback, then ``start``.
    For each delivery handed to the callback, the engine settles it exactly once with ``ack``,
    ``retry`` or ``dead_letter``. FIFO subscriptions get at most one unsettled delivery per message
    group at a time, so order within a group holds even while a message is being retried.
    """

    def bind(self, subscriptions: Sequence[Subscription], deliver: DeliverFn) -> None: ...

    async def start(self) -> None: ...

    async def close(self) -> None: ...

    async def publish(self, message: Message) -> None:
        """Queue ``message`` for every subscription of its topic (none: it is only recorded)."""
        ...

    async def ack(self, delivery: Delivery) -> None: ...

    async def retry(self, delivery: Delivery, delay: float) -> None:
        """Deliver ``delivery.next_attempt()`` again after ``delay`` seconds."""
        ...

    async def dead_letter(self, delivery: Delivery, error: str) -> DeadLetter: ...

    async def dead_letters(self, step: str | None = None) -> list[DeadLetter]: ...

    async def redrive(self, dead_letter_id: str) -> Delivery:
        """Deliver a dead letter again to its step only, as attempt 1. Raises ``KeyError``."""
        ...

    def pending(self) -> int:
        """Deliveries queued, running or waiting for a retry in this process (0: settled)."""
        ...

    async def wait_idle(self) -> None:
        """Return once ``pending()`` is 0."""
        ...


@runtime_checkable
class StateStore(Protocol):
    """Key-value state shared by all steps, grouped (Motia uses the trace id or a name as group).

    Values are JSON: a store hands back a copy, never the object that was set.
    """

    async def get(self, group: str, key: str) -> JSON | None: ...

    async def set(self, group: str, key: str, value: JSON) -> JSON: ...

    async def delete(self, group: str, key: str) -> JSON | None:
        """Remove the key; return the value it held, or None."""
        ...

    async def get_group(self, group: str) -> list[JSON]:
        """Every value in ``group``, ordered by key."""
        ...

    async def clear(self, group: str) -> None: ...

    async def items(self, group: str) -> dict[str, JSON]:
        """Every key and value in ``group``, ordered by key (inspection, workbench)."""
        ...

    async def groups(self) -> list[str]:
        """Every group holding at least one key, sorted."""
        ...


class Services(Protocol):
    """Named external dependencies: ``services.payments`` or ``services["payments"]``."""

    def __getattr__(self, name: str) -> Any: ...

    def __getitem__(self, name: str) -> Any: ...

    def names(self) -> list[str]: ...
