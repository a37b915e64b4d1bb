"""A numbered, bounded log of what the engine did (emits, handler runs), readable from a cursor.

The live topic stream (``GET /__motia/events``) and the workbench read it; a client that fell
behind catches up from its last cursor as long as the log still holds those records.

Bounded three ways, so that no run of the app can make it hold much memory: at most
``capacity`` records, at most ``max_bytes`` of their JSON in all, and no record over
``max_record_bytes`` (a bigger one keeps its short fields and says ``"truncated": <size>``).
Sizes are counted from above without encoding anything (an emit's data is JSON text already),
and a record is encoded once, when a stream first reads it: every stream sends that text.
"""

from __future__ import annotations

import asyncio
import math
from collections import deque
from itertools import islice
from typing import Any

from .ports import Message
from .schema import json_encoder
from .tracing import HandlerRun

__all__ = ["EventLog", "LogEntry", "LogRecord"]

LogRecord = dict[str, Any]

_encode = json_encoder(",", ":", lambda value: repr(value), ascii_only=False)
# What a record holds besides an emit's data or a run's step name and error (ids, topic and
# group counted apart, times, outcome), in characters, at most.
_ENVELOPE = 320


class LogEntry:
    """One record of the log; its JSON ``text`` is made when a stream first reads it, once."""

    __slots__ = ("_text", "id", "kind", "record", "size")

    def __init__(self, record: LogRecord, size: int) -> None:
        self.id: int = record["id"]
        self.kind: str = record["kind"]
        self.record = record
        self.size = size
        """At least ``len(text)``, known without encoding: what the log's bounds count."""
        self._text: str | None = None

    @property
    def text(self) -> str:
        """``record`` as JSON, one line; a record that cannot be JSON keeps its short fields."""
        if self._text is None:
            try:
                self._text = _encode(self.record)
            except (ValueError, RecursionError):  # NaN, or nested past what the encoder reaches
                _shorten(self.record, self.size)
                self._text = _encode(self.record)
        return self._text


class EventLog:
    """Engine observer keeping the most recent records, each with an increasing ``id``."""

    def __init__(
        self,
        capacity: int = 10_000,
        *,
        max_bytes: int = 16 * 1024 * 1024,
        max_record_bytes: int = 64 * 1024,
    ) -> None:
        self.capacity, self.max_bytes, self.max_record_bytes = capacity, max_bytes, max_record_bytes
        self._entries: deque[LogEntry] = deque()
        self._bytes = 0
        self._next = 1
        # Set (and replaced) on each append: waking waiters takes no task and no lock.
        self._appended = asyncio.Event()
        self._waiting = 0

    @property
    def last_id(self) -> int:
        return self._next - 1

    @property
    def size_bytes(self) -> int:
        """What the log's records take as JSON text, in characters, counted from above."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)

    def _append(self, kind: str, body: dict[str, Any], size: int) -> None:
        """Log a record whose JSON text is at most ``size`` characters."""
        record = {"id": self._next, "kind": kind, **body}
        if size > self.max_record_bytes:
            _shorten(record, size)
            size = _ENVELOPE
        self._entries.append(LogEntry(record, size))
        self._bytes += size
        while len(self._entries) > self.capacity or self._bytes > self.max_bytes:
            self._bytes -= self._entries.popleft().size
        self._next += 1
        if self._waiting:
            self._appended.set()
            self._appended = asyncio.Event()

    def on_emit(self, message: Message) -> None:
        # The engine's message carries its data as JSON text (with spaces, ASCII-escaped: longer
        # than this log's form), so its length bounds the record's without encoding anything here.
        raw = message.raw if message.raw is not None else _encode_or_empty(message.data)
        names = len(message.topic) + len(message.source) + len(message.group_id or "")
        size = _ENVELOPE + len(raw) + 6 * names
        self._append("emit", {
            "topic": message.topic,
            "data": None if size > self.max_record_bytes else message.data,
            "traceId": message.trace_id, "messageId": message.id, "source": message.source,
            "time": message.emitted_at, "groupId": message.group_id,
        }, size)  # fmt: skip

    def on_run_start(self, run: HandlerRun) -> None:
        self._append("run.start", self._run(run), _run_size(run))

    def on_run_end(self, run: HandlerRun) -> None:
        self._append("run.end", self._run(run), _run_size(run))

    @staticmethod
    def _run(run: HandlerRun) -> dict[str, Any]:
        body = run.as_dict()
        body["stepKind"] = body.pop("kind")
        return body

    def entries_since(self, cursor: int, limit: int = 1000) -> list[LogEntry]:
        """Entries with ``id > cursor``, oldest first (at most ``limit``)."""
        newer = min(self.last_id - cursor, len(self._entries))
        if newer <= 0:
            return []
        # From the right end: a reader that keeps up costs what it reads, not the log's length.
        tail = list(islice(reversed(self._entries), newer))
        tail.reverse()
        return tail[:limit]

    def since(self, cursor: int, limit: int = 1000) -> list[LogRecord]:
        """Records with ``id > cursor``, oldest first (at most ``limit``)."""
        return [entry.record for entry in self.entries_since(cursor, limit)]

    async def wait(self, cursor: int, timeout: float, limit: int = 1000) -> list[LogEntry]:
        """Entries after ``cursor``, waiting up to ``timeout`` seconds for the first one."""
        if self.last_id > cursor:
            return self.entries_since(cursor, limit)
        if not self._waiting:
            self._appended = asyncio.Event()  # bound to this loop, not one a past waiter ran in
        self._waiting += 1
        try:
            async with asyncio.timeout(timeout):
                while self.last_id <= cursor:
                    await self._appended.wait()
        except TimeoutError:
            return []
        finally:
            self._waiting -= 1
        return self.entries_since(cursor, limit)

    def traces(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent traces, newest first, each with its records in order."""
        by_trace: dict[str, list[LogRecord]] = {}
        for entry in self._entries:
            by_trace.setdefault(entry.record["traceId"], []).append(entry.record)
        recent = sorted(by_trace.items(), key=lambda kv: kv[1][-1]["id"], reverse=True)[:limit]
        return [{"traceId": t, "records": rs} for t, rs in recent]


def _run_size(run: HandlerRun) -> int:
    # Times of a run are floats (repr: at most 24 characters); names and the error may need
    # escaping, each character at most 6 (\\u0000).
    return _ENVELOPE + 6 * (len(run.step) + len(run.topic or "") + len(run.error or ""))


def _encode_or_empty(data: Any) -> str:
    try:
        return _encode(data)
    except (ValueError, RecursionError):
        return ""  # the text is made, shortened, when a stream reads it


def _shorten(record: LogRecord, size: int) -> None:
    """Keep only the short fields (ids, names, outcome) and say how big the record was."""
    short = {k: v for k, v in record.items() if _is_short(v) and k != "data"}
    record.clear()
    record.update(short, truncated=size)


def _is_short(value: Any) -> bool:
    if isinstance(value, str):
        return len(value) <= 256
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, int | bool)
