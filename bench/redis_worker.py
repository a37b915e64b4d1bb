"""A consumer process for the Redis transport figures, driven over stdin/stdout:

    python -m bench.redis_worker transport|raw|raw-each --url URL --prefix P [--batch 32]

It connects, prints ``ready``, starts consuming when it reads ``go``, stops at ``stop`` (or end
of input) and prints ``{"handled": n}``. It consumes the ``Ping`` group of the ``bench.ping``
topic stream under ``P`` (which the driver has created and filled):

- ``transport``: the engine on ``RedisStreamsTransport`` (as ``motia-rt worker`` runs it:
  concurrency 16, reads of ``--batch``), a no-op step;
- ``raw``: redis-py by hand: XREADGROUP COUNT batch, decode each entry, one XACK per batch;
- ``raw-each``: the same, with one XACK per entry (what acking each message as it settles costs).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
from typing import Any

from motia_rt.clock import AsyncioClock
from motia_rt.engine import Engine
from motia_rt.loader import load_steps
from motia_rt.state.memory import MemoryStateStore

from ._paths import APPS

__all__ = ["CONCURRENCY", "GROUP", "TOPIC", "main"]

TOPIC = "bench.ping"
GROUP = "Ping"
CONCURRENCY = 16
"""``motia-rt worker``'s default (``MOTIA_CONCURRENCY``)."""


async def _line() -> str:
    return await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)


async def _transport(client: Any, prefix: str, batch: int) -> int:
    from motia_rt.transport.redis_streams import RedisStreamsTransport

    clock = AsyncioClock()
    transport = RedisStreamsTransport(
        client, prefix=prefix, clock=clock, batch=batch, concurrency=CONCURRENCY
    )
    engine = Engine(
        load_steps(APPS / "one_subscriber"),
        clock=clock,
        transport=transport,
        state=MemoryStateStore(),
        rng=random.Random(),
    )
    print("ready", flush=True)
    await _line()
    await engine.start()
    await _line()
    await engine.close()
    return sum(1 for run in engine.runs if run.outcome == "ok")


async def _raw(client: Any, prefix: str, batch: int, ack_each: bool) -> int:
    stream = f"{prefix}:topic:{TOPIC}"
    consumer = f"raw-{random.getrandbits(32):08x}"
    handled = 0

    def handle(data: Any) -> None:
        pass

    print("ready", flush=True)
    await _line()
    stop = asyncio.ensure_future(_line())
    while not stop.done():
        reply = await client.xreadgroup(GROUP, consumer, {stream: ">"}, count=batch, block=100)
        ids = []
        for _, entries in reply or ():
            for entry_id, fields in entries:
                handle(json.loads(fields[b"message"])["data"])
                ids.append(entry_id)
        if not ids:
            continue
        if ack_each:
            for entry_id in ids:
                await client.xack(stream, GROUP, entry_id)
        else:
            await client.xack(stream, GROUP, *ids)
        handled += len(ids)
    return handled


async def _main(args: argparse.Namespace) -> None:
    from redis.asyncio import Redis

    client = Redis.from_url(args.url)
    try:
        if args.mode == "transport":
            handled = await _transport(client, args.prefix, args.batch)
        else:
            handled = await _raw(client, args.prefix, args.batch, args.mode == "raw-each")
    finally:
        await client.aclose()
    print(json.dumps({"handled": handled}), flush=True)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.redis_worker")
    parser.add_argument("mode", choices=("transport", "raw", "raw-each"))
    parser.add_argument("--url", required=True)
    parser.add_argument("--prefix", required=True)
    parser.add_argument("--batch", type=int, default=32)
    asyncio.run(_main(parser.parse_args(argv)))


if __name__ == "__main__":
    main()
