"""``net``: the n-th request to a host on the virtual network goes wrong on the wire."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar, Literal, TypeAlias

import httpx
from hypothesis import strategies as st

from ._base import Aim, AppNames, FaultKind, FaultPlanSyntaxError, magnitude_indexes, seconds_text

if TYPE_CHECKING:
    from ..simulation import SimRun
    from ..strategies import FaultSpace

NetMode: TypeAlias = Literal["lost", "refused", "reset", "status", "timeout", "latency"]
_MODES: tuple[NetMode, ...] = ("lost", "refused", "reset", "status", "timeout", "latency")
_TIMED = ("timeout", "latency")
_STATUSES = (503, 429, 500, 502)


@dataclass(frozen=True, slots=True)
class NetFault:
    """The ``call``-th request to ``host``: reaches the fake, which applies it, but its response
    is ``lost`` (the caller sees a read error: the case idempotency keys exist for); is
    ``refused`` (connect error) or ``reset`` (read error) before the fake sees it; is answered
    ``status`` (a 5xx, or 429, with ``Retry-After``) instead of by the fake; hangs until the
    client's read timeout (or ``seconds``) and times out (``timeout``); or is answered ``seconds``
    late (``latency``: the fake applies it at once, and a client whose timeout is shorter gives up
    first)."""

    host: str
    call: int = 1
    mode: NetMode = "lost"
    seconds: float = 0.0
    status: int = 0
    kind: ClassVar[str] = "net"

    def __post_init__(self) -> None:
        if self.mode not in _MODES:
            raise FaultPlanSyntaxError(f"net mode {self.mode!r}: use {', '.join(_MODES)}")
        if self.mode not in _TIMED:
            object.__setattr__(self, "seconds", 0.0)
        if self.mode == "status":
            if not (self.status == 429 or 500 <= self.status <= 599):
                object.__setattr__(self, "status", 503)
        else:
            object.__setattr__(self, "status", 0)

    def __str__(self) -> str:
        text = f"net host={self.host} call={self.call} mode={self.mode}"
        if self.mode in _TIMED:
            text += f" seconds={seconds_text(self.seconds)}"
        if self.mode == "status":
            text += f" status={self.status}"
        return text


@dataclass(frozen=True)
class NetRecipe:
    """Which request, ``mode`` an index into the modes, ``status`` into 503/429/500/502, and how
    long (timeouts and latency)."""

    call: int
    mode: int
    status: int
    magnitude: int


class NetKind(FaultKind[NetFault, NetRecipe]):
    fault = NetFault
    form = "net host=H call=N mode=lost|refused|reset|status|timeout|latency [status=5xx|429] [seconds=X]"

    def targets(self, space: FaultSpace) -> Iterable[str]:
        return space.hosts

    part = NetRecipe

    def draws(self, space: FaultSpace) -> tuple[st.SearchStrategy[int], ...]:
        return (st.integers(1, 16), st.integers(0, len(_MODES) - 1),
                st.integers(0, len(_STATUSES) - 1), magnitude_indexes(space))  # fmt: skip

    def aim(self, where: str, part: NetRecipe, aim: Aim) -> NetFault:
        call = aim.index(part.call, aim.seen.requests.get(where, 0), 4)
        mode = _MODES[part.mode % len(_MODES)]
        return NetFault(where, call, mode, aim.seconds(part.magnitude), _STATUSES[part.status % 4])

    def sweep(self, where: str, aim: Aim) -> Iterable[NetFault]:
        calls = aim.count(aim.seen.requests.get(where, 0))
        longest = aim.longest_first()[0]
        yield from (NetFault(where, call, "lost") for call in calls)
        yield from (NetFault(where, call, "status", status=503) for call in calls)
        yield from (NetFault(where, call, "timeout", longest) for call in calls)
        yield from (NetFault(where, call, "refused") for call in calls)
        yield from (NetFault(where, call, "status", status=429) for call in calls)
        yield from (NetFault(where, call, "latency", longest) for call in calls)
        yield from (NetFault(where, call, "reset") for call in calls)

    def problem(self, fault: NetFault, app: AppNames) -> str | None:
        return app.host(fault.host)

    def moves(self, fault: NetFault, run: SimRun) -> Iterable[NetFault]:
        # ``net`` rows read "Step#n METHOD URL -> outcome".
        requests = Counter(httpx.URL(e.text.split(" ")[2]).host for e in run.trace.entries
                           if e.kind == "net")  # fmt: skip
        return (replace(fault, call=n) for n in range(1, requests[fault.host] + 1))
