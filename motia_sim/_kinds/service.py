"""``service``: the n-th call to a service fails, times out, or answers late."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, Literal, TypeAlias

from hypothesis import strategies as st

from ._base import Aim, AppNames, FaultKind, FaultPlanSyntaxError, magnitude_indexes, seconds_text

if TYPE_CHECKING:
    from ..simulation import SimRun
    from ..strategies import FaultSpace

ServiceMode: TypeAlias = Literal["error", "timeout", "latency"]
_MODES: tuple[ServiceMode, ...] = ("error", "timeout", "latency")


@dataclass(frozen=True, slots=True)
class ServiceFault:
    """The ``call``-th call to service ``service`` fails (``error``), hangs ``seconds`` then times
    out (``timeout``), or answers ``seconds`` late (``latency``)."""

    service: str
    call: int = 1
    mode: ServiceMode = "error"
    seconds: float = 0.0
    kind: ClassVar[str] = "service"

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise FaultPlanSyntaxError(f"service mode {self.mode!r}: use error, timeout or latency")
        if self.mode == "error":
            object.__setattr__(self, "seconds", 0.0)

    def __str__(self) -> str:
        text = f"service name={self.service} call={self.call} mode={self.mode}"
        return text + (f" seconds={seconds_text(self.seconds)}" if self.mode != "error" else "")


@dataclass(frozen=True)
class ServiceRecipe:
    """Which call, ``mode`` an index into error, timeout, latency, and how long (not an error)."""

    call: int
    mode: int
    magnitude: int


class ServiceKind(FaultKind[ServiceFault, ServiceRecipe]):
    fault = ServiceFault
    form = "service name=NAME call=N mode=error|timeout|latency [seconds=X]"
    keys = {"name": "service"}

    def targets(self, space: FaultSpace) -> Iterable[str]:
        return space.services

    part = ServiceRecipe

    def draws(self, space: FaultSpace) -> tuple[st.SearchStrategy[int], ...]:
        return st.integers(1, 16), st.integers(0, 2), magnitude_indexes(space)

    def aim(self, where: str, part: ServiceRecipe, aim: Aim) -> ServiceFault:
        call = aim.index(part.call, aim.seen.calls.get(where, 0), 6)
        mode = _MODES[part.mode % 3]
        return ServiceFault(
            where, call, mode, 0.0 if mode == "error" else aim.seconds(part.magnitude)
        )

    def sweep(self, where: str, aim: Aim) -> Iterable[ServiceFault]:
        calls = aim.count(aim.seen.calls.get(where, 0))
        yield from (ServiceFault(where, call) for call in calls)
        longest = aim.longest_first()[0]
        yield from (ServiceFault(where, call, "timeout", longest) for call in calls)
        yield from (ServiceFault(where, call, "latency", longest) for call in calls)

    def problem(self, fault: ServiceFault, app: AppNames) -> str | None:
        return app.service(fault.service)

    def moves(self, fault: ServiceFault, run: SimRun) -> Iterable[ServiceFault]:
        calls = Counter(c.service for c in run.world.calls)
        return (replace(fault, call=n) for n in range(1, calls[fault.service] + 1))
