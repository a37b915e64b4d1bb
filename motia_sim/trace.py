"""The trace of a simulated run: every delivery, attempt, fault, emit, state write and HTTP exchange,
in virtual time. Same steps, seed and plan give the same trace, byte for byte."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from typing import Any

import httpx

from motia_rt.ports import Message, decode_json
from motia_rt.schema import json_encoder
from motia_rt.tracing import CURRENT_RUN, HandlerRun

__all__ = ["Divergence", "Trace", "TraceEntry", "stable_text"]


_ADDRESS = re.compile(r" at 0x[0-9a-fA-F]+")


def stable_text(text: str) -> str:
    """``text`` without object addresses (``<function f at 0x7f...>`` -> ``<function f>``): they
    differ between runs (pytest's rewritten assertion messages are full of them), a trace must not."""
    return _ADDRESS.sub("", text) if "0x" in text else text


def _stable_repr(value: Any) -> str:
    return stable_text(repr(value))


# ``json.dumps(value, sort_keys=True, separators=(",", ":"), default=_stable_repr)``, built once.
_encode = json_encoder(",", ":", _stable_repr, sort_keys=True, allow_nan=True)


def _compact(value: Any) -> str:
    try:
        return _encode(value)
    except (TypeError, ValueError, RecursionError):  # RecursionError: a cycle
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


_EAGER, _EMIT, _STATE_SET, _CALL, _RESPONSE = range(5)
"""How a row's text is made: given, or formatted from its JSON only when something reads it."""
_ATOMIC = frozenset({str, int, float, bool, type(None)})


def _render(how: int, head: str, body: Any) -> str:
    if how == _EMIT or how == _STATE_SET:
        # ``body`` is JSON text the engine or the store made; decoding it gives the value the
        # eager trace formatted (emitted data is decoded from it, a stored value read back).
        return head + _compact(decode_json(body))
    if how == _CALL:
        args, kwargs = body
        return head + (_compact({"args": list(args), **kwargs}) if kwargs else _compact(list(args)))
    if how == _RESPONSE:
        # Decoded as the response that was returned decodes it: same status, headers and bytes.
        status, headers, content = body
        return f"{status} {httpx.Response(status, headers=headers, content=content).text}"
    return head


class Trace:
    """An append-only list of ``TraceEntry``; also the engine observer that records runs and emits.

    Recording is cheap: a row keeps the JSON the text will show (emitted data, a stored value, a
    service call's plain arguments) and formats it only when the trace is read (``entries``,
    ``lines``, ``timeline``, ``digest``), so a run nobody prints pays for no formatting. The text
    is the same as if it had been formatted at once: rows only defer values nothing can change.
    """

    def __init__(self, clock_now: Any) -> None:
        self._now = clock_now
        # (time, kind, how, head, body, step, topic, key): tuples of strings and numbers, which
        # the garbage collector stops tracking, so a long trace does not slow collections.
        self._rows: list[tuple[Any, ...]] = []
        self._entries: list[TraceEntry] = []
        self._labels: dict[int, str] = {}
        """id(run) -> ``Step#n`` (its n-th run, as ``crash step=Step run=n`` counts), while it runs."""
        self._run_counts: dict[str, int] = {}

    def label(self, run: HandlerRun | None) -> str:
        """``Step#n`` for the n-th run of a step, or ``scenario`` outside any run: how the rows a
        run issues (its state operations, service calls) name it."""
        if run is None:
            return "scenario"
        return self._labels.get(id(run)) or run.step

    def add(self, kind: str, text: str, *, step: str | None = None, topic: str | None = None,
            key: str | None = None) -> None:  # fmt: skip
        if "0x" in text:
            text = stable_text(text)
        self._rows.append((round(self._now(), 6), kind, _EAGER, text, None, step, topic, key))

    def _add_state_set(self, head: str, stored: str, step: str | None, key: str) -> None:
        """A ``state set`` line whose value is ``stored``, the store's JSON text of it."""
        self._rows.append((round(self._now(), 6), "state", _STATE_SET, head, stored, step, None,
                           key))  # fmt: skip

    def _add_call(self, head: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                  step: str | None) -> None:  # fmt: skip
        """A ``call`` line: arguments that are all plain values are formatted when read; any
        other argument could change before then, so the line is formatted now."""
        for value in (*args, *kwargs.values()):
            if type(value) not in _ATOMIC:
                self.add("call", _render(_CALL, head, (args, kwargs)), step=step)
                return
        self._rows.append((round(self._now(), 6), "call", _CALL, head, (args, dict(kwargs)), step,
                           None, None))  # fmt: skip

    def _add_response(self, response: httpx.Response) -> None:
        """The ``http`` line of a response: its text, decoded only if the trace is read."""
        body = (response.status_code, response.headers.raw, response.content)
        self._rows.append((round(self._now(), 6), "http", _RESPONSE, "", body, None, None, None))

    @property
    def entries(self) -> list[TraceEntry]:
        """Every entry, oldest first (formatted on first read; later reads reuse them)."""
        entries, rows = self._entries, self._rows
        for time, kind, how, head, body, step, topic, key in rows[len(entries) :]:
            text = head if how == _EAGER else _render(how, head, body)
            entries.append(TraceEntry(time, kind, text, step, topic, key))
        return entries

    # -- EngineObserver ----------------------------------------------------------------------

    def on_emit(self, message: Message) -> None:
        group = f" group={message.group_id}" if message.group_id else ""
        run = CURRENT_RUN.get()
        source = self._labels.get(id(run), message.source) if run else message.source
        head = f"{message.topic} by {source} trace={message.trace_id[:8]}{group} "
        raw = message.raw
        if raw is None:
            self.add("emit", head + _compact(message.data), step=message.source,
                     topic=message.topic)  # fmt: skip
        else:
            self._rows.append((round(self._now(), 6), "emit", _EMIT, head, raw, message.source,
                               message.topic, None))  # fmt: skip

    def on_run_start(self, run: HandlerRun) -> None:
        n = self._run_counts.get(run.step, 0) + 1
        self._run_counts[run.step] = n
        label = self._labels[id(run)] = f"{run.step}#{n}"
        source = f" <- {run.topic}" if run.topic else f" ({run.kind})"
        self.add("run", f"{label}{source} attempt {run.attempt} trace={run.trace_id[:8]}",
                 step=run.step, topic=run.topic)  # fmt: skip

    def on_run_end(self, run: HandlerRun) -> None:
        error = f": {run.error}" if run.error else ""
        label = self._labels.pop(id(run), run.step)
        self.add("end", f"{label} {run.outcome}{error}", step=run.step, topic=run.topic)

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
        mine, theirs = self.entries, other.entries
        for i, (a, b) in enumerate(zip(mine, theirs, strict=False)):
            if a != b:
                return Divergence(i, a, b)
        if len(mine) != len(theirs):
            n = min(len(mine), len(theirs))
            return Divergence(n, mine[n] if n < len(mine) else None,
                              theirs[n] if n < len(theirs) else None)  # fmt: skip
        return None

    def __len__(self) -> int:
        return len(self._rows)


compact = _compact
