"""Finding the real Redis the Redis adapter tests run against.

The tests use ``MOTIA_REDIS_URL`` (default ``redis://127.0.0.1:6379/0``). Without an answering
server they are skipped, unless ``MOTIA_REQUIRE_REDIS=1`` (as in CI), which turns the skip into a
failure so a missing server cannot pass for a green run.
"""

from __future__ import annotations

import asyncio
import functools
import os
from urllib.parse import urlsplit, urlunsplit

import pytest

__all__ = ["DEFAULT_REDIS_URL", "RedisRelay", "real_redis_url"]

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


class RedisRelay:
    """A TCP relay to Redis on a port of its own: ``off()`` cuts the open connections and refuses
    new ones until ``on`` is set again (an outage as clients see it); ``close()`` stops it for
    good, so nothing a client sends afterwards arrives (as if the process had been killed)."""

    def __init__(self, redis_url: str) -> None:
        url = urlsplit(redis_url)
        self.upstream = (url.hostname or "127.0.0.1", url.port or 6379)
        self.url = redis_url
        self.on = True
        self._writers: list[asyncio.StreamWriter] = []
        self._server: asyncio.Server | None = None

    async def open(self) -> str:
        """Start relaying; the URL to connect through."""
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return urlunsplit(urlsplit(self.url)._replace(netloc=f"127.0.0.1:{port}"))

    def off(self) -> None:
        self.on = False
        for writer in self._writers:
            writer.transport.abort()
        self._writers.clear()

    def close(self) -> None:
        self.off()
        if self._server is not None:
            self._server.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if not self.on:
            writer.transport.abort()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.upstream)
        self._writers += [writer, up_writer]

        async def pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
            while data := await source.read(65536):
                sink.write(data)
                await sink.drain()
            sink.close()

        await asyncio.gather(
            pipe(reader, up_writer), pipe(up_reader, writer), return_exceptions=True
        )
