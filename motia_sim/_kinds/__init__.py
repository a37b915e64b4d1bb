"""Every fault kind, each defined once (its module), iterated over by ``faults`` (text form),
``strategies`` (draws and aiming), ``injector`` (plan checks) and ``fuzzing`` (coverage columns and
the minimizer). A new kind is a module here, a line in ``KINDS`` and ``Fault``, and its injection
point in the simulator."""

from __future__ import annotations

from typing import Any, TypeAlias

from ._base import Aim, AppNames, FaultKind, FaultPlanSyntaxError, seconds_text
from .crash import Crash, CrashKind, CrashPoint
from .cron import CronFault, CronKind
from .delivery import Delay, DelayKind, Duplicate, DuplicateKind
from .network import NetFault, NetKind, NetMode
from .service import ServiceFault, ServiceKind
from .state import StateFault, StateKind

__all__ = [
    "KINDS",
    "Aim",
    "AppNames",
    "Crash",
    "CrashPoint",
    "CronFault",
    "Delay",
    "Duplicate",
    "Fault",
    "FaultKind",
    "FaultPlanSyntaxError",
    "NetFault",
    "NetMode",
    "ServiceFault",
    "StateFault",
    "kind_named",
    "kind_of",
    "seconds_text",
]

Fault: TypeAlias = Crash | Duplicate | Delay | ServiceFault | StateFault | CronFault | NetFault

KINDS: tuple[FaultKind[Any, Any], ...] = (
    CrashKind(),
    StateKind(),
    DuplicateKind(),
    DelayKind(),
    ServiceKind(),
    CronKind(),
    NetKind(),
)
"""In the coverage table's column order."""

_NAMED = {kind.name: kind for kind in KINDS}


def kind_named(name: str) -> FaultKind[Any, Any] | None:
    return _NAMED.get(name)


def kind_of(fault: Fault) -> FaultKind[Any, Any]:
    return _NAMED[fault.kind]
