"""Fault plans as data: a list of faults with a text form that round-trips.

    crash step=ProcessPayment run=1 after=service#1; duplicate topic=order.priced step=RiskAnalysis nth=1

Each fault names where (step, topic, service, state operation), when (the n-th run, message, call or
tick) and what. A fault fires at most once, at the place the plan names, and shows in the trace.
The kinds (their dataclasses and text forms) are defined in ``motia_sim._kinds``, one module each;
this module reads and writes plans by iterating over them.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields
from typing import Any

from ._kinds import (
    KINDS,
    Crash,
    CrashPoint,
    CronFault,
    Delay,
    Duplicate,
    Fault,
    FaultPlanSyntaxError,
    NetFault,
    ServiceFault,
    StateFault,
    kind_named,
)

__all__ = [
    "Crash",
    "CrashPoint",
    "CronFault",
    "Delay",
    "Duplicate",
    "Fault",
    "FaultPlan",
    "FaultPlanSyntaxError",
    "InjectedFault",
    "InjectedServiceError",
    "InjectedStoreError",
    "NetFault",
    "ServiceFault",
    "StateFault",
]


class InjectedFault(Exception):
    """Base of the errors the simulator raises into step code on purpose."""


class InjectedServiceError(InjectedFault, ConnectionError):
    """A service call failed (a fault plan's ``service ... mode=error``)."""


class InjectedStoreError(InjectedFault, ConnectionError):
    """A state store operation failed (a fault plan's ``state op=k``)."""


_PAIR = re.compile(r"^([A-Za-z_]+)=(\S+)$")


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


_FORMS = "; ".join(kind.form for kind in KINDS)


def _parse_one(text: str) -> Fault:
    name, *pairs = text.split()
    kind = kind_named(name)
    if kind is None:
        raise FaultPlanSyntaxError(f"unknown fault kind {name!r} in {text!r}; forms: {_FORMS}")
    known = {f.name: f for f in fields(kind.fault)}
    values: dict[str, Any] = {}
    for pair in pairs:
        m = _PAIR.match(pair)
        if not m:
            raise FaultPlanSyntaxError(f"expected key=value, got {pair!r} in {text!r}")
        key, raw = m.group(1), m.group(2)
        try:
            special = kind.read(key, raw)
        except ValueError as exc:
            raise FaultPlanSyntaxError(f"{exc} in {text!r}; forms: {_FORMS}") from None
        if special is not None:
            values.update(special)
            continue
        key = kind.keys.get(key, key)
        if key not in known:
            raise FaultPlanSyntaxError(f"{name} has no field {key!r} in {text!r}; forms: {_FORMS}")
        values[key] = _convert(known[key].type, raw, text)
    try:
        fault: Fault = kind.fault(**values)
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
