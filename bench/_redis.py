"""The Redis the Redis figures use, and whether they can run at all."""

from __future__ import annotations

import importlib
import uuid

__all__ = ["REDIS_URL", "delete_prefix", "new_prefix", "unavailable"]

REDIS_URL = "redis://127.0.0.1:6379/13"
"""Database 13, not 0: the project's tests use 0 and may flush it while a benchmark runs."""


def unavailable() -> str | None:
    """Why the Redis figures cannot run (``None``: they can)."""
    try:
        importlib.import_module("motia_rt.transport.redis_streams")
        importlib.import_module("motia_rt.state.redis")
    except Exception as exc:
        return f"motia_rt.transport.redis_streams does not import ({type(exc).__name__}: {exc})"
    try:
        from redis import Redis

        with Redis.from_url(REDIS_URL, socket_connect_timeout=1, socket_timeout=2) as client:
            client.ping()
    except Exception as exc:
        return f"no Redis answering at {REDIS_URL} ({type(exc).__name__})"
    return None


def new_prefix(what: str) -> str:
    return f"bench-{what}-{uuid.uuid4().hex[:8]}"


def delete_prefix(prefix: str) -> None:
    """Remove every key a run left under ``prefix``."""
    from redis import Redis

    with Redis.from_url(REDIS_URL) as client:
        keys = list(client.scan_iter(match=f"{prefix}:*", count=1000))
        for i in range(0, len(keys), 500):
            client.unlink(*keys[i : i + 500])
