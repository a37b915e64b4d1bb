"""The served app: engine, HTTP routes and cron scheduler started and stopped with the ASGI lifespan."""

from __future__ import annotations

import asyncio
import logging
import random
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute

from .clock import AsyncioClock
from .cors import ApiCors, cors_origins_from_env
from .cron import CronLock, CronScheduler
from .dev_access import allowed_hosts_from_env, redact_tokens_in_access_log
from .devtools import devtools_routes
from .engine import Engine, RetryPolicy
from .errors import StepLoadError
from .eventlog import EventLog
from .http import DEFAULT_BODY_LIMIT, api_routes, build_app
from .loader import load_steps
from .ports import StateStore, Transport
from .state.memory import MemoryStateStore
from .steps import StepRegistry
from .transport.memory import MemoryTransport

__all__ = ["create_app", "describe", "watch_steps"]

log = logging.getLogger("motia.server")


def create_app(
    steps_dir: str | Path | StepRegistry = "steps",
    *,
    services: Mapping[str, Any] | None = None,
    state: StateStore | None = None,
    transport: Transport | None = None,
    retry: RetryPolicy | None = None,
    cron: bool = True,
    cron_lock: CronLock | None = None,
    body_limit: int = DEFAULT_BODY_LIMIT,
    dev: bool = True,
    token: str | None = None,
    watch: bool = False,
    history: int = 10_000,
    allowed_hosts: Sequence[str] | None = None,
    max_streams: int = 64,
    cors: bool | Sequence[str] | None = None,
) -> Starlette:
    """Load the steps and build the ASGI app; the engine starts with the app's lifespan.

    Defaults are the embedded in-memory adapters. ``dev=True`` opens the ``/__motia/*`` tools
    (live events, workbench, state, dead letters); with ``dev=False`` they need ``token``. The
    engine is at ``app.state.engine`` and the event log at ``app.state.event_log``. ``watch=True``
    reloads the steps when a file under their folder changes (``motia-rt dev``), keeping state.
    ``history`` bounds the emits and handler runs the engine remembers (``engine.events``,
    ``engine.runs``): a server keeps fewer than a test runtime, so that memory and the garbage
    collector's full passes stay small under load.

    ``allowed_hosts``: host names, besides loopback and the bound address, that the dev tools
    answer to in dev mode (default: ``MOTIA_ALLOWED_HOSTS``, comma-separated); any other ``Host``
    is refused (DNS rebinding). ``max_streams`` bounds the event streams open at once. Request
    bodies, the dev tools' emit included, are held to ``body_limit`` bytes. The access log of
    uvicorn shows ``?token=`` redacted.

    ``cors``: the origins whose pages may call the api routes from a browser (``True``: any
    origin); preflights answered, ``Access-Control-Allow-Origin`` set (``cors.ApiCors``). Default:
    ``MOTIA_CORS_ORIGINS`` (comma-separated, ``*`` for any), else off, in dev mode too: a dev
    server with CORS open lets every site its developer visits read the api's answers. The dev
    tools never answer cross-origin.
    """
    registry = steps_dir if isinstance(steps_dir, StepRegistry) else load_steps(steps_dir)
    clock = AsyncioClock()
    engine = Engine(
        registry,
        clock=clock,
        transport=transport or MemoryTransport(clock),
        state=state or MemoryStateStore(),
        services=services,
        rng=random.Random(),
        retry=retry,
        history=history,
    )

    schedulers: list[CronScheduler] = []

    async def start_cron() -> None:
        for old in schedulers:
            await old.close()
        schedulers.clear()
        if cron:
            schedulers.append(CronScheduler(engine, cron_lock))
            schedulers[0].start()

    def routes() -> list[BaseRoute]:
        api = api_routes(engine, body_limit)
        # Dev tools on: their prefix comes first, so no api route can shadow them. Off, they
        # only answer 404 with the reason, and api requests are not matched against them first.
        return [*tools, *api] if dev or token else [*api, *tools]

    def reloaded(new: StepRegistry) -> None:
        app.router.routes[:] = routes()
        asyncio.get_running_loop().create_task(start_cron())

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await engine.start()
        await start_cron()
        watcher = asyncio.create_task(watch_steps(engine, reloaded)) if watch else None
        try:
            yield
        finally:
            if watcher is not None:
                watcher.cancel()
                await asyncio.gather(watcher, return_exceptions=True)
            for scheduler in schedulers:
                await scheduler.close()
            await engine.close()

    event_log = EventLog()
    if dev or token:  # otherwise nothing can read it: the dev tools answer 404
        engine.add_observer(event_log)
    if allowed_hosts is None:
        allowed_hosts = allowed_hosts_from_env()
    tools = devtools_routes(engine, event_log, dev=dev, token=token, allowed_hosts=allowed_hosts,
                            body_limit=body_limit, max_streams=max_streams)  # fmt: skip
    if token:
        redact_tokens_in_access_log()
    app = build_app(engine, lifespan=lifespan, routes=routes())
    if cors is None:
        origins: Sequence[str] = cors_origins_from_env()
    else:
        origins = ("*",) if cors is True else (cors,) if isinstance(cors, str) else cors or ()
    if origins:
        app.add_middleware(ApiCors, origins=tuple(origins))
    app.state.engine = engine
    app.state.event_log = event_log
    return app


async def watch_steps(engine: Engine, reloaded: Callable[[StepRegistry], None]) -> None:
    """Reload the steps whenever a ``.py`` file under their folder changes. A broken file is
    reported (file, field, fix) and skipped; the other steps keep serving."""
    from watchfiles import awatch

    root = engine.registry.root
    async for _ in awatch(root, watch_filter=lambda _, path: path.endswith(".py")):
        errors: list[StepLoadError] = []
        try:
            registry = load_steps(root, errors=errors)
        except StepLoadError as exc:
            errors, registry = [exc], engine.registry
        for error in errors:
            log.error("step not loaded: %s", error)
        engine.reload(registry)
        reloaded(registry)
        log.info("reloaded\n%s", describe(registry))


def describe(registry: StepRegistry) -> str:
    """What was loaded: routes, topics with their subscribers, cron steps (printed at start)."""
    lines = [f"loaded {len(registry)} steps from {registry.root}"]
    for step in sorted(registry.of_kind("api"), key=lambda s: (s.path or "", s.method or "")):
        lines.append(f"  route  {step.method:<6} {step.path}  -> {step.name}")
    for topic in registry.topics():
        virtual = [f"{s.name} (virtual)" for s in registry if topic in s.virtual_subscribes]
        subs = ", ".join([s.name for s in registry.subscribers(topic)] + virtual) or "(terminal)"
        lines.append(f"  topic  {topic}  -> {subs}")
    for step in registry.of_kind("cron"):
        lines.append(f"  cron   {step.cron}  -> {step.name}")
    return "\n".join(lines)
