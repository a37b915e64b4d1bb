"""Area 1, the simulator: saga throughput against the in-process runtime and a bare heap loop,
virtual-time compression of a cron over a simulated week, and the wall time of a 500-example fuzz.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Any

import httpx

from motia_rt.engine import RetryPolicy
from motia_rt.loader import load_steps
from motia_rt.steps import StepRegistry
from motia_rt.testing import Runtime
from motia_sim import InvariantViolation, Simulation, fuzz, run_simulated
from motia_sim.scenario import Scenario, resolve

from ._measure import paired, progress, repeat
from ._paths import SCENARIOS, STEPS
from ._report import Row, Target, compare, skipped

__all__ = ["ZERO_DELAYS", "order_body", "place_orders", "run"]

AREA = "1"
ORDERS = 200
"""Orders per throughput run: enough that per-run setup does not dominate."""
FUZZ_ORDERS = 20
FUZZ_EXAMPLES = 10
WEEK = 7 * 86_400.0
FUZZED = "saga events/s, simulator, fuzzed plans"
FUZZ_500 = "fuzz happy_path, 500 examples: wall"
ZERO_DELAYS = RetryPolicy(base=0.0, factor=1.0, cap=0.0, jitter=0.0)


def order_body(i: int, sku: str = "sku-pen") -> dict[str, Any]:
    """An order the default catalogue can ship (1000 pens in stock: enough for 200 orders)."""
    return {
        "email": f"buyer{i}@example.com",
        "items": [{"sku": sku, "quantity": 1}],
        "clientOrderId": f"bench-{i}",
    }


async def place_orders(h: Any, n: int) -> int:
    """POST ``n`` orders one after the other (retrying a 5xx, as a client would), let every saga
    finish, and return how many events were emitted."""
    for i in range(n):
        for _ in range(5):
            response = await h.post("/orders", json=order_body(i))
            if response.status_code < 500:
                break
            await h.advance(1)
        assert response.status_code == 202, response.text
    await h.settle()
    return len(h.emitted())


async def _timed(h: Any) -> tuple[int, float]:
    start = time.perf_counter()
    events = await place_orders(h, ORDERS)
    return events, time.perf_counter() - start


def runtime_rate() -> float:
    """Saga events per wall second on ``Runtime`` (real time, zero retry delays)."""

    async def main() -> tuple[int, float]:
        async with Runtime(STEPS, retry=ZERO_DELAYS) as rt:
            return await _timed(rt)

    events, seconds = asyncio.run(main())
    return events / seconds


_served_orders = itertools.count(0, ORDERS)


def served_rate(url: str) -> float:
    """Saga events per wall second on the runtime as ``motia-rt start`` serves it in one process
    (uvicorn on loopback, in-memory adapters), driven by an HTTP client posting the same orders
    one by one; timed from the first POST until every saga has finished."""
    # The server keeps its orders: each run needs client order ids it has not seen yet.
    first = next(_served_orders)
    with httpx.Client(base_url=url) as client:
        before = client.get("/__bench/stats").json()["events"]
        start = time.perf_counter()
        for i in range(first, first + ORDERS):
            response = client.post("/orders", json=order_body(i))
            assert response.status_code == 202, response.text
        while client.get("/__bench/stats").json()["pending"]:
            time.sleep(0.001)
        seconds = time.perf_counter() - start
        events: int = client.get("/__bench/stats").json()["events"] - before
    return events / seconds


def sim_rate(registry: StepRegistry, seed: int) -> float:
    events, seconds = Simulation(registry, seed=seed).run(_timed)
    return float(events) / seconds


_fuzzed_events = [0]


async def fuzzed_orders(h: Any) -> None:
    _fuzzed_events[0] += await place_orders(h, FUZZ_ORDERS)


def fuzz_rate(happy: Scenario) -> float:
    """Events per wall second of ``fuzz`` (Hypothesis, fault plans, invariants, setup included)."""
    _fuzzed_events[0] = 0
    start = time.perf_counter()
    fuzz(
        fuzzed_orders,
        steps=STEPS,
        invariants=happy.invariants,
        max_examples=FUZZ_EXAMPLES,
        report=None,
        derandomize=True,
    )
    return _fuzzed_events[0] / (time.perf_counter() - start)


def heap_rate(events: int, chains: int = ORDERS) -> float:
    """A bare discrete-event loop: pop the earliest event, run a no-op, schedule its successor."""

    def noop() -> None:
        pass

    heap: list[tuple[float, int, Callable[[], None]]] = [(0.0, i, noop) for i in range(chains)]
    seq = chains
    start = time.perf_counter()
    for _ in range(events):
        at, _, fn = heapq.heappop(heap)
        fn()
        seq += 1
        heapq.heappush(heap, (at + 0.001, seq, fn))
    return events / (time.perf_counter() - start)


def cron_compression(registry: StepRegistry, services: Any) -> float:
    """Simulated seconds per wall second: ApiHealthCheck every 5 minutes for a week."""

    async def week(h: Any) -> int:
        await h.advance(WEEK + 1)
        return len(h.runs("ApiHealthCheck"))

    start = time.perf_counter()
    ticks = Simulation(registry, seed=0, services=services).run(week)
    seconds = time.perf_counter() - start
    assert ticks == 2016, f"expected 2016 ticks in a week, got {ticks}"
    return (WEEK + 1) / seconds


def bare_compression() -> float:
    """The same week of 5-minute sleeps on a bare SimLoop, no engine."""

    async def week() -> None:
        for _ in range(2016):
            await asyncio.sleep(300)

    start = time.perf_counter()
    run_simulated(week, seed=0)
    return WEEK / (time.perf_counter() - start)


def fuzz_500(happy: Scenario) -> float:
    start = time.perf_counter()
    fuzz(happy, max_examples=500, report=None)
    return time.perf_counter() - start


def plain_500(happy: Scenario, registry: StepRegistry) -> float:
    start = time.perf_counter()
    for seed in range(500):
        run = Simulation(registry, seed=seed, invariants=happy.invariants).execute(happy.fn)
        assert run.violation is None, run.violation
    return time.perf_counter() - start


def served(registry: StepRegistry, n: int) -> Row:
    """The simulator against the runtime doing real I/O: served on loopback, driven over HTTP."""
    from ._servers import Server

    progress("    saga: simulator and the runtime served on loopback")
    with Server("motia", "httptools", "uvloop", "--history", "1000000") as server:
        sim, real = paired(lambda: sim_rate(registry, 1), lambda: served_rate(server.url), n)
    return compare(
        AREA,
        "saga events/s, simulator / runtime served on loopback",
        "ev/s",
        sim,
        "runtime served by uvicorn (httptools+uvloop), HTTP client",
        real,
        None,
        f"{ORDERS} orders; the served side is `motia-rt start`'s stack in one process with a "
        "client posting over loopback, timed until its sagas have finished: the real I/O the "
        "simulator does without",
    )


def _unless_violation(figure: str, measure: Callable[[], Row]) -> Row:
    """``measure()``, or a skipped row when the fuzzer found a broken invariant on the way."""
    try:
        return measure()
    except InvariantViolation as exc:
        return skipped(AREA, figure, f"fuzz found a violation: {str(exc).splitlines()[0]}")


def run(quick: bool = False) -> list[Row]:
    registry = load_steps(STEPS)
    happy = resolve(f"{SCENARIOS / 'orders.py'}::happy_path")
    ops = resolve(f"{SCENARIOS / 'ops.py'}::health_check_over_one_day")
    n = 3 if quick else 7
    runtime = "runtime, zero delays"
    progress("    saga: simulator and in-process runtime")
    sim, rt = paired(lambda: sim_rate(registry, 1), runtime_rate, n)
    rows = [
        compare(
            AREA,
            "saga events/s, simulator, no faults",
            "ev/s",
            sim,
            runtime,
            rt,
            Target("ratio", ">=", 1.0),
            f"{ORDERS} orders posted one by one then settled; timed from the first POST to "
            "quiescence in both (setup excluded)",
        ),
    ]

    def fuzzed() -> Row:
        progress("    saga: fuzzed plans and in-process runtime")
        fz, rt2 = paired(lambda: fuzz_rate(happy), runtime_rate, 3 if quick else 5)
        return compare(
            AREA,
            FUZZED,
            "ev/s",
            fz,
            runtime,
            rt2,
            Target("ratio", ">=", 1.0),
            f"fuzz(): {FUZZ_EXAMPLES} examples x {FUZZ_ORDERS} orders, <= 3 faults "
            "each, invariants on; Hypothesis and per-run setup included",
        )

    rows.append(_unless_violation(FUZZED, fuzzed))
    rows.append(served(registry, n))
    events = ORDERS * 8
    heap = repeat(lambda: heap_rate(events), n)
    rows.append(
        compare(
            AREA,
            "saga events/s, simulator / bare heap loop",
            "ev/s",
            sim,
            f"heap loop, {events} no-op events",
            heap,
            None,
            "the ceiling: what any discrete-event loop in Python costs per event",
        )
    )
    progress("    cron week")
    cron, bare = paired(lambda: cron_compression(registry, ops.services), bare_compression, n)
    rows.append(
        compare(
            AREA,
            "cron week: simulated s per wall s",
            "x",
            cron,
            "bare SimLoop, 2016 sleeps of 300 s",
            bare,
            Target("value", ">=", 1e6),
            "ApiHealthCheck every 5 min for 7 simulated days (2016 ticks), one "
            "simulation including setup",
        )
    )
    if quick:
        return rows

    def fuzz_wall() -> Row:
        progress("    fuzz, 500 examples (three times, and 500 plain runs)")
        fz, plain = paired(lambda: fuzz_500(happy), lambda: plain_500(happy, registry), 3)
        return compare(
            AREA,
            FUZZ_500,
            "s",
            fz,
            "500 plain runs (seeds 0..499, no faults)",
            plain,
            None,
            "motia_sim.fuzz(happy_path, max_examples=500, report=None); "
            "ratio = cost of Hypothesis + fault plans over plain runs",
        )

    rows.append(_unless_violation(FUZZ_500, fuzz_wall))
    return rows
