"""The test surface shared by the in-process runtime and the simulator.

``post/get/request``, ``emit``, ``wait_for_topic``, ``emitted``, ``logs``, ``state``,
``trigger_cron``, ``settle`` and ``dead_letters`` behave the same whichever ports the engine runs
on; only time differs (real in ``motia_rt.testing.Runtime``, virtual in ``motia_sim.Simulation``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeAlias

import httpx
from starlette.types import ASGIApp

from .context import ServiceRegistry, watch_logs
from .engine import Engine
from .errors import TopicTimeout
from .ports import DeadLetter, Delivery, Message, StateStore
from .tracing import CURRENT_RUN, HandlerRun

__all__ = ["LOG_LEVELS", "Harness", "LogEntry", "Match", "matches"]

LOG_LEVELS = ("debug", "info", "warn", "error")


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One ``context.logger`` call a step made: ``logger.info("charged", {"amount": 5})`` is
    ``LogEntry(step, trace_id, "info", "charged", {"amount": 5}, time)``. ``time`` is the engine's
    wall clock (virtual in the simulator), as ``HandlerRun.started``."""

    step: str
    trace_id: str
    level: str
    message: str
    fields: dict[str, Any]
    time: float


Match: TypeAlias = Mapping[str, Any] | Callable[[Any], bool] | None


def matches(match: Match, data: Any) -> bool:
    """True when ``match`` is None, a predicate that accepts ``data``, or a dict that is a
    (recursive) subset of ``data``."""
    if match is None:
        return True
    if callable(match):
        return bool(match(data))
    return _subset(match, data)


def _subset(expected: Any, actual: Any) -> bool:
    if isinstance(expected, Mapping):
        return isinstance(actual, Mapping) and all(
            k in actual and _subset(v, actual[k]) for k, v in expected.items()
        )
    return bool(expected == actual)


class Harness:
    """Drives an engine and its HTTP app in-process. Subclasses attach both with ``_attach``."""

    engine: Engine
    _client: httpx.AsyncClient

    def _attach(self, engine: Engine, app: ASGIApp) -> None:
        self.engine = engine
        self._waiters: list[tuple[str, Match, asyncio.Future[Message]]] = []
        self._client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://motia.test"
        )
        self._logs: list[LogEntry] = []
        self._run_ids: set[int] = set()
        self._stop_watching_logs = watch_logs(self._on_log)
        engine.add_observer(self)

    async def _detach(self) -> None:
        await self._client.aclose()
        self.engine.remove_observer(self)
        self._stop_watching_logs()

    async def aclose(self) -> None:
        """Close the in-process HTTP client and stop observing the engine (the engine stays up)."""
        await self._detach()

    fault_free: bool = True
    """False only in a simulated run with a fault plan: guard fault-free-only expectations."""

    def now(self) -> float:
        """Seconds on the engine's monotonic clock (virtual in the simulator)."""
        return self.engine.clock.monotonic()

    async def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass: real time in ``Runtime``, virtual (free) in the simulator.

        Work due at the very end of the interval (a cron tick at that instant) has started, and
        so counts for ``settle()``, when this returns.
        """
        await self.engine.clock.sleep(seconds)
        for _ in range(3):  # timer wake-up, then the tick's task, then its handler run begins
            await asyncio.sleep(0)

    # -- EngineObserver ----------------------------------------------------------------------

    def on_emit(self, message: Message) -> None:
        for waiter in list(self._waiters):
            topic, match, future = waiter
            if topic == message.topic and not future.done() and matches(match, message.data):
                future.set_result(message)

    def on_run_start(self, run: HandlerRun) -> None:
        # The engine keeps every run in ``engine.runs``, so an id here is never reused.
        self._run_ids.add(id(run))

    def _on_log(self, step: str, trace_id: str, level: str, message: str,
                fields: dict[str, Any]) -> None:  # fmt: skip
        run = CURRENT_RUN.get()
        if run is not None and id(run) in self._run_ids:  # this engine's run, not another's
            self._logs.append(LogEntry(step, trace_id, level, message, fields,
                                       self.engine.clock.now()))  # fmt: skip

    # -- HTTP ------------------------------------------------------------------------------------

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Send a request to the app in-process (``json=``, ``headers=``, ``params=`` as httpx)."""
        return await self._client.request(method, url, **kwargs)

    async def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("GET", url, **kwargs)

    async def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return await self.request("POST", url, **kwargs)

    # -- events ----------------------------------------------------------------------------------

    async def emit(
        self, topic: str, data: Any, *, group_id: str | None = None, trace_id: str | None = None
    ) -> Message:
        """Emit from outside the app, on a new trace or on ``trace_id`` (Motia's
        ``emit({topic, data, traceId})``); returns the message as sent."""
        if trace_id is not None and not (isinstance(trace_id, str) and trace_id):
            raise ValueError(f"trace_id must be a non-empty string or None, got {trace_id!r}")
        return await self.engine.emit_external(topic, data, trace_id=trace_id, group_id=group_id)

    def emitted(self, topic: str | None = None) -> list[Message]:
        """Every event emitted so far (by steps and by ``emit``), oldest first."""
        return [m for m in self.engine.events if topic is None or m.topic == topic]

    async def wait_for_topic(
        self, topic: str, match: Match = None, timeout: float = 5.0
    ) -> Message:
        """The first event on ``topic`` whose data matches, already emitted or emitted within
        ``timeout`` seconds. ``match`` is a dict that must be a subset of the data, or a predicate.

        Raises ``TopicTimeout`` listing what was emitted instead.
        """
        for message in self.engine.events:
            if message.topic == topic and matches(match, message.data):
                return message
        future: asyncio.Future[Message] = asyncio.get_running_loop().create_future()
        waiter = (topic, match, future)
        self._waiters.append(waiter)
        try:
            async with asyncio.timeout(timeout):
                return await future
        except TimeoutError:
            seen = [(m.topic, m.data) for m in self.engine.events]
            raise TopicTimeout(topic, timeout, match, seen) from None
        finally:
            self._waiters.remove(waiter)

    def logs(
        self, step: str | None = None, level: str | None = None, *, trace_id: str | None = None
    ) -> list[LogEntry]:
        """What steps logged through ``context.logger`` so far, oldest first, at every level
        whatever stdlib logging lets through; filtered by step, level and trace when given."""
        if level is not None and level not in LOG_LEVELS:
            raise ValueError(f"unknown log level {level!r}: use one of {', '.join(LOG_LEVELS)}")
        return [e for e in self._logs
                if (step is None or e.step == step) and (level is None or e.level == level)
                and (trace_id is None or e.trace_id == trace_id)]  # fmt: skip

    # -- state, cron, quiescence, dead letters -----------------------------------------------

    @property
    def state(self) -> StateStore:
        """The state store itself: seed it before a test, inspect it after."""
        return self.engine.state

    @property
    def services(self) -> ServiceRegistry:
        return self.engine.services

    def runs(self, step: str | None = None) -> list[HandlerRun]:
        """Every handler run recorded so far (step, topic, attempt, start, end, outcome, error)."""
        return [r for r in self.engine.runs if step is None or r.step == step]

    async def trigger_cron(self, name: str) -> HandlerRun:
        """Run the cron step ``name`` once, now; returns its run (check ``.outcome``)."""
        return await self.engine.run_cron(name)

    async def settle(self, timeout: float = 30.0) -> None:
        """Wait until no delivery is queued, running or waiting to retry, and no handler runs."""
        try:
            async with asyncio.timeout(timeout):
                await self.engine.settle()
        except TimeoutError:
            raise TimeoutError(
                f"still busy after {timeout}s: {self.engine.transport.pending()} deliveries "
                f"pending; running: {[r.step for r in self.engine.runs if r.outcome == 'running']}"
            ) from None

    async def dead_letters(self, step: str | None = None) -> list[DeadLetter]:
        return await self.engine.dead_letters(step)

    async def redrive(self, dead_letter_id: str) -> Delivery:
        return await self.engine.redrive(dead_letter_id)
