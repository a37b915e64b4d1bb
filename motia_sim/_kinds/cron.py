"""``cron``: the n-th scheduled tick of a cron step fires late, is missed, or runs twice."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from hypothesis import strategies as st

from ._base import (
    RACE_TRIES,
    Aim,
    AppNames,
    FaultKind,
    FaultPlanSyntaxError,
    magnitude_indexes,
    seconds_text,
)

if TYPE_CHECKING:
    from ..simulation import SimRun
    from ..strategies import FaultSpace


@dataclass(frozen=True, slots=True)
class CronFault:
    """The ``tick``-th scheduled tick of cron step ``step`` fires ``late`` seconds late, is
    ``missed`` entirely, or runs ``twice`` at once (two instances without a working lock, or with
    a lock that expired mid-tick)."""

    step: str
    tick: int = 1
    late: float = 0.0
    missed: bool = False
    twice: bool = False
    kind: ClassVar[str] = "cron"

    def __post_init__(self) -> None:
        if self.missed and self.twice:
            raise FaultPlanSyntaxError(
                f"cron step={self.step} tick={self.tick}: a tick is missed=true or twice=true, "
                "not both"
            )
        if self.missed or self.twice:  # late means nothing then: one canonical form
            object.__setattr__(self, "late", 0.0)

    def __str__(self) -> str:
        if self.missed or self.twice:
            what = "missed=true" if self.missed else "twice=true"
        else:
            what = f"late={seconds_text(self.late)}"
        return f"cron step={self.step} tick={self.tick} {what}"


@dataclass(frozen=True)
class CronRecipe:
    """Which tick, ``mode`` 0 late (by a magnitude), 1 missed, 2 twice."""

    tick: int
    mode: int
    magnitude: int


class CronKind(FaultKind[CronFault, CronRecipe]):
    fault = CronFault
    form = "cron step=S tick=N late=X|missed=true|twice=true"

    def targets(self, space: FaultSpace) -> Iterable[str]:
        return space.cron_steps

    part = CronRecipe

    def draws(self, space: FaultSpace) -> tuple[st.SearchStrategy[int], ...]:
        return st.integers(1, 8), st.integers(0, 2), magnitude_indexes(space)

    def aim(self, where: str, part: CronRecipe, aim: Aim) -> CronFault:
        tick = aim.index(part.tick, aim.seen.ticks.get(where, 0), 3)
        mode = part.mode % 3
        if mode == 0:
            return CronFault(where, tick, aim.seconds(part.magnitude))
        return CronFault(where, tick, missed=mode == 1, twice=mode == 2)

    def sweep(self, where: str, aim: Aim) -> Iterable[CronFault]:
        ticks = aim.count(aim.seen.ticks.get(where, 0))
        yield from (CronFault(where, tick, twice=True) for tick in ticks)
        yield from (CronFault(where, tick, missed=True) for tick in ticks)
        longest = aim.longest_first()[0]
        yield from (CronFault(where, tick, longest) for tick in ticks)

    def tries(self, fault: CronFault) -> int:
        return RACE_TRIES if fault.twice else 1

    def problem(self, fault: CronFault, app: AppNames) -> str | None:
        return app.step(fault.step)

    def moves(self, fault: CronFault, run: SimRun) -> Iterable[CronFault]:
        # An earlier late tick can push the scheduler past the next due time, shifting later tick
        # numbers by one: the neighbours (not every tick of a day of five-minute ticks).
        return (replace(fault, tick=n) for n in range(max(1, fault.tick - 1), fault.tick + 2))
