"""``crash``: a handler run dies as it starts, or right after one of its side effects."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, ClassVar, Literal, TypeAlias

from hypothesis import strategies as st

from ._base import Aim, AppNames, FaultKind

if TYPE_CHECKING:
    from ..simulation import SimRun
    from ..strategies import FaultSpace

CrashPoint: TypeAlias = Literal["start", "state", "emit", "service", "net"]
_POINTS: tuple[CrashPoint, ...] = ("start", "state", "emit", "service", "net")


@dataclass(frozen=True, slots=True)
class Crash:
    """The ``run``-th handler run of ``step`` dies at its start, or right after its ``k``-th side
    effect of kind ``after`` (state write, emit, service call, request on the virtual network); the
    message is redelivered."""

    step: str
    run: int = 1
    after: CrashPoint = "start"
    k: int = 1
    kind: ClassVar[str] = "crash"

    def __post_init__(self) -> None:
        if self.after == "start":  # k means nothing at the start: one canonical form
            object.__setattr__(self, "k", 1)

    def __str__(self) -> str:
        where = "start" if self.after == "start" else f"{self.after}#{self.k}"
        return f"crash step={self.step} run={self.run} after={where}"


@dataclass(frozen=True)
class CrashRecipe:
    """``after`` 0 is a crash at start, 1-3 one after a side effect (of a kind the run made)."""

    run: int
    after: int
    k: int


class CrashKind(FaultKind[Crash, CrashRecipe]):
    fault = Crash
    form = "crash step=S run=N after=start|state#K|emit#K|service#K|net#K"

    def read(self, key: str, raw: str) -> dict[str, Any] | None:
        if key != "after":
            return None
        point, _, k = raw.partition("#")
        if point not in _POINTS or not (k or "1").isdigit():
            raise ValueError(f"after={raw!r}")
        return {"after": point, "k": int(k or 1)}

    def targets(self, space: FaultSpace) -> Iterable[str]:
        return space.handlers

    part = CrashRecipe

    def draws(self, space: FaultSpace) -> tuple[st.SearchStrategy[int], ...]:
        # 1-3 pick among the kinds of side effect the counted run made (a request on the
        # virtual network among them), so the draws are the same for apps without one.
        return st.integers(1, 8), st.integers(0, 3), st.integers(1, 8)

    def aim(self, where: str, part: CrashRecipe, aim: Aim) -> Crash:
        # The crash lands in a run the step had, after a kind of side effect that run made.
        run = aim.index(part.run, aim.seen.runs.get(where, 0), 2)
        if part.after == 0:
            return Crash(where, run)
        made = aim.seen.effects.get((where, run))
        if made is None:  # a run the fault-free schedule did not have: any kind, as drawn
            return Crash(where, run, _POINTS[part.after], aim.index(part.k, 0, 2))
        kinds = [point for point in _POINTS[1:] if made.get(point)]
        if not kinds:  # the run made no side effect: it can only crash as it starts
            return Crash(where, run)
        chosen = kinds[(part.after - 1) % len(kinds)]
        return Crash(where, run, chosen, 1 + (part.k - 1) % made[chosen])

    def sweep(self, where: str, aim: Aim) -> Iterable[Crash]:
        # Right after a side effect first (the run dies with its work half done), as it starts
        # last (the message is only delivered again).
        runs = aim.count(aim.seen.runs.get(where, 0))
        for run in runs:
            made = aim.seen.effects.get((where, run), {})
            for point in _POINTS[1:]:
                for k in range(1, made.get(point, 0) + 1):
                    yield Crash(where, run, point, k)
        yield from (Crash(where, run) for run in runs)

    def problem(self, fault: Crash, app: AppNames) -> str | None:
        return app.step(fault.step)

    def moves(self, fault: Crash, run: SimRun) -> Iterable[Crash]:
        return (replace(fault, run=n) for n in range(1, 4))
