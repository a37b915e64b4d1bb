"""Cron steps fired on the engine's Clock, so virtual time drives them in the simulator.

Expressions are read as Motia reads them (``cron_expression``): six fields mean seconds first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from .cron_expression import cron_schedule, next_fire_time
from .engine import Engine
from .steps import Step

__all__ = ["CronLock", "CronScheduler", "next_fire_time"]

log = logging.getLogger("motia.cron")

CronLock = Callable[[str, float], Awaitable[int]]
"""``lock(step_name, scheduled_time) -> runs``: with several instances, only one fires a tick
(``True`` there, ``False`` elsewhere). The answer is how many times this instance runs the tick:
the simulator answers 2 to inject a tick that ran twice (two instances whose lock failed)."""


class CronScheduler:
    """One task per cron step: sleep on the clock until the next fire time, then run the handler.

    A tick's handler runs in its own task, so a slow handler never delays the next tick. With a
    ``lock``, a tick runs only where the lock for (step, scheduled time) is acquired.
    """

    def __init__(self, engine: Engine, lock: CronLock | None = None) -> None:
        self.engine = engine
        self.lock = lock
        self._tasks: list[asyncio.Task[None]] = []
        self._runs: dict[asyncio.Task[object], None] = {}

    def start(self) -> None:
        for step in self.engine.registry.of_kind("cron"):
            self._tasks.append(asyncio.create_task(self._loop(step), name=f"cron:{step.name}"))

    async def close(self) -> None:
        tasks = [*self._tasks, *self._runs]
        # Cancel until done: a lock that talks to Redis can swallow one cancellation (redis-py
        # loses a cancel() that lands while it opens a connection).
        while tasks:
            for task in tasks:
                task.cancel()
            _, still = await asyncio.wait(tasks, timeout=0.5)
            tasks = list(still)
        self._tasks.clear()

    async def _loop(self, step: Step) -> None:
        assert step.cron is not None
        clock = self.engine.clock
        # One iterator per step (building a croniter per tick was 40% of a simulated week);
        # rebuilt only when the clock jumped past the next fire time.
        schedule = cron_schedule(step.cron, clock.now())
        due = float(schedule.get_next(float))
        while True:
            await clock.sleep(due - clock.now())
            for _ in range(1 if self.lock is None else int(await self.lock(step.name, due))):
                run = asyncio.create_task(self.engine.run_cron(step.name))
                self._runs[run] = None
                run.add_done_callback(lambda t: self._runs.pop(t, None))
            due = float(schedule.get_next(float))
            if due <= clock.now():
                due = next_fire_time(step.cron, clock.now())
                schedule = cron_schedule(step.cron, due)
                schedule.get_next(float)
