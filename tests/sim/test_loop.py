"""The deterministic loop: virtual time, determinism, deadlocks, escapes, and the real web stack."""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from typing import Any

import httpx
import pydantic
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.base import BaseHTTPMiddleware, RequestResponseEndpoint
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from motia_sim._loop import Deadlock, SimLoop, SimulationEscape, VirtualClock, run_simulated

Trace = list[tuple[float, str]]


def loop_time() -> float:
    return asyncio.get_running_loop().time()


def test_sleep_costs_no_wall_time_and_advances_time_exactly() -> None:
    async def main() -> tuple[float, float]:
        before = loop_time()
        await asyncio.sleep(3600)
        return before, loop_time()

    started = time.perf_counter()
    before, after = run_simulated(main, seed=0)
    assert time.perf_counter() - started < 1.0
    assert (before, after) == (0.0, 3600.0)


def test_idle_loop_jumps_to_the_next_timer() -> None:
    clock = VirtualClock(start_epoch=1000.0)

    async def main() -> list[tuple[str, float]]:
        loop = asyncio.get_running_loop()
        fired: list[tuple[str, float]] = []
        done = asyncio.Event()

        def fire(name: str) -> None:
            fired.append((name, loop.time()))
            if name == "late":
                done.set()

        loop.call_later(7.5, fire, "late")
        loop.call_later(2.0, fire, "early")
        await done.wait()
        return fired

    assert run_simulated(main, seed=0, clock=clock) == [("early", 2.0), ("late", 7.5)]
    assert (clock.monotonic(), clock.now()) == (7.5, 1007.5)


def test_the_clock_is_the_single_source_of_time() -> None:
    clock = VirtualClock()

    async def main() -> None:
        loop = asyncio.get_running_loop()
        assert isinstance(loop, SimLoop) and loop.clock is clock
        await clock.sleep(42)
        assert loop.time() == clock.monotonic() == 42.0
        assert clock.now() == 1_767_225_600.0 + 42.0

    run_simulated(main, seed=0, clock=clock)
    # A reused clock continues where the last run stopped.
    run_simulated(lambda: asyncio.sleep(8), seed=0, clock=clock)
    assert clock.monotonic() == 50.0


def test_virtual_clock_sleep_refuses_a_loop_it_does_not_drive() -> None:
    with pytest.raises(RuntimeError, match="SimLoop driven by this clock"):
        asyncio.run(VirtualClock().sleep(1))


def test_wait_for_times_out_in_virtual_time() -> None:
    async def main() -> float:
        with pytest.raises(TimeoutError):
            await asyncio.wait_for(asyncio.sleep(10), 1)
        return loop_time()

    assert run_simulated(main, seed=0) == 1.0


def test_asyncio_timeout_expires_in_virtual_time() -> None:
    async def main() -> float:
        with pytest.raises(TimeoutError):
            async with asyncio.timeout(2.5):
                await asyncio.sleep(10)
        return loop_time()

    assert run_simulated(main, seed=0) == 2.5


def interleaving(seed: int) -> tuple[Trace, list[str]]:
    """Twenty tasks sleeping random amounts; the trace records who ran when."""
    trace: Trace = []
    ids: list[str] = []

    async def worker() -> None:
        for _ in range(10):
            await asyncio.sleep(random.choice([0, 0.5, 1, 1.5, 3]))
            trace.append((loop_time(), asyncio.current_task().get_name()))  # type: ignore[union-attr]
        ids.append(str(uuid.uuid4()))

    async def main() -> None:
        async with asyncio.TaskGroup() as group:
            for _ in range(20):
                group.create_task(worker())  # default names: deterministic per run

    run_simulated(main, seed=seed)
    return trace, ids


def test_same_seed_gives_the_same_interleaving_and_another_seed_does_not() -> None:
    first, again, other = interleaving(7), interleaving(7), interleaving(8)
    assert len(first[0]) == 200
    assert first == again
    assert first[0] != other[0]
    assert first[1] != other[1]


def test_timer_ties_run_in_a_deterministic_order() -> None:
    def order() -> list[int]:
        ran: list[int] = []

        async def main() -> None:
            loop = asyncio.get_running_loop()
            handles = [loop.call_later(5, ran.append, i) for i in range(40)]
            handles[3].cancel()
            await asyncio.sleep(5)
            await asyncio.sleep(0)

        run_simulated(main, seed=0)
        return ran

    first = order()
    assert sorted(first) == [i for i in range(40) if i != 3]
    assert order() == first


def test_awaiting_a_future_nobody_resolves_is_a_deadlock() -> None:
    async def main() -> None:
        loop = asyncio.get_running_loop()
        never = loop.create_future()
        stuck = asyncio.Event()
        waiter = loop.create_task(stuck.wait(), name="waiter")
        await asyncio.sleep(3)
        await never
        await waiter

    started = time.perf_counter()
    with pytest.raises(Deadlock) as caught:
        run_simulated(main, seed=0)
    assert time.perf_counter() - started < 1.0
    message = str(caught.value)
    assert "t=3.0s" in message
    assert "no task can make progress and no timer is scheduled" in message
    assert "main: test_awaiting_a_future_nobody_resolves_is_a_deadlock.<locals>.main()" in message
    assert "waiter: Event.wait()" in message


def test_a_leftover_task_that_never_finishes_is_a_deadlock() -> None:
    async def stubborn() -> None:
        try:
            await asyncio.sleep(1e9)
        except asyncio.CancelledError:
            await asyncio.get_running_loop().create_future()

    async def main() -> None:
        asyncio.get_running_loop().create_task(stubborn(), name="stubborn")

    with pytest.raises(Deadlock, match=r"stubborn: .*stubborn\(\) at "):
        run_simulated(main, seed=0)


def test_leftover_tasks_are_cancelled_in_creation_order() -> None:
    cancelled: list[str] = []

    async def background(name: str) -> None:
        try:
            await asyncio.sleep(1e9)
        except asyncio.CancelledError:
            cancelled.append(name)
            raise

    async def main() -> str:
        for i in range(30):
            asyncio.get_running_loop().create_task(background(f"b{i}"))
        await asyncio.sleep(1)
        return "done"

    assert run_simulated(main, seed=0) == "done"
    assert cancelled == [f"b{i}" for i in range(30)]


def test_default_task_names_count_per_loop() -> None:
    async def main() -> list[str]:
        tasks = [asyncio.create_task(asyncio.sleep(0)) for _ in range(3)]
        await asyncio.gather(*tasks)
        return [task.get_name() for task in tasks]

    assert run_simulated(main, seed=0) == ["Task-2", "Task-3", "Task-4"]
    assert run_simulated(main, seed=0) == ["Task-2", "Task-3", "Task-4"]


def test_call_soon_threadsafe_schedules_without_a_wakeup() -> None:
    async def main() -> list[float]:
        loop = asyncio.get_running_loop()
        ran: list[float] = []
        loop.call_soon_threadsafe(lambda: ran.append(loop.time()))
        await asyncio.sleep(0)
        return ran

    assert run_simulated(main, seed=0) == [0.0]


@pytest.mark.parametrize(
    ("call", "use"),
    [
        ("loop.run_in_executor", lambda loop: loop.run_in_executor(None, print)),
        ("loop.getaddrinfo", lambda loop: loop.getaddrinfo("example.com", 80)),
        ("loop.create_connection", lambda loop: loop.create_connection(asyncio.Protocol)),
        ("loop.subprocess_exec", lambda loop: loop.subprocess_exec(asyncio.Protocol, "ls")),
        ("loop.add_reader", lambda loop: loop.add_reader(0, print)),
    ],
)
def test_real_io_on_the_loop_raises_simulation_escape(call: str, use: Any) -> None:
    async def main() -> None:
        await use(asyncio.get_running_loop())

    with pytest.raises(SimulationEscape) as caught:
        run_simulated(main, seed=0)
    assert caught.value.call == call
    assert str(caught.value).startswith(f"{call}() was called inside a simulation")


def test_result_and_errors_of_main_come_back() -> None:
    async def fails() -> None:
        await asyncio.sleep(1)
        raise KeyError("boom")

    async def answer() -> int:
        return 42

    with pytest.raises(KeyError, match="boom"):
        run_simulated(fails, seed=0)
    assert run_simulated(answer, seed=0) == 42


def test_passing_a_coroutine_instead_of_a_function_is_a_type_error() -> None:
    with pytest.raises(TypeError, match="pass `main`, not `main\\(\\)`"):
        run_simulated(asyncio.sleep(1), seed=0)  # type: ignore[arg-type]


async def test_calling_from_a_running_loop_says_to_call_from_sync_code() -> None:
    with pytest.raises(RuntimeError, match="call it from synchronous code"):
        run_simulated(lambda: asyncio.sleep(1), seed=0)


def test_works_under_another_event_loop_policy() -> None:
    class Policy(asyncio.DefaultEventLoopPolicy):
        pass

    saved = asyncio.get_event_loop_policy()
    policy = Policy()
    asyncio.set_event_loop_policy(policy)
    try:
        assert run_simulated(lambda: asyncio.sleep(60, result="ok"), seed=0) == "ok"
        assert asyncio.get_event_loop_policy() is policy
    finally:
        asyncio.set_event_loop_policy(saved)


def test_a_simulated_week_of_five_minute_ticks() -> None:
    async def main() -> tuple[int, float]:
        ticks = 0
        for _ in range(7 * 24 * 12):
            await asyncio.sleep(300)
            ticks += 1
        return ticks, loop_time()

    assert run_simulated(main, seed=0) == (2016, 604_800.0)


class Order(pydantic.BaseModel):
    sku: str
    qty: int


async def create_order(request: Request) -> Response:
    order = Order.model_validate(await request.json())
    await asyncio.sleep(5)
    return JSONResponse({"sku": order.sku, "qty": order.qty, "at": loop_time()}, status_code=201)


class TimingHeader(BaseHTTPMiddleware):
    """Runs the endpoint in an anyio task group, as real middleware stacks do."""

    async def dispatch(self, request: Request, call_next: RequestResponseEndpoint) -> Response:
        response = await call_next(request)
        response.headers["x-virtual-time"] = str(loop_time())
        return response


def test_starlette_over_httpx_asgi_transport_runs_in_virtual_time() -> None:
    app = Starlette(
        routes=[Route("/orders", create_order, methods=["POST"])],
        middleware=[Middleware(TimingHeader)],
    )

    async def main() -> tuple[int, Any, str, float]:
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sim") as client:
            await asyncio.sleep(1)
            response = await client.post("/orders", json={"sku": "A-1", "qty": 2})
        return (
            response.status_code,
            response.json(),
            response.headers["x-virtual-time"],
            loop_time(),
        )

    status, body, header, now = run_simulated(main, seed=0)
    assert status == 201
    assert body == {"sku": "A-1", "qty": 2, "at": 6.0}
    assert header == "6.0"
    assert now == 6.0


@settings(max_examples=25, deadline=None)
@given(
    plans=st.lists(
        st.lists(st.integers(0, 4000).map(lambda n: n / 8), max_size=8), min_size=1, max_size=6
    )
)
def test_end_time_is_the_longest_chain_of_sleeps(plans: list[list[float]]) -> None:
    def run() -> tuple[float, Trace]:
        trace: Trace = []

        async def sleeper(name: str, durations: list[float]) -> None:
            for seconds in durations:
                await asyncio.sleep(seconds)
                trace.append((loop_time(), name))

        async def main() -> float:
            async with asyncio.TaskGroup() as group:
                for i, durations in enumerate(plans):
                    group.create_task(sleeper(f"s{i}", durations))
            return loop_time()

        return run_simulated(main, seed=1), trace

    end, trace = run()
    assert end == max(sum(durations) for durations in plans)
    assert [t for t, _ in trace] == sorted(t for t, _ in trace)
    assert run() == (end, trace)


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_runs_inside_a_hypothesis_test(seed: int) -> None:
    async def main() -> tuple[float, str]:
        await asyncio.sleep(random.uniform(0, 100))
        return loop_time(), str(uuid.uuid4())

    assert run_simulated(main, seed=seed) == run_simulated(main, seed=seed)
