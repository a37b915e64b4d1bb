"""Area 5, the Redis Streams transport: messages per second drained from a filled topic stream by
one and two worker processes, against redis-py consumers doing XREADGROUP/XACK by hand with the
same read batch on the same server."""

from __future__ import annotations

import asyncio
import json
import random
import subprocess
import time
from typing import Any

from motia_rt.clock import AsyncioClock
from motia_rt.engine import Engine
from motia_rt.loader import load_steps
from motia_rt.state.memory import MemoryStateStore

from ._paths import APPS
from ._redis import REDIS_URL, delete_prefix, new_prefix, unavailable
from ._report import Row, Target, compare, skipped
from ._servers import python_module
from .redis_worker import GROUP, TOPIC

__all__ = ["run"]

AREA = "5"
BATCH = 32
MESSAGES = {"transport": 16_000, "raw-each": 4_000, "raw": 16_000}
"""Entries per run, so that each run lasts long enough that the worker's start (counted, unlike
the raw consumer's, which has nothing to start) and the 5 ms polling weigh little. A stream of
each size is filled once and copied (COPY, server-side) for every run."""


async def _fill(prefix: str, messages: int) -> None:
    """Create the groups the way a publisher does (``RedisStreamsTransport(consume=False)``),
    then XADD ``messages`` entries, 32 at a time."""
    from redis.asyncio import Redis

    from motia_rt.transport.redis_streams import RedisStreamsTransport

    client = Redis.from_url(REDIS_URL)
    clock = AsyncioClock()
    transport = RedisStreamsTransport(client, prefix=prefix, clock=clock, consume=False)
    engine = Engine(
        load_steps(APPS / "one_subscriber"),
        clock=clock,
        transport=transport,
        state=MemoryStateStore(),
        rng=random.Random(0),
    )
    await engine.start()
    for start in range(0, messages, 32):
        await asyncio.gather(
            *(
                engine.emit_external(TOPIC, {"i": i})
                for i in range(start, min(messages, start + 32))
            )
        )
    await engine.close()
    await client.aclose()


def _group(client: Any, stream: str) -> dict[str, Any]:
    for info in client.xinfo_groups(stream):
        row = {(k.decode() if isinstance(k, bytes) else k): v for k, v in info.items()}
        name = row["name"].decode() if isinstance(row["name"], bytes) else row["name"]
        if name == GROUP:
            return row
    raise RuntimeError(f"no consumer group {GROUP} on {stream}")


def _ready(worker: subprocess.Popen[str]) -> None:
    assert worker.stdout is not None
    line = worker.stdout.readline().strip()
    if line != "ready":
        _, err = worker.communicate(timeout=10)
        raise RuntimeError(f"worker did not start: {line} {err.strip()[-1500:]}")


def drain_rate(template: str, messages: int, mode: str, workers: int) -> float:
    """Messages per second for ``workers`` processes of ``mode`` to read, handle and ack a copy
    of the ``template`` stream of ``messages`` entries. Process start-up is not counted; the
    transport worker's ``engine.start()`` (about 2.5 ms, after the go signal) is."""
    from redis import Redis

    prefix = new_prefix("streams")
    stream = f"{prefix}:topic:{TOPIC}"
    procs = [
        python_module(
            "bench.redis_worker",
            mode,
            "--url",
            REDIS_URL,
            "--prefix",
            prefix,
            "--batch",
            str(BATCH),
            stdin=subprocess.PIPE,
        )
        for _ in range(workers)
    ]
    try:
        with Redis.from_url(REDIS_URL) as client:
            client.copy(f"{template}:topic:{TOPIC}", stream)
            for proc in procs:
                _ready(proc)
            start = time.perf_counter()
            for proc in procs:
                assert proc.stdin is not None
                proc.stdin.write("go\n")
                proc.stdin.flush()
            while True:
                group = _group(client, stream)
                if group.get("entries-read") == messages and group["pending"] == 0:
                    break
                if time.perf_counter() - start > 120:
                    raise RuntimeError(f"{mode} x{workers} did not drain {messages}: {group}")
                time.sleep(0.005)
            seconds = time.perf_counter() - start
        handled = 0
        for proc in procs:
            out, _ = proc.communicate("stop\n", timeout=30)
            handled += json.loads(out.strip().splitlines()[-1])["handled"]
        if handled < messages:
            raise RuntimeError(f"{mode} x{workers}: handled {handled} of {messages}")
        return messages / seconds
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        delete_prefix(prefix)


def run(quick: bool = False) -> list[Row]:
    reason = unavailable()
    if reason is not None:
        return [skipped(AREA, "Redis Streams transport msgs/s", reason)]
    n = 1 if quick else 5
    samples: dict[tuple[str, int], list[float]] = {}
    plan = [("raw", 1), ("transport", 1), ("transport", 2), ("raw", 2), ("raw-each", 1)]
    templates = {size: new_prefix("template") for size in set(MESSAGES.values())}
    try:
        for size, template in templates.items():
            asyncio.run(_fill(template, size))
        for i in range(n):
            # Rotate the order so a noisy neighbour does not always hit the same configuration.
            for mode, workers in plan[i % len(plan) :] + plan[: i % len(plan)]:
                size = MESSAGES[mode]
                rate = drain_rate(templates[size], size, mode, workers)
                samples.setdefault((mode, workers), []).append(rate)
    finally:
        for template in templates.values():
            delete_prefix(template)
    one, two = samples[("transport", 1)], samples[("transport", 2)]
    note = (
        f"a no-op step; reads of {BATCH}; transport concurrency 16; "
        "entries published by RedisStreamsTransport(consume=False)"
    )
    return [
        compare(
            AREA,
            "Redis transport msgs/s, 1 worker",
            "msg/s",
            one,
            "raw XREADGROUP + one XACK per batch",
            samples[("raw", 1)],
            Target("ratio", ">=", 0.7),
            note,
        ),
        compare(
            AREA,
            "Redis transport msgs/s, 2 workers",
            "msg/s",
            two,
            "the transport with 1 worker",
            one,
            Target("ratio", ">=", 1.6),
            f"2 worker processes on a {_cores()}-core machine that also runs redis-server",
        ),
        compare(
            AREA,
            "Redis transport msgs/s, 1 worker (vs per-entry XACK)",
            "msg/s",
            one,
            "raw XREADGROUP + one XACK per entry",
            samples[("raw-each", 1)],
        ),
        compare(
            AREA,
            "raw consumers: 2 processes / 1",
            "msg/s",
            samples[("raw", 2)],
            "raw, 1 process",
            samples[("raw", 1)],
            note="what this machine allows two consumer processes at best",
        ),
    ]


def _cores() -> int:
    import os

    return os.cpu_count() or 1
