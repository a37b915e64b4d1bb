"""Distributed mode: the settings Redis-backed processes share, and the processes themselves.

``motia-rt worker`` consumes the topics of every event step (no HTTP, no cron); ``motia-rt start``
serves HTTP and cron (cron ticks locked in Redis) and publishes to the same Redis;
``motia-rt dead-letters`` and ``motia-rt redrive`` inspect and redrive. See ``docs/deployment.md``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import signal
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

from .clock import AsyncioClock
from .deployment import sharing_redis
from .engine import Engine
from .loader import load_steps
from .state.redis import RedisStateStore
from .transport.redis_streams import RedisStreamsTransport

if TYPE_CHECKING:
    from redis.asyncio import Redis

__all__ = [
    "RedisSettings",
    "connect",
    "print_dead_letters",
    "redacted",
    "redrive",
    "run_worker",
    "serve_api",
    "serve_worker",
]

log = logging.getLogger("motia.worker")


def _env_int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    try:
        return int(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a whole number") from None


def _env_float(env: Mapping[str, str], name: str, default: float) -> float:
    raw = env.get(name)
    try:
        return float(raw) if raw else default
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number of seconds") from None


@dataclass(frozen=True)
class RedisSettings:
    """What a Redis-backed process needs; ``from_env`` reads the ``MOTIA_*`` variables."""

    url: str = "redis://127.0.0.1:6379/0"
    """``MOTIA_REDIS_URL``: ``redis://[:password@]host:port/db`` or ``rediss://`` for TLS."""
    prefix: str = "motia"
    """``MOTIA_PREFIX``: every key lives under it; processes of one app share it."""
    concurrency: int = 16
    """``MOTIA_CONCURRENCY``: handler runs in flight per worker process."""
    shutdown_timeout: float = 25.0
    """``MOTIA_SHUTDOWN_TIMEOUT``: seconds running handlers get to finish on SIGTERM."""
    transport_options: dict[str, Any] = field(default_factory=dict)
    """Extra ``RedisStreamsTransport`` arguments (``batch``, ``block``, ``max_deliveries``...)."""

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> RedisSettings:
        return cls(
            url=env.get("MOTIA_REDIS_URL") or cls.url,
            prefix=env.get("MOTIA_PREFIX") or cls.prefix,
            concurrency=_env_int(env, "MOTIA_CONCURRENCY", cls.concurrency),
            shutdown_timeout=_env_float(env, "MOTIA_SHUTDOWN_TIMEOUT", cls.shutdown_timeout),
        )

    @classmethod
    def from_args(
        cls, args: argparse.Namespace, env: Mapping[str, str] = os.environ
    ) -> RedisSettings:
        """Command-line flags over the ``MOTIA_*`` environment over the defaults."""
        base = cls.from_env(env)
        return cls(
            url=getattr(args, "redis_url", None) or base.url,
            prefix=getattr(args, "prefix", None) or base.prefix,
            concurrency=getattr(args, "concurrency", None) or base.concurrency,
            shutdown_timeout=getattr(args, "shutdown_timeout", None) or base.shutdown_timeout,
        )

    @classmethod
    def for_command(cls, args: argparse.Namespace) -> RedisSettings:
        """``from_args`` for the CLI: a malformed ``MOTIA_*`` value exits with status 2."""
        try:
            return cls.from_args(args)
        except ValueError as exc:
            print(f"error: {exc}", file=sys.stderr)
            raise SystemExit(2) from None

    def transport(self, client: Redis, *, consume: bool) -> RedisStreamsTransport:
        return RedisStreamsTransport(
            client,
            prefix=self.prefix,
            clock=AsyncioClock(),
            consume=consume,
            concurrency=self.concurrency,
            shutdown_timeout=self.shutdown_timeout,
            **self.transport_options,
        )


def connect(settings: RedisSettings) -> Redis:
    """A client for ``settings.url`` tuned for long-lived processes: keepalive, a read timeout
    well above the transport's blocking reads (a hung server is noticed), health checks, and
    only brief retries inside redis-py: longer outages are retried, with backoff and logging,
    by the transport's loops."""
    from redis.asyncio import Redis
    from redis.asyncio.retry import Retry
    from redis.backoff import ExponentialWithJitterBackoff

    return Redis.from_url(
        settings.url,
        socket_keepalive=True,
        socket_connect_timeout=5.0,
        socket_timeout=15.0,
        health_check_interval=30,
        # Handler runs, blocking reads (one per step) and renewals each hold a connection.
        max_connections=max(100, 2 * settings.concurrency + 64),
        retry=Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), 2),
    )


def redacted(url: str) -> str:
    """``url`` without its password, for logs."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    host = parts.hostname or ""
    netloc = f"{parts.username or ''}:***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


async def run_worker(
    steps_dir: str | Path,
    settings: RedisSettings,
    *,
    stop: asyncio.Event,
    services: Mapping[str, Any] | None = None,
) -> None:
    """Consume every event step of ``steps_dir`` from Redis until ``stop`` is set, then stop
    reading, let running handlers finish (``settings.shutdown_timeout``) and hand back the rest."""
    registry = load_steps(steps_dir)
    client = connect(settings)
    transport = settings.transport(client, consume=True)
    # The app's default services are built here: shared through Redis (see deployment.py).
    with sharing_redis(client, settings.prefix):
        engine = Engine(
            registry,
            clock=transport.clock,
            transport=transport,
            state=RedisStateStore(client, settings.prefix),
            services=services,
        )
    try:
        await engine.start()
        steps = sorted({sub.step for sub in registry.subscriptions()})
        log.info(
            "worker %s consuming %s from %s (prefix %r, concurrency %d)",
            transport.consumer, ", ".join(steps) or "nothing (no event steps)",
            redacted(settings.url), settings.prefix, settings.concurrency,
        )  # fmt: skip
        await stop.wait()
        log.info("worker %s stopping: finishing in-flight handlers", transport.consumer)
    finally:
        await engine.close()
        await client.aclose()
    log.info("worker %s stopped", transport.consumer)


def serve_worker(steps_dir: str | Path, settings: RedisSettings) -> int:
    """Run a worker in this process until SIGTERM or SIGINT; 0 after a graceful stop."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await run_worker(steps_dir, settings, stop=stop)

    asyncio.run(main())
    return 0


def serve_api(args: argparse.Namespace) -> int:
    """``motia-rt start``: HTTP and cron on Redis state and topics, until SIGTERM; 0 after a
    graceful stop. Consumes events too with ``--with-worker``. The ``/__motia`` tools need
    ``MOTIA_DEV_TOKEN``."""
    import uvicorn

    from .cron_lock import redis_cron_lock
    from .loader import load_steps
    from .server import create_app, describe

    settings = RedisSettings.for_command(args)
    registry = load_steps(args.steps)
    print(describe(registry), flush=True)
    client = connect(settings)
    with sharing_redis(client, settings.prefix):  # the app's services, shared with the workers
        app = create_app(
            registry,
            state=RedisStateStore(client, settings.prefix),
            transport=settings.transport(client, consume=args.with_worker),
            cron=not args.no_cron,
            cron_lock=redis_cron_lock(client, settings.prefix),
            dev=False,
            token=os.environ.get("MOTIA_DEV_TOKEN"),
        )
    log.info("serving on Redis %s (prefix %r)", redacted(settings.url), settings.prefix)
    # uvicorn stops gracefully on SIGTERM/SIGINT, then raises the signal again with the handler
    # it found installed: a no-op one turns the graceful stop into exit status 0.
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: None)
    gc.freeze()  # start-up objects never die: keep them out of full collections (p99 pauses)
    # http/loop "auto" (uvicorn's default) take httptools and uvloop, which are dependencies:
    # 2x the h11 stack in `make bench`.
    uvicorn.run(app, host=args.host, port=args.port, log_level="info",
                timeout_graceful_shutdown=int(settings.shutdown_timeout))  # fmt: skip
    return 0


def print_dead_letters(settings: RedisSettings, step: str | None, *, as_json: bool) -> int:
    """``motia-rt dead-letters``: one line (or JSON object) per dead letter, oldest first."""

    async def main() -> int:
        client = connect(settings)
        try:
            letters = await settings.transport(client, consume=False).dead_letters(step)
        finally:
            await client.aclose()
        for letter in letters:
            d = letter.delivery
            failed = datetime.fromtimestamp(letter.failed_at, UTC).isoformat(timespec="seconds")
            if as_json:
                print(json.dumps({"id": letter.id, "step": d.subscription.step,
                                  "topic": d.message.topic, "messageId": d.message.id,
                                  "traceId": d.message.trace_id, "attempt": d.attempt,
                                  "failedAt": failed, "error": letter.error,
                                  "data": d.message.data}))  # fmt: skip
            else:
                error = letter.error if len(letter.error) <= 100 else letter.error[:99] + "…"
                print(f"{letter.id}  {d.message.topic}  attempt {d.attempt}  {failed}  {error}")
        if not letters and not as_json:
            print("no dead letters" + (f" for step {step!r}" if step else ""))
        return 0

    return asyncio.run(main())


def redrive(settings: RedisSettings, dead_letter_id: str) -> int:
    """``motia-rt redrive ID``: 0 once the letter is queued for its step again, 1 if unknown."""

    async def main() -> int:
        client = connect(settings)
        try:
            delivery = await settings.transport(client, consume=False).redrive(dead_letter_id)
        except KeyError as exc:
            # The transport's message names the Python call; at a shell, name the command.
            problem = str(exc.args[0]).split("; list them with")[0]
            hint = f"motia-rt dead-letters --prefix {settings.prefix}"
            print(f"error: {problem}; list them with `{hint}`", file=sys.stderr)
            return 1
        finally:
            await client.aclose()
        message = delivery.message
        print(f"redriven {dead_letter_id}: message {message.id} ({message.topic}) "
              f"to {delivery.subscription.step} as attempt 1")  # fmt: skip
        return 0

    return asyncio.run(main())
