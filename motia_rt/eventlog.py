"""A numbered, bounded log of what the engine did (emits, handler runs), readable from a cursor.

The live topic stream (``GET /__motia/events``) and the workbench read it; a client that fell
behind catches up from its last cursor as long as the log still holds those records.
"""

from __future__ import annotations

import asyncio
from collections import deque
from typing import Any

from .ports import Message
from .tracing import HandlerRun

__all__ = ["EventLog", "LogRecord"]

LogRecord = dict[str, Any]


class EventLog:
    """Engine observer keeping the last ``capacity`` records, each with an increasing ``id``."""

    def __init__(self, capacity: int = 10_000) -> None:
        self._records: deque[LogRecord] = deque(maxlen=capacity)
        self._next = 1
        # Set (and replaced) on each append: waking waiters takes no task and no lock.
        self._appended = asyncio.Event()
        self._waiting = 0

    @property
    def last_id(self) -> int:
        return self._next - 1

    def _append(self, kind: str, body: dict[str, Any]) -> None:
        self._records.append({"id": self._next, "kind": kind, **body})
        self._next += 1
        if self._waiting:
            self._appended.set()
            self._appended = asyncio.Event()

    def on_emit(self, message: Message) -> None:
        self._append("emit", {
            "topic": message.topic, "data": message.data, "traceId": message.trace_id,
            "messageId": message.id, "source": message.source, "time": message.emitted_at,
            "groupId": message.group_id,
        })  # fmt: skip

    def on_run_start(self, run: HandlerRun) -> None:
        self._append("run.start", self._run(run))

    def on_run_end(self, run: HandlerRun) -> None:
        self._append("run.end", self._run(run))

    @staticmethod
    def _run(run: HandlerRun) -> dict[str, Any]:
        body = run.as_dict()
        body["stepKind"] = body.pop("kind")
        return body

    def since(self, cursor: int, limit: int = 1000) -> list[LogRecord]:
        """Records with ``id > cursor``, oldest first (at most ``limit``)."""
        out = [r for r in self._records if r["id"] > cursor]
        return out[:limit]

    async def wait(self, cursor: int, timeout: float) -> list[LogRecord]:
        """Records after ``cursor``, waiting up to ``timeout`` seconds for the first one."""
        if self.last_id > cursor:
            return self.since(cursor)
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
        return self.since(cursor)

    def traces(self, limit: int = 100) -> list[dict[str, Any]]:
        """The most recent traces, newest first, each with its records in order."""
        by_trace: dict[str, list[LogRecord]] = {}
        for record in self._records:
            by_trace.setdefault(record["traceId"], []).append(record)
        recent = sorted(by_trace.items(), key=lambda kv: kv[1][-1]["id"], reverse=True)[:limit]
        return [{"traceId": t, "records": rs} for t, rs in recent]
