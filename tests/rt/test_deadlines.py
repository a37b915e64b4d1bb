"""Handler timeouts with one timer per task (motia_rt.deadlines): asyncio.timeout's semantics.

Run on the simulator's virtual-time loop, so "a run of 3 s under a 2.5 s timeout" is exact and
the tests take no real time.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from motia_rt.deadlines import Deadlines
from motia_sim._loop import VirtualClock, run_simulated


async def _run(deadlines: Deadlines, seconds: float, timeout: float) -> str:
    """One run as the engine does it: 'ok', 'timeout' or 'cancelled'."""
    d = deadlines.enter(timeout)
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        if deadlines.leave(d, cancelled=True):
            return "timeout"
        raise
    deadlines.leave(d, cancelled=False)
    return "ok"


# Durations are whole seconds and timeouts half seconds, so no run ends exactly at its deadline.
RUNS = st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5).map(lambda n: n + 0.5)), max_size=12)


@given(RUNS)
def test_runs_in_one_task_time_out_exactly_when_they_overrun(runs: list[tuple[int, float]]) -> None:
    clock = VirtualClock()

    async def main() -> list[tuple[str, float]]:
        deadlines, seen = Deadlines(), []
        loop = asyncio.get_running_loop()
        for seconds, timeout in runs:
            start = loop.time()
            outcome = await _run(deadlines, seconds, timeout)
            seen.append((outcome, loop.time() - start))
        return seen

    seen = run_simulated(main, seed=0, clock=clock)
    expected = [("timeout", t) if s > t else ("ok", float(s)) for s, t in runs]
    assert [(o, pytest.approx(d)) for o, d in seen] == expected


def test_an_idle_task_leaves_no_timer_so_virtual_time_does_not_jump() -> None:
    async def main() -> int:
        deadlines = Deadlines()
        loop = asyncio.get_running_loop()
        assert await _run(deadlines, 0, 30.0) == "ok"
        await asyncio.sleep(0)  # the sweep runs on the next iteration
        live = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
        return len(live)

    clock = VirtualClock()
    start = clock.monotonic()
    assert run_simulated(main, seed=0, clock=clock) == 0
    assert clock.monotonic() - start == pytest.approx(0.0)


def test_a_shorter_timeout_after_a_longer_one_still_fires_on_time() -> None:
    async def main() -> list[str]:
        deadlines = Deadlines()
        # The first run arms a timer at 100 s and ends at once; the second must not wait for it.
        return [await _run(deadlines, 0, 100.0), await _run(deadlines, 5, 1.0)]

    assert run_simulated(main, seed=0) == ["ok", "timeout"]


def test_a_cancel_from_outside_stays_a_cancel() -> None:
    async def main() -> str:
        deadlines = Deadlines()
        task = asyncio.create_task(_run(deadlines, 10, 5.0))
        await asyncio.sleep(1)
        task.cancel()
        try:
            return await task
        except asyncio.CancelledError:
            return "cancelled"

    assert run_simulated(main, seed=0) == "cancelled"


def test_runs_in_many_tasks_each_keep_their_own_deadline() -> None:
    async def main() -> list[str]:
        deadlines = Deadlines()
        return list(await asyncio.gather(*(_run(deadlines, s, 2.5) for s in (1, 2, 3, 4))))

    assert run_simulated(main, seed=0) == ["ok", "ok", "timeout", "timeout"]


async def _one_run(deadlines: Deadlines, delay: float, seconds: float, timeout: float) -> str:
    """An HTTP request's run: its own task, started after ``delay``, one handler."""
    await asyncio.sleep(delay)
    d = deadlines.enter(timeout, reuse=False)
    try:
        await asyncio.sleep(seconds)
    except asyncio.CancelledError:
        if deadlines.leave(d, cancelled=True):
            return f"timeout at {asyncio.get_running_loop().time():g}"
        raise
    deadlines.leave(d, cancelled=False)
    return "ok"


# (start, duration, timeout): whole seconds, half-second timeouts from a few lengths, so runs of
# one length share a queue and none ends exactly at its deadline.
ONE_RUNS = st.lists(
    st.tuples(st.integers(0, 6), st.integers(0, 6), st.sampled_from([0.5, 1.5, 2.5, 30.5])),
    max_size=16,
)


@given(ONE_RUNS)
def test_one_run_tasks_time_out_exactly_when_they_overrun(
    runs: list[tuple[int, int, float]],
) -> None:
    async def main() -> tuple[list[str], int]:
        deadlines = Deadlines()
        tasks = [_one_run(deadlines, start, s, t) for start, s, t in runs]
        outcomes = list(await asyncio.gather(*tasks))
        await asyncio.sleep(0)  # an emptied queue drops its timer on the next iteration
        loop = asyncio.get_running_loop()
        live = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
        return outcomes, len(live)

    expected = [f"timeout at {start + t:g}" if s > t else "ok" for start, s, t in runs]
    assert run_simulated(main, seed=0) == (expected, 0)


def test_one_run_tasks_of_one_length_share_one_timer() -> None:
    async def main() -> int:
        deadlines = Deadlines()
        loop = asyncio.get_running_loop()
        armed = 0
        original = loop.call_at

        def counting_call_at(when: float, callback: Any, *args: Any, **kw: Any) -> Any:
            nonlocal armed
            armed += getattr(callback, "__self__", None) is deadlines  # the sleeps' timers aside
            return original(when, callback, *args, **kw)

        loop.call_at = counting_call_at  # type: ignore[method-assign]
        await asyncio.gather(*(_one_run(deadlines, 0, 1, 30.0) for _ in range(50)))
        return armed

    assert run_simulated(main, seed=0) == 1


def test_a_run_not_reused_leaves_no_timer_after_it_ends() -> None:
    async def main() -> tuple[list[str], int]:
        deadlines = Deadlines()
        loop = asyncio.get_running_loop()
        outcomes = []
        for seconds, timeout in ((0, 30.0), (3, 1.5)):
            d = deadlines.enter(timeout, reuse=False)
            try:
                await asyncio.sleep(seconds)
            except asyncio.CancelledError:
                assert deadlines.leave(d, cancelled=True)
                outcomes.append("timeout")
            else:
                deadlines.leave(d, cancelled=False)
                outcomes.append("ok")
            await asyncio.sleep(0)  # the emptied queue drops its timer on the next iteration
            live = [h for h in loop._scheduled if not h.cancelled()]  # type: ignore[attr-defined]
            assert live == [], "nothing may wait on a run that has ended"
        return outcomes, len(deadlines._by_task)

    assert run_simulated(main, seed=0) == (["ok", "timeout"], 0)
