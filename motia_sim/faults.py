"""Fault plans as data: a list of faults with a text form that round-trips.

    crash step=ProcessPayment run=1 after=service#1; duplicate topic=order.priced step=RiskAnalysis nth=1

Each fault names where (step, topic, service, state operation), when (the n-th run, message, call or
tick) and what. A fault fires at most once, at the place the plan names, and shows in the trace.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any, ClassVar, Literal, TypeAlias

__all__ = [
    "Crash",
    "CronFault",
    "Delay",
    "Duplicate",
    "Fault",
    "FaultPlan",
    "FaultPlanSyntaxError",
    "InjectedFault",
    "InjectedServiceError",
    "InjectedStoreError",
    "ServiceFault",
    "StateFault",
]

CrashPoint: TypeAlias = Literal["start", "state", "emit", "service"]


class InjectedFault(Exception):
    """Base of the errors the simulator raises into step code on purpose."""


class InjectedServiceError(InjectedFault, ConnectionError):
    """A service call failed (a fault plan's ``service ... mode=error``)."""


class InjectedStoreError(InjectedFault, ConnectionError):
    """A state store operation failed (a fault plan's ``state op=k``)."""


class FaultPlanSyntaxError(ValueError):
    """A fault plan's text could not be parsed; the message shows the expected forms."""


@dataclass(frozen=True, slots=True)
class Crash:
    """The ``run``-th handler run of ``step`` dies at its start, or right after its ``k``-th side
    effect of kind ``after`` (state write or read, emit, service call); the message is redelivered."""

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
            f"delay topic={self.topic} step={self.step} nth={self.nth} seconds={_num(self.seconds)}"
        )


@dataclass(frozen=True, slots=True)
class ServiceFault:
    """The ``call``-th call to service ``service`` fails (``error``), hangs ``seconds`` then times
    out (``timeout``), or answers ``seconds`` late (``latency``)."""

    service: str
    call: int = 1
    mode: Literal["error", "timeout", "latency"] = "error"
    seconds: float = 0.0
    kind: ClassVar[str] = "service"

    def __post_init__(self) -> None:
        if self.mode not in ("error", "timeout", "latency"):
            raise FaultPlanSyntaxError(f"service mode {self.mode!r}: use error, timeout or latency")
        if self.mode == "error":
            object.__setattr__(self, "seconds", 0.0)

    def __str__(self) -> str:
        text = f"service name={self.service} call={self.call} mode={self.mode}"
        return text + (f" seconds={_num(self.seconds)}" if self.mode != "error" else "")


@dataclass(frozen=True, slots=True)
class StateFault:
    """The ``op``-th state store operation of the run fails with ``InjectedStoreError``."""

    op: int = 1
    kind: ClassVar[str] = "state"

    def __str__(self) -> str:
        return f"state op={self.op}"


@dataclass(frozen=True, slots=True)
class CronFault:
    """The ``tick``-th scheduled tick of cron step ``step`` fires ``late`` seconds late, or is
    ``missed`` entirely."""

    step: str
    tick: int = 1
    late: float = 0.0
    missed: bool = False
    kind: ClassVar[str] = "cron"

    def __post_init__(self) -> None:
        if self.missed:
            object.__setattr__(self, "late", 0.0)

    def __str__(self) -> str:
        what = "missed=true" if self.missed else f"late={_num(self.late)}"
        return f"cron step={self.step} tick={self.tick} {what}"


Fault: TypeAlias = Crash | Duplicate | Delay | ServiceFault | StateFault | CronFault
_KINDS: dict[str, type[Any]] = {
    c.kind: c for c in (Crash, Duplicate, Delay, ServiceFault, StateFault, CronFault)
}
_RENAMES = {"service": {"name": "service"}}
_PAIR = re.compile(r"^([A-Za-z_]+)=(\S+)$")


def _num(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


@dataclass(frozen=True)
class FaultPlan:
    """An ordered list of faults. ``str(plan)`` is its text form; ``FaultPlan.parse`` reads it back."""

    faults: tuple[Fault, ...] = ()

    def __init__(self, faults: Iterable[Fault] = ()) -> None:
        object.__setattr__(self, "faults", tuple(faults))

    def __iter__(self) -> Iterator[Fault]:
        return iter(self.faults)

    def __len__(self) -> int:
        return len(self.faults)

    def __bool__(self) -> bool:
        return bool(self.faults)

    def __str__(self) -> str:
        return "; ".join(str(f) for f in self.faults)

    def __repr__(self) -> str:
        return f"FaultPlan.parse({str(self)!r})"

    @classmethod
    def parse(cls, text: str) -> FaultPlan:
        """Read the text form: faults separated by ``;``, each ``kind key=value ...``.

        Raises ``FaultPlanSyntaxError`` naming the bad part and the accepted forms.
        """
        return cls(_parse_one(part.strip()) for part in text.split(";") if part.strip())


_FORMS = (
    "crash step=S run=N after=start|state#K|emit#K|service#K; "
    "duplicate topic=T step=S nth=N; delay topic=T step=S nth=N seconds=X; "
    "service name=NAME call=N mode=error|timeout|latency [seconds=X]; state op=N; "
    "cron step=S tick=N late=X|missed=true"
)


def _parse_one(text: str) -> Fault:
    kind, *pairs = text.split()
    cls = _KINDS.get(kind)
    if cls is None:
        raise FaultPlanSyntaxError(f"unknown fault kind {kind!r} in {text!r}; forms: {_FORMS}")
    known = {f.name: f for f in fields(cls)}
    values: dict[str, Any] = {}
    for pair in pairs:
        m = _PAIR.match(pair)
        if not m:
            raise FaultPlanSyntaxError(f"expected key=value, got {pair!r} in {text!r}")
        key, raw = m.group(1), m.group(2)
        key = _RENAMES.get(kind, {}).get(key, key)
        if cls is Crash and key == "after":
            point, _, k = raw.partition("#")
            if point not in ("start", "state", "emit", "service") or not (k or "1").isdigit():
                raise FaultPlanSyntaxError(f"after={raw!r} in {text!r}; forms: {_FORMS}")
            values["after"], values["k"] = point, int(k or 1)
            continue
        if key not in known:
            raise FaultPlanSyntaxError(f"{kind} has no field {key!r} in {text!r}; forms: {_FORMS}")
        values[key] = _convert(known[key].type, raw, text)
    try:
        fault: Fault = cls(**values)
    except TypeError as exc:
        raise FaultPlanSyntaxError(f"{text!r}: {exc}; forms: {_FORMS}") from None
    return fault


def _convert(annotation: object, raw: str, text: str) -> Any:
    kind = str(annotation)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "bool":
            return {"true": True, "false": False}[raw.lower()]
    except (ValueError, KeyError):
        raise FaultPlanSyntaxError(f"{raw!r} is not a {kind} in {text!r}") from None
    return raw
