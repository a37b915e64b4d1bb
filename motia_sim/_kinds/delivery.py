"""``duplicate`` and ``delay``: the n-th message of a topic reaches one subscriber twice, or late."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, TypeVar

from hypothesis import strategies as st

from ._base import RACE_TRIES, Aim, AppNames, FaultKind, magnitude_indexes, seconds_text

if TYPE_CHECKING:
    from ..simulation import SimRun
    from ..strategies import FaultSpace


@dataclass(frozen=True, slots=True)
class Duplicate:
    """The ``nth`` message of ``topic`` is delivered to ``step`` twice."""

    topic: str
    step: str
    nth: int = 1
    kind: ClassVar[str] = "duplicate"

    def __str__(self) -> str:
        return f"duplicate topic={self.topic} step={self.step} nth={self.nth}"


@dataclass(frozen=True, slots=True)
class Delay:
    """The ``nth`` message of ``topic`` reaches ``step`` ``seconds`` late (so others overtake it)."""

    topic: str
    step: str
    nth: int = 1
    seconds: float = 1.0
    kind: ClassVar[str] = "delay"

    def __str__(self) -> str:
        return (
            f"delay topic={self.topic} step={self.step} nth={self.nth} "
            f"seconds={seconds_text(self.seconds)}"
        )


@dataclass(frozen=True)
class DeliveryRecipe:
    """Which of the step's subscriptions, which message of it, and (a delay) how late."""

    subscription: int
    nth: int
    magnitude: int = 0


D = TypeVar("D", Duplicate, Delay)


class _DeliveryKind(FaultKind[D, DeliveryRecipe]):
    part = DeliveryRecipe

    def targets(self, space: FaultSpace) -> Iterable[str]:
        return sorted({step for _, step in space.subscriptions})

    def _message(self, where: str, part: DeliveryRecipe, aim: Aim) -> tuple[str, str, int]:
        # A subscription of the step that delivered something, then a message that was delivered.
        subs = [p for p in aim.space.subscriptions if p[1] == where]
        subs = [p for p in subs if aim.seen.messages.get(p)] or subs
        topic, step = subs[part.subscription % len(subs)]
        return topic, step, aim.index(part.nth, aim.seen.messages.get((topic, step), 0), 3)

    def _messages(self, where: str, aim: Aim) -> Iterable[tuple[str, str, int]]:
        for topic, step in aim.space.subscriptions:
            if step == where:
                for nth in aim.count(aim.seen.messages.get((topic, step), 0)):
                    yield topic, step, nth

    def problem(self, fault: D, app: AppNames) -> str | None:
        return app.subscription(fault.topic, fault.step)

    def moves(self, fault: D, run: SimRun) -> Iterable[D]:
        return (replace(fault, nth=n) for n in range(1, 4))


class DuplicateKind(_DeliveryKind[Duplicate]):
    fault = Duplicate
    form = "duplicate topic=T step=S nth=N"

    def draws(self, space: FaultSpace) -> tuple[st.SearchStrategy[int], ...]:
        return st.integers(0, 7), st.integers(1, 8)

    def aim(self, where: str, part: DeliveryRecipe, aim: Aim) -> Duplicate:
        return Duplicate(*self._message(where, part, aim))

    def sweep(self, where: str, aim: Aim) -> Iterable[Duplicate]:
        return (Duplicate(*message) for message in self._messages(where, aim))

    def tries(self, fault: Duplicate) -> int:
        return RACE_TRIES


class DelayKind(_DeliveryKind[Delay]):
    fault = Delay
    form = "delay topic=T step=S nth=N seconds=X"

    def draws(self, space: FaultSpace) -> tuple[st.SearchStrategy[int], ...]:
        return st.integers(0, 7), st.integers(1, 8), magnitude_indexes(space)

    def aim(self, where: str, part: DeliveryRecipe, aim: Aim) -> Delay:
        return Delay(*self._message(where, part, aim), aim.seconds(part.magnitude))

    def sweep(self, where: str, aim: Aim) -> Iterable[Delay]:
        for seconds in aim.longest_first():
            for message in self._messages(where, aim):
                yield Delay(*message, seconds)
