"""``Runtime``: the real engine and ASGI app in-process, in real time, for tests.

    async with Runtime("steps") as rt:
        order = (await rt.post("/orders", json={...})).json()
        await rt.wait_for_topic("payment.succeeded", match={"orderId": order["orderId"]})

or from sync code: ``Runtime("steps").run(scenario)`` where ``scenario`` is ``async def (rt)``.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import Awaitable, Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

from .clock import AsyncioClock
from .cron import CronScheduler
from .engine import Engine, RetryPolicy
from .errors import EmitNotDeclared, TopicTimeout
from .harness import Harness
from .http import DEFAULT_BODY_LIMIT, build_app
from .loader import load_steps
from .network import HttpFakes, VirtualNetwork, fakes_of, routing
from .ports import StateStore, Transport
from .recording import Recorder
from .remote import MotiaTestClient, RemoteEvent
from .state.memory import MemoryStateStore
from .transport.memory import MemoryTransport

__all__ = [
    "TEST_RETRY",
    "EmitNotDeclared",
    "MotiaTestClient",
    "RemoteEvent",
    "Runtime",
    "TopicTimeout",
]

T = TypeVar("T")

TEST_RETRY = RetryPolicy(base=0.01, factor=2.0, cap=0.5, jitter=0.5)
"""Backoff used by ``Runtime`` unless told otherwise: real time, but short, so tests stay fast."""


class Runtime(Harness):
    """The in-process runtime as a test harness (see ``motia_rt.harness.Harness`` for methods).

    Parameters: ``steps_dir`` the folder of ``*_step.py``; ``services`` override the app's default
    services by name; ``state`` and ``transport`` replace the in-memory adapters; ``retry`` the
    backoff (default ``TEST_RETRY``, 10 ms doubling); ``cron=True`` also runs cron steps on their
    schedule (``trigger_cron`` works either way); ``seed`` makes ids and jitter reproducible;
    ``http`` routes the steps' outbound httpx requests by host to fakes (ASGI apps or functions of
    the request; other hosts use the real network), as ``Simulation(http=...)`` does; ``record``
    writes every exchange with the real network to that directory (``motia_rt.recording``).
    """

    def __init__(
        self,
        steps_dir: str | Path = "steps",
        *,
        services: Mapping[str, Any] | None = None,
        state: StateStore | None = None,
        transport: Transport | None = None,
        retry: RetryPolicy | None = None,
        cron: bool = False,
        body_limit: int = DEFAULT_BODY_LIMIT,
        seed: int | None = None,
        http: HttpFakes | None = None,
        record: str | Path | None = None,
    ) -> None:
        self.steps_dir = Path(steps_dir)
        self._http = http
        self._record = record
        self._routing: contextlib.ExitStack | None = None
        self._services = services
        self._state = state
        self._transport = transport
        self._retry = retry or TEST_RETRY
        self._cron_enabled = cron
        self._body_limit = body_limit
        self._seed = seed
        self._scheduler: CronScheduler | None = None

    async def __aenter__(self) -> Runtime:
        if self._http is not None or self._record is not None:
            recorder = Recorder(self._record) if self._record is not None else None
            network = VirtualNetwork(fakes_of(self._http), recorder=recorder)
            # Set in the caller's context: the engine's tasks, started below, inherit it.
            self._routing = contextlib.ExitStack()
            self._routing.enter_context(routing(network))
        clock = AsyncioClock()
        engine = Engine(
            load_steps(self.steps_dir),
            clock=clock,
            transport=self._transport or MemoryTransport(clock),
            state=self._state or MemoryStateStore(),
            services=self._services,
            rng=random.Random(self._seed),
            retry=self._retry,
        )
        self._attach(engine, build_app(engine, body_limit=self._body_limit))
        await engine.start()
        if self._cron_enabled:
            self._scheduler = CronScheduler(engine)
            self._scheduler.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._scheduler is not None:
            await self._scheduler.close()
        await self._detach()
        await self.engine.close()
        if self._routing is not None:
            self._routing.close()
            self._routing = None

    def run(self, scenario: Callable[[Runtime], Awaitable[T]]) -> T:
        """Start the runtime, run ``await scenario(runtime)``, stop; for sync callers."""

        async def main() -> T:
            async with self as rt:
                return await scenario(rt)

        return asyncio.run(main())
