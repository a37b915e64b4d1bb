"""Finding the real Redis the Redis adapter tests run against.

The tests use ``MOTIA_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``). Without an answering
server they are skipped, unless ``MOTIA_REQUIRE_REDIS=1`` (as in CI), which turns the skip into a
failure so a missing server cannot pass for a green run.
"""

from __future__ import annotations

import functools
import os

import pytest

__all__ = ["DEFAULT_REDIS_URL", "real_redis_url"]

DEFAULT_REDIS_URL = "redis://127.0.0.1:6379/0"


def real_redis_url() -> str:
    """The URL of a Redis that answered PING; skips (or fails, see module doc) the test otherwise."""
    url = os.environ.get("MOTIA_REDIS_URL", DEFAULT_REDIS_URL)
    problem = _probe(url)
    if problem is not None:
        reason = f"no Redis at {url} ({problem}): start redis-server or set MOTIA_REDIS_URL"
        if os.environ.get("MOTIA_REQUIRE_REDIS") == "1":
            pytest.fail(f"{reason} (MOTIA_REQUIRE_REDIS=1 makes this an error)", pytrace=False)
        pytest.skip(reason)
    return url


@functools.cache
def _probe(url: str) -> str | None:
    """Ping ``url`` once per session; the reason it failed, or None."""
    try:
        import redis
    except ImportError:
        return "redis-py is not installed: pip install 'motia-sim[redis]'"
    client = redis.Redis.from_url(url, socket_connect_timeout=1.0, socket_timeout=1.0)
    try:
        client.ping()
    except (redis.RedisError, OSError) as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        client.close()
    return None
