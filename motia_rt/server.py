"""The served app: engine, HTTP routes and cron scheduler started and stopped with the ASGI lifespan."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette

from .clock import AsyncioClock
from .cron import CronLock, CronScheduler
from .engine import Engine, RetryPolicy
from .http import DEFAULT_BODY_LIMIT, build_app
from .loader import load_steps
from .ports import StateStore, Transport
from .state.memory import MemoryStateStore
from .steps import StepRegistry
from .transport.memory import MemoryTransport

__all__ = ["create_app", "describe"]


def create_app(
    steps_dir: str | Path = "steps",
    *,
    services: Mapping[str, Any] | None = None,
    state: StateStore | None = None,
    transport: Transport | None = None,
    retry: RetryPolicy | None = None,
    cron: bool = True,
    cron_lock: CronLock | None = None,
    body_limit: int = DEFAULT_BODY_LIMIT,
) -> Starlette:
    """Load the steps and build the ASGI app; the engine starts with the app's lifespan.

    Defaults are the embedded in-memory adapters. The engine is at ``app.state.engine``.
    """
    clock = AsyncioClock()
    engine = Engine(
        load_steps(steps_dir),
        clock=clock,
        transport=transport or MemoryTransport(clock),
        state=state or MemoryStateStore(),
        services=services,
        rng=random.Random(),
        retry=retry,
    )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        scheduler = CronScheduler(engine, cron_lock) if cron else None
        if scheduler is not None:
            scheduler.start()
        try:
            yield
        finally:
            if scheduler is not None:
                await scheduler.close()
            await engine.close()

    app = build_app(engine, body_limit=body_limit, lifespan=lifespan)
    app.state.engine = engine
    return app


def describe(registry: StepRegistry) -> str:
    """What was loaded: routes, topics with their subscribers, cron steps (printed at start)."""
    lines = [f"loaded {len(registry)} steps from {registry.root}"]
    for step in sorted(registry.of_kind("api"), key=lambda s: (s.path or "", s.method or "")):
        lines.append(f"  route  {step.method:<6} {step.path}  -> {step.name}")
    for topic in registry.topics():
        subs = ", ".join(s.name for s in registry.subscribers(topic)) or "(terminal)"
        lines.append(f"  topic  {topic}  -> {subs}")
    for step in registry.of_kind("cron"):
        lines.append(f"  cron   {step.cron}  -> {step.name}")
    return "\n".join(lines)
