"""``state``: the n-th state store operation of a run fails."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from hypothesis import strategies as st

from ._base import Aim, AppNames, FaultKind, within

if TYPE_CHECKING:
    from ..simulation import SimRun
    from ..strategies import FaultSpace


@dataclass(frozen=True, slots=True)
class StateFault:
    """The ``op``-th state store operation of the run fails with ``InjectedStoreError``."""

    op: int = 1
    kind: ClassVar[str] = "state"

    def __str__(self) -> str:
        return f"state op={self.op}"


@dataclass(frozen=True)
class StateRecipe:
    op: int


class StateKind(FaultKind[StateFault, StateRecipe]):
    fault = StateFault
    form = "state op=N"

    def targets(self, space: FaultSpace) -> Iterable[str]:
        # Its step is whichever run makes the operation: any step with a handler.
        return space.handlers

    part = StateRecipe

    def draws(self, space: FaultSpace) -> tuple[st.SearchStrategy[int], ...]:
        return (st.integers(1, 400),)

    def aim(self, where: str, part: StateRecipe, aim: Aim) -> StateFault:
        # Operations are numbered across the whole run: one that a run of ``where`` made, so the
        # fault lands in that step; any operation where it made none.
        made = [n for n, step in enumerate(aim.seen.state_op_steps, 1) if step == where]
        if made:
            return StateFault(made[(part.op - 1) % len(made)])
        return StateFault(within(part.op, aim.seen.state_ops, 40))

    def sweep(self, where: str, aim: Aim) -> Iterable[StateFault]:
        made = [n for n, step in enumerate(aim.seen.state_op_steps, 1) if step == where]
        return (StateFault(op) for op in made)

    def problem(self, fault: StateFault, app: AppNames) -> str | None:
        return None

    def moves(self, fault: StateFault, run: SimRun) -> Iterable[StateFault]:
        state_ops = sum(1 for e in run.trace.entries if e.kind == "state")
        # Failed operations leave no state line: count them back in.
        return (StateFault(op) for op in range(1, state_ops + len(run.fired) + 1))
