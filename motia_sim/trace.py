"""The trace of a simulated run: every delivery, attempt, fault, emit, state write and HTTP exchange,
in virtual time. Same steps, seed and plan give the same trace, byte for byte."""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from motia_rt.ports import Message
from motia_rt.tracing import HandlerRun

__all__ = ["Divergence", "Trace", "TraceEntry"]


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def _stable_repr(value: Any) -> str:
    # Object addresses differ between runs; a trace must not.
    return _ADDRESS.sub("", repr(value))


def _compact(value: Any) -> str:
    try:
        return json.dumps(value, sort_keys=True, separators=(",", ":"), default=_stable_repr)
    except (TypeError, ValueError):
        return _stable_repr(value)


@dataclass(frozen=True, slots=True)
class TraceEntry:
    time: float
    kind: str
    """``http``, ``emit``, ``run``, ``end``, ``state``, ``call``, ``fault``, ``retry``, ``dead``,
    ``broken`` (an invariant), ``error`` (the scenario raised)."""
    text: str
    step: str | None = None
    topic: str | None = None
    key: str | None = None

    def line(self, width: int | None = None) -> str:
        text = (
            self.text
            if width is None or len(self.text) <= width
            else self.text[: width - 3] + "..."
        )
        return f"{self.time:10.3f}s  {self.kind:<6} {text}"


@dataclass(frozen=True, slots=True)
class Divergence:
    """Where two runs that should be identical first differ."""

    index: int
    first: TraceEntry | None
    second: TraceEntry | None

    def __str__(self) -> str:
        def show(e: TraceEntry | None) -> str:
            if e is None:
                return "(run ended)"
            where = ", ".join(
                f"{k}={v}"
                for k, v in (("step", e.step), ("topic", e.topic), ("state key", e.key))
                if v
            )
            return f"{e.line()}" + (f"   [{where}]" if where else "")

        return (
            f"runs diverge at event #{self.index}:\n  run 1: {show(self.first)}\n"
            f"  run 2: {show(self.second)}"
        )


class Trace:
    """An append-only list of ``TraceEntry``; also the engine observer that records runs and emits."""

    def __init__(self, clock_now: Any) -> None:
        self._now = clock_now
        self.entries: list[TraceEntry] = []

    def add(self, kind: str, text: str, *, step: str | None = None, topic: str | None = None,
            key: str | None = None) -> None:  # fmt: skip
        self.entries.append(TraceEntry(round(self._now(), 6), kind, text, step, topic, key))

    # -- EngineObserver ----------------------------------------------------------------------

    def on_emit(self, message: Message) -> None:
        group = f" group={message.group_id}" if message.group_id else ""
        self.add("emit", f"{message.topic} by {message.source} trace={message.trace_id[:8]}{group} "
                 f"{_compact(message.data)}", step=message.source, topic=message.topic)  # fmt: skip

    def on_run_start(self, run: HandlerRun) -> None:
        source = f" <- {run.topic}" if run.topic else f" ({run.kind})"
        self.add("run", f"{run.step}{source} attempt {run.attempt} trace={run.trace_id[:8]}",
                 step=run.step, topic=run.topic)  # fmt: skip

    def on_run_end(self, run: HandlerRun) -> None:
        error = f": {run.error}" if run.error else ""
        self.add("end", f"{run.step} {run.outcome}{error}", step=run.step, topic=run.topic)

    # -- reading -------------------------------------------------------------------------------

    def lines(self, width: int | None = None) -> list[str]:
        return [e.line(width) for e in self.entries]

    def timeline(self, width: int = 160, limit: int = 200) -> str:
        """The readable form printed on a failure (long runs show their first and last events)."""
        lines = self.lines(width)
        if len(lines) > limit:
            half = limit // 2
            skipped = len(lines) - 2 * half
            lines = [*lines[:half], f"   ... {skipped} events skipped ...", *lines[-half:]]
        return "\n".join(lines)

    def digest(self) -> str:
        """SHA-256 of the full trace text: equal digests mean byte-identical traces."""
        h = hashlib.sha256()
        for line in self.lines():
            h.update(line.encode())
            h.update(b"\n")
        return h.hexdigest()

    def diverges_from(self, other: Trace) -> Divergence | None:
        for i, (a, b) in enumerate(zip(self.entries, other.entries, strict=False)):
            if a != b:
                return Divergence(i, a, b)
        if len(self.entries) != len(other.entries):
            n = min(len(self.entries), len(other.entries))
            mine = self.entries[n] if n < len(self.entries) else None
            theirs = other.entries[n] if n < len(other.entries) else None
            return Divergence(n, mine, theirs)
        return None

    def __len__(self) -> int:
        return len(self.entries)


compact = _compact
