"""Cron steps fire on the engine's Clock at the times the cron expression gives."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from motia_rt.cron import CronScheduler, next_fire_time
from motia_rt.engine import Engine
from motia_rt.loader import load_steps
from motia_rt.state.memory import MemoryStateStore
from motia_rt.testing import Runtime
from motia_rt.transport.memory import MemoryTransport
from tests.step_files import make_app

TICK = {
    "tick_step.py": """
        config = {"type": "cron", "name": "Tick", "cron": "*/5 * * * *", "emits": ["tick"]}
        async def handler(context):
            await context.emit("tick", {"trace": context.trace_id})
    """,
}


class JumpClock:
    """A clock whose sleep jumps time forward at once (the simulator does this properly)."""

    def __init__(self, start: float) -> None:
        self.t = start

    def now(self) -> float:
        return self.t

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        # Let runnable tasks go first, as a virtual-time loop only jumps when nothing can run.
        for _ in range(5):
            await asyncio.sleep(0)
        self.t += max(0.0, seconds)


@given(st.integers(1_700_000_000, 1_900_000_000), st.sampled_from([1, 5, 15, 60]))
def test_next_fire_time_is_the_next_multiple(after: int, minutes: int) -> None:
    expr = f"*/{minutes} * * * *" if minutes < 60 else "0 * * * *"
    fire = next_fire_time(expr, after)
    assert fire > after
    assert fire - after <= minutes * 60
    assert datetime.fromtimestamp(fire, tz=UTC).minute % minutes == 0 and fire % 60 == 0


async def test_scheduler_fires_every_five_minutes_on_the_clock(tmp_path: Path) -> None:
    start = datetime(2026, 1, 1, 0, 1, tzinfo=UTC).timestamp()
    clock = JumpClock(start)
    engine = Engine(load_steps(make_app(tmp_path, TICK)), clock=clock,
                    transport=MemoryTransport(clock), state=MemoryStateStore())  # fmt: skip
    await engine.start()
    scheduler = CronScheduler(engine)
    scheduler.start()
    while len([r for r in engine.runs if r.outcome == "ok"]) < 12:
        await asyncio.sleep(0)
    await scheduler.close()
    fired = [r.started for r in engine.runs if r.outcome == "ok"][:12]
    first = datetime(2026, 1, 1, 0, 5, tzinfo=UTC).timestamp()
    assert fired == [first + 300 * i for i in range(12)]
    assert len({r.trace_id for r in engine.runs}) == len(engine.runs), "a trace per tick"


async def test_cron_lock_decides_which_ticks_fire(tmp_path: Path) -> None:
    clock = JumpClock(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    engine = Engine(load_steps(make_app(tmp_path, TICK)), clock=clock,
                    transport=MemoryTransport(clock), state=MemoryStateStore())  # fmt: skip
    asked: list[tuple[str, float]] = []

    async def every_other(step: str, due: float) -> bool:
        asked.append((step, due))
        return len(asked) % 2 == 0

    scheduler = CronScheduler(engine, lock=every_other)
    scheduler.start()
    while len(asked) < 7:
        await asyncio.sleep(0)
    await scheduler.close()
    assert [s for s, _ in asked] == ["Tick"] * len(asked)
    assert sorted(r.started for r in engine.runs) == [
        d for i, (_, d) in enumerate(asked[:6]) if i % 2
    ]


async def test_cron_lock_answers_how_many_times_a_tick_runs(tmp_path: Path) -> None:
    # What two instances do when their lock does not hold: both run the tick (the simulator's
    # ``cron ... twice=true``).
    clock = JumpClock(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
    engine = Engine(load_steps(make_app(tmp_path, TICK)), clock=clock,
                    transport=MemoryTransport(clock), state=MemoryStateStore())  # fmt: skip
    asked: list[float] = []

    async def second_tick_twice(step: str, due: float) -> int:
        asked.append(due)
        return 2 if len(asked) == 2 else 1

    scheduler = CronScheduler(engine, lock=second_tick_twice)
    scheduler.start()
    while len(asked) < 4:
        await asyncio.sleep(0)
    await scheduler.close()
    started = sorted(r.started for r in engine.runs)
    assert started == [asked[0], asked[1], asked[1], asked[2]]
    assert len({r.trace_id for r in engine.runs}) == 4, "each run of a tick has its own trace"


async def test_trigger_cron_runs_now_and_reports_failures(tmp_path: Path) -> None:
    app = make_app(tmp_path, {
        **TICK,
        "bad_step.py": """
            config = {"type": "cron", "name": "Bad", "cron": "0 0 * * *"}
            async def handler(context):
                raise ValueError("probe down")
        """,
    })  # fmt: skip
    async with Runtime(app) as rt:
        run = await rt.trigger_cron("Tick")
        assert run.outcome == "ok"
        tick = await rt.wait_for_topic("tick", timeout=0)
        assert tick.data == {"trace": run.trace_id} and tick.trace_id == run.trace_id
        bad = await rt.trigger_cron("Bad")
        assert bad.outcome == "error" and bad.error == "ValueError: probe down"
