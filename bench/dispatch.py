"""Area 2, in-process dispatch: deliveries per second through the engine and the memory transport
(one subscriber; fan-out to two) against a raw ``asyncio.Queue`` producer/consumer."""

from __future__ import annotations

import asyncio
import json
import random
import time
from functools import partial
from typing import Any

from motia_rt.clock import AsyncioClock
from motia_rt.engine import Engine
from motia_rt.loader import load_steps
from motia_rt.state.memory import MemoryStateStore
from motia_rt.steps import StepRegistry
from motia_rt.transport.memory import MemoryTransport

from ._measure import paired
from ._paths import APPS
from ._report import Row, Target, compare

__all__ = ["engine", "run"]

AREA = "2"
MESSAGES = 20_000


def engine(registry: StepRegistry) -> Engine:
    """The engine as ``create_app`` builds it: asyncio clock, memory transport and state."""
    clock = AsyncioClock()
    return Engine(
        registry,
        clock=clock,
        transport=MemoryTransport(clock),
        state=MemoryStateStore(),
        rng=random.Random(0),
    )


def engine_rate(registry: StepRegistry, messages: int = MESSAGES) -> float:
    """Deliveries per second: emit ``messages`` to ``bench.ping``, then wait for quiescence."""

    async def main() -> float:
        e = engine(registry)
        await e.start()
        start = time.perf_counter()
        for i in range(messages):
            await e.emit_external("bench.ping", {"i": i})
        await e.settle()
        seconds = time.perf_counter() - start
        runs = sum(1 for r in e.runs if r.kind == "event" and r.outcome == "ok")
        await e.close()
        return runs / seconds

    return asyncio.run(main())


def queue_rate(consumers: int, messages: int = MESSAGES, *, guarded: bool = False) -> float:
    """The same traffic on bare ``asyncio.Queue``s: one queue and one consumer per subscriber,
    a no-op handler, ``task_done`` per item.

    ``guarded=True`` adds what the engine promises per delivery, written by hand: the producer
    encodes the data to JSON once, each consumer decodes its own copy and runs the handler under
    ``asyncio.timeout``.
    """

    async def handle(item: Any) -> None:
        pass

    async def consume(queue: asyncio.Queue[Any]) -> None:
        while True:
            item = await queue.get()
            if guarded:
                async with asyncio.timeout(30.0):
                    await handle(json.loads(item))
            else:
                await handle(item)
            queue.task_done()

    async def main() -> float:
        queues: list[asyncio.Queue[Any]] = [asyncio.Queue() for _ in range(consumers)]
        tasks = [asyncio.create_task(consume(q)) for q in queues]
        start = time.perf_counter()
        for i in range(messages):
            item = json.dumps({"i": i}) if guarded else {"i": i}
            for q in queues:
                await q.put(item)
        for q in queues:
            await q.join()
        seconds = time.perf_counter() - start
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        return messages * consumers / seconds

    return asyncio.run(main())


def run(quick: bool = False) -> list[Row]:
    n = 3 if quick else 7
    rows = []
    note = f"{MESSAGES} emit_external() then settle(); a delivery = one no-op handler run"
    for folder, subscribers, label in (
        ("one_subscriber", 1, "one topic, one subscriber"),
        ("two_subscribers", 2, "fan-out to two"),
    ):
        registry = load_steps(APPS / folder)
        figure, base = paired(partial(engine_rate, registry), partial(queue_rate, subscribers), n)
        rows.append(
            compare(
                AREA,
                f"engine deliveries/s, {label}",
                "dl/s",
                figure,
                f"asyncio.Queue x{subscribers}, no-op consumer",
                base,
                Target("ratio", ">=", 0.25),
                note,
            )
        )
    registry = load_steps(APPS / "one_subscriber")
    figure, guarded = paired(
        partial(engine_rate, registry), partial(queue_rate, 1, guarded=True), n
    )
    rows.append(
        compare(
            AREA,
            "engine deliveries/s, one subscriber (vs same guarantees)",
            "dl/s",
            figure,
            "asyncio.Queue + JSON copy + asyncio.timeout",
            guarded,
            note="the hand-written queue pays for a JSON copy and a timeout per delivery, as the "
            "engine does; the rest of the gap is the engine's own bookkeeping",
        )
    )
    return rows
