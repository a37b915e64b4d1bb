"""Six-field cron expressions read as Motia reads them: seconds first, in the runtime, the
simulator and the loader; whatever croniter would read differently is a load error."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from itertools import pairwise
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from motia_rt.cron import CronScheduler
from motia_rt.cron_expression import CronExpressionError, croniter_form, next_fire_time
from motia_rt.engine import Engine
from motia_rt.errors import StepLoadError
from motia_rt.loader import load_steps
from motia_rt.state.memory import MemoryStateStore
from motia_rt.transport.memory import MemoryTransport
from motia_sim import Simulation
from tests.rt.test_cron import JumpClock
from tests.step_files import make_app


def every(expression: str) -> dict[str, str]:
    return {
        "tick_step.py": f"""
            config = {{"type": "cron", "name": "Tick", "cron": {expression!r}, "emits": []}}
            async def handler(context):
                pass
        """,
    }


def test_six_fields_put_the_seconds_first() -> None:
    assert croniter_form("*/10 * * * * *") == "* * * * * */10"
    assert croniter_form("30 */5 * * * *") == "*/5 * * * * 30"
    assert croniter_form("*/5 * * * *") == "*/5 * * * *"
    start = datetime(2026, 1, 1, tzinfo=UTC).timestamp()
    assert next_fire_time("*/10 * * * * *", start) == start + 10
    assert next_fire_time("30 */5 * * * *", start) == start + 30
    assert next_fire_time("30 */5 * * * *", start + 30) == start + 330


@given(st.integers(1_700_000_000, 1_900_000_000), st.sampled_from([1, 2, 5, 10, 15, 30]))
def test_a_seconds_step_fires_on_its_multiples(after: int, seconds: int) -> None:
    fire = next_fire_time(f"*/{seconds} * * * * *", after)
    assert after < fire <= after + seconds
    assert fire % seconds == 0


@pytest.mark.parametrize(
    ("expression", "says"),
    [
        ("* * * * * * 2026", "7 fields"),
        ("*/5 * *", "3 fields"),
        ("@hourly", "1 field"),
        ("0 0 13 * 5", "both the day of month and the day of week"),
        ("H * * * *", "'H' in its minute field"),
        ("0 0 L * *", "'L' in its day of month field"),
        ("R * * * * *", "'R' in its second field"),
        ("0 0 * * 1#2", "'1#2' as its day of week field"),
        ("0 0 ? * *", "'?' as its day of month field"),
        ("61 * * * * *", "not a valid cron expression"),
    ],
)
def test_expressions_read_otherwise_are_refused(expression: str, says: str) -> None:
    with pytest.raises(CronExpressionError, match=says):
        croniter_form(expression)


def test_the_loader_names_the_file_the_field_and_the_fix(tmp_path: Path) -> None:
    with pytest.raises(StepLoadError) as caught:
        load_steps(make_app(tmp_path, every("* * * * * * 2026")))
    assert caught.value.file.endswith("tick_step.py")
    assert caught.value.field == "cron"
    assert "7 fields" in caught.value.problem
    assert "seconds first" in caught.value.fix


def test_names_of_months_and_weekdays_still_load(tmp_path: Path) -> None:
    registry = load_steps(make_app(tmp_path, every("0 9 * jan,JUL mon-fri")))
    assert [s.cron for s in registry.of_kind("cron")] == ["0 9 * jan,JUL mon-fri"]


async def test_the_runtime_fires_every_ten_seconds(tmp_path: Path) -> None:
    start = datetime(2026, 1, 1, 0, 0, 1, tzinfo=UTC).timestamp()
    clock = JumpClock(start)
    engine = Engine(load_steps(make_app(tmp_path, every("*/10 * * * * *"))), clock=clock,
                    transport=MemoryTransport(clock), state=MemoryStateStore())  # fmt: skip
    await engine.start()
    scheduler = CronScheduler(engine)
    scheduler.start()
    async with asyncio.timeout(10):
        while len([r for r in engine.runs if r.outcome == "ok"]) < 12:
            await asyncio.sleep(0)
    await scheduler.close()
    fired = [r.started for r in engine.runs if r.outcome == "ok"][:12]
    assert fired == [start - 1 + 10 * i for i in range(1, 13)]


def test_the_simulator_fires_twelve_times_in_two_minutes(tmp_path: Path) -> None:
    async def two_minutes(h: object) -> None:
        await h.advance(120)  # type: ignore[attr-defined]
        await h.settle()  # type: ignore[attr-defined]

    sim = Simulation(make_app(tmp_path, every("*/10 * * * * *")))
    sim.run(two_minutes)
    assert sim.last is not None
    ticks = [r.started for r in sim.last.world.runs if r.step == "Tick"]
    assert len(ticks) == 12
    assert [b - a for a, b in pairwise(ticks)] == [10.0] * 11
