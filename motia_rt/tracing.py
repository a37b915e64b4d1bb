"""What the engine records: handler runs, and the observer interface that sees runs and emits."""

from __future__ import annotations

import random
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias

__all__ = [
    "CURRENT_RUN",
    "EngineObserver",
    "HandlerRun",
    "IdSource",
    "RunOutcome",
]

RunOutcome: TypeAlias = Literal["running", "ok", "error", "timeout", "invalid"]


@dataclass(slots=True)
class HandlerRun:
    """One execution of one handler: an event delivery attempt, an HTTP request or a cron tick."""

    step: str
    kind: Literal["api", "event", "cron", "state"]
    trace_id: str
    started: float
    attempt: int = 1
    topic: str | None = None
    message_id: str | None = None
    ended: float | None = None
    outcome: RunOutcome = "running"
    error: str | None = None
    settled: str | None = None
    """What the transport was told afterwards: ``ack``, ``retry``, ``dead_letter`` (events only)."""
    retryable: bool = True
    """False when the run failed in a way another attempt would repeat (an emit its step does
    not declare): the delivery goes to the dead letters at once."""

    def as_dict(self) -> dict[str, object]:
        return {
            "step": self.step,
            "kind": self.kind,
            "traceId": self.trace_id,
            "attempt": self.attempt,
            "topic": self.topic,
            "messageId": self.message_id,
            "started": self.started,
            "ended": self.ended,
            "outcome": self.outcome,
            "error": self.error,
            "settled": self.settled,
        }


CURRENT_RUN: ContextVar[HandlerRun | None] = ContextVar("motia_current_run", default=None)
"""The handler run the current task belongs to (simulated ports use it to attribute side effects)."""


class EngineObserver(Protocol):
    """Sees what the engine does; the harness, tracer and SSE stream are observers. Each hook is
    optional (as trio's instruments): ``Engine.add_observer`` calls only the ones an observer
    defines, ``on_emit(message)``, ``on_run_start(run)`` and ``on_run_end(run)``, in the order the
    observers were added. A hook may raise to fail the emit or the run (the simulator's crashes)."""


class IdSource:
    """Trace and message ids from a ``random.Random``, so a seeded engine is deterministic."""

    __slots__ = ("_rng",)

    def __init__(self, rng: random.Random) -> None:
        self._rng = rng

    def trace_id(self) -> str:
        h = f"{self._rng.getrandbits(128):032x}"
        return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"

    def message_id(self) -> str:
        return f"{self._rng.getrandbits(64):016x}"
