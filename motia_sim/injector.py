"""Decides, at each fault point of a run, whether the plan says a fault fires there.

It also owns the seed-driven schedule choices (extra yields at side effects, so concurrent
handlers interleave differently) and records what fired, for the trace and the coverage report.
"""

from __future__ import annotations

import asyncio
import random
import types
from collections import Counter
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field
from typing import Any

from motia_rt.context import INLINE_SYNC
from motia_rt.errors import HandlerCrash
from motia_rt.ports import Delivery
from motia_rt.steps import StepRegistry
from motia_rt.tracing import CURRENT_RUN, HandlerRun

from ._kinds import AppNames, kind_of
from .faults import (
    Crash,
    CronFault,
    Delay,
    Duplicate,
    Fault,
    FaultPlan,
    FaultPlanSyntaxError,
    NetFault,
    ServiceFault,
    StateFault,
)
from .trace import Trace

__all__ = ["FaultInjector", "FaultSites", "check_plan", "pass_turns"]


@dataclass(frozen=True)
class FaultSites:
    """How many of each fault point a run reached: what a fault's indexes can address. A fault
    whose index is within these counts fires on that run's schedule (unless an earlier fault
    changes the run)."""

    runs: Mapping[str, int]
    """Handler runs per step."""
    effects: Mapping[tuple[str, int], Mapping[str, int]]
    """(step, run index) -> side effects of that run by kind (``state`` writes, ``emit``,
    ``service`` calls): where ``crash ... after=KIND#K`` can land."""
    messages: Mapping[tuple[str, str], int]
    """First deliveries per (topic, step)."""
    calls: Mapping[str, int]
    """Calls per service."""
    state_ops: int
    """State operations, reads included."""
    ticks: Mapping[str, int]
    """Cron ticks per step."""
    state_op_steps: tuple[str, ...] = ()
    """The step whose run made each state operation, in order (``""`` outside any run: the
    scenario's own reads and writes)."""
    spans: tuple[float, ...] = ()
    """Seconds the scenario waited, each ``advance(seconds)`` and ``wait_for_topic(timeout=...)``
    (``fuzz`` draws delays just past them)."""
    requests: Mapping[str, int] = field(default_factory=dict)
    """Requests per host on the virtual network."""


def check_plan(
    plan: FaultPlan, registry: StepRegistry, services: list[str], hosts: list[str] | None = None
) -> None:
    """Raise ``FaultPlanSyntaxError`` when a fault names a step, topic or service the app does
    not have: such a fault could never fire, and a replay would silently pass."""
    app = AppNames(
        steps=frozenset(s.name for s in registry),
        subscriptions=frozenset((sub.topic, sub.step) for sub in registry.subscriptions()),
        services=frozenset(services),
        hosts=frozenset(hosts or ()),
    )
    for fault in plan:
        problem = kind_of(fault).problem(fault, app)
        if problem:
            raise FaultPlanSyntaxError(f"{fault}: {problem}")


class FaultInjector:
    """One per simulated run. Every fault in ``plan`` fires at most once.

    Each kind of fault point costs only what the plan needs there: a kind the plan has no fault
    of (crashes, delivery, service, state, cron) is not counted at all, and crashes are counted
    only for the steps the plan crashes. The seed-drawn yields are the same whatever the plan.
    """

    def __init__(
        self, plan: FaultPlan, rng: random.Random, trace: Trace, *, count_sites: bool = False
    ) -> None:
        """``count_sites=True`` counts every fault point whatever the plan (``sites()``)."""
        self.plan = plan
        self.rng = rng
        self.trace = trace
        self.fired: list[Fault] = []
        self.explored: set[tuple[str, str]] = set()
        """(step or service, fault kind) pairs that fired in this run."""
        self._getrandbits = rng.getrandbits
        self._spent: set[int] = set()
        self._runs: Counter[str] = Counter()
        self._effects: dict[int, tuple[int, Counter[str]]] = {}
        """id(run) -> (its index among the step's runs, side effects so far), while it runs."""
        self._messages: Counter[tuple[str, str]] = Counter()
        self._calls: Counter[str] = Counter()
        self._state_ops = 0
        self._state_op_steps: list[str] = []
        self._ticks: Counter[str] = Counter()
        self._count_sites = count_sites
        self._run_effects: dict[tuple[str, int], Counter[str]] = {}
        self.spans: list[float] | None = [] if count_sites else None
        """Where the harness notes the scenario's waits, when counting sites."""
        faults = plan.faults
        self.crash_steps = {f.step for f in faults if isinstance(f, Crash)}
        """Steps the plan crashes: only their runs need counting (``on_run_start``)."""
        self.observes_runs = bool(self.crash_steps) or count_sites
        self.delivery_faults_planned = count_sites or any(
            isinstance(f, Duplicate | Delay) for f in faults
        )
        self.service_faults = count_sites or any(isinstance(f, ServiceFault) for f in faults)
        self.state_faults = count_sites or any(isinstance(f, StateFault) for f in faults)
        self.net_faults = count_sites or any(isinstance(f, NetFault) for f in faults)
        self._requests: Counter[str] = Counter()

    def sites(self) -> FaultSites:
        """The fault points this run reached (complete only with ``count_sites=True``)."""
        return FaultSites(
            runs=dict(self._runs),
            effects={k: dict(v) for k, v in self._run_effects.items()},
            messages=dict(self._messages),
            calls=dict(self._calls),
            state_ops=self._state_ops,
            state_op_steps=tuple(self._state_op_steps),
            ticks=dict(self._ticks),
            spans=tuple(self.spans or ()),
            requests=dict(self._requests),
        )

    def _take(self, match: Callable[[Fault], bool]) -> Fault | None:
        for i, fault in enumerate(self.plan.faults):
            if i not in self._spent and match(fault):
                self._spent.add(i)
                return fault
        return None

    def _fire(self, fault: Fault, where: str, text: str) -> None:
        self.fired.append(fault)
        self.explored.add((where, fault.kind))
        self.trace.add("fault", f"{fault} -- {text}", step=where)

    # -- interleaving --------------------------------------------------------------------------

    def yields(self) -> int:
        """How many turns to give other runnable tasks at this fault point: 0, 0, 1 or 2, drawn
        from the seed as ``rng.choice((0, 0, 1, 2))`` draws (the same bits, so the same runs)."""
        bits = self._getrandbits
        r = bits(3)
        while r >= 4:
            r = bits(3)
        # Sync handler code running inline holds the loop: there is no turn to give (the draw is
        # still made, so the seed's later choices stay where they were).
        return 0 if INLINE_SYNC.get() else _TURNS[r]

    async def yield_point(self) -> None:
        """Let other runnable tasks go first, as often as the seed says (zero virtual time)."""
        turns = self.yields()
        if turns:
            await pass_turns(turns)

    # -- crashes -------------------------------------------------------------------------------

    def on_run_start(self, run: HandlerRun) -> None:
        if run.step not in self.crash_steps and not self._count_sites:
            return
        self._runs[run.step] += 1
        n = self._runs[run.step]
        self._effects[id(run)] = (n, Counter())
        fault = self._take(lambda f: isinstance(f, Crash) and f.step == run.step and f.run == n
                           and f.after == "start")  # fmt: skip
        if fault is not None:
            self._fire(fault, run.step, f"run {n} of {run.step} crashed as it started")
            raise HandlerCrash(str(fault))

    def on_run_end(self, run: HandlerRun) -> None:
        if self._effects:
            ended = self._effects.pop(id(run), None)
            if ended is not None and self._count_sites:
                self._run_effects[(run.step, ended[0])] = ended[1]

    def after_side_effect(self, kind: str) -> None:
        """Called right after a state operation, emit or service call; may crash the run."""
        if not self._effects:
            return
        run = CURRENT_RUN.get()
        if run is None or id(run) not in self._effects:
            return
        n, counts = self._effects[id(run)]
        counts[kind] += 1
        k = counts[kind]
        fault = self._take(lambda f: isinstance(f, Crash) and f.step == run.step and f.run == n
                           and f.after == kind and f.k == k)  # fmt: skip
        if fault is not None:
            self._fire(fault, run.step, f"run {n} of {run.step} crashed after {kind} #{k}")
            raise HandlerCrash(str(fault))

    # -- delivery ------------------------------------------------------------------------------

    def delivery_faults(self, delivery: Delivery) -> tuple[float, bool]:
        """(extra delay, deliver twice) for a message's first delivery to a step."""
        sub = delivery.subscription
        self._messages[(sub.topic, sub.step)] += 1
        nth = self._messages[(sub.topic, sub.step)]
        delay, duplicate = 0.0, False
        fault = self._take(lambda f: isinstance(f, Delay) and f.topic == sub.topic
                           and f.step == sub.step and f.nth == nth)  # fmt: skip
        if isinstance(fault, Delay):
            delay = fault.seconds
            self._fire(fault, sub.step, f"message {nth} of {sub.topic} to {sub.step} held back")
        fault = self._take(lambda f: isinstance(f, Duplicate) and f.topic == sub.topic
                           and f.step == sub.step and f.nth == nth)  # fmt: skip
        if fault is not None:
            duplicate = True
            self._fire(fault, sub.step, f"message {nth} of {sub.topic} to {sub.step} sent twice")
        return delay, duplicate

    # -- services and state --------------------------------------------------------------------

    def service_fault(self, service: str) -> ServiceFault | None:
        self._calls[service] += 1
        n = self._calls[service]
        fault = self._take(lambda f: isinstance(f, ServiceFault) and f.service == service
                           and f.call == n)  # fmt: skip
        if isinstance(fault, ServiceFault):
            run = CURRENT_RUN.get()
            self._fire(
                fault, service, f"call {n} to {service}" + (f" from {run.step}" if run else "")
            )
            return fault
        return None

    def net_fault(self, host: str, method: str, url: str) -> NetFault | None:
        """The fault for this request to ``host`` on the virtual network, if the plan has one."""
        self._requests[host] += 1
        n = self._requests[host]
        fault = self._take(lambda f: isinstance(f, NetFault) and f.host == host and f.call == n)
        if isinstance(fault, NetFault):
            run = CURRENT_RUN.get()
            where = f" from {run.step}" if run else ""
            self._fire(fault, host, f"request {n} to {host} ({method} {url}){where}")
            return fault
        return None

    def state_fault(self, op: str, group: str, key: str | None = None) -> StateFault | None:
        """The fault for this state operation (``op`` on ``group``/``key``), if the plan has one."""
        self._state_ops += 1
        n = self._state_ops
        if self._count_sites:
            run = CURRENT_RUN.get()
            self._state_op_steps.append(run.step if run else "")
        fault = self._take(lambda f: isinstance(f, StateFault) and f.op == n)
        if isinstance(fault, StateFault):
            run = CURRENT_RUN.get()
            where = f"{group}/{key}" if key is not None else group
            self._fire(
                fault, run.step if run else "state", f"state operation {n} ({op} {where}) failed"
            )
            return fault
        return None

    # -- cron ------------------------------------------------------------------------------------

    async def cron_lock(self, step: str, due: float) -> int:
        """The cron scheduler's lock: how many times this tick runs. A late tick waits, a missed
        one runs 0 times, one fired twice runs 2 times at once (as two instances do when the lock
        does not hold)."""
        self._ticks[step] += 1
        n = self._ticks[step]
        fault = self._take(lambda f: isinstance(f, CronFault) and f.step == step and f.tick == n)
        if not isinstance(fault, CronFault):
            return 1
        if fault.missed:
            self._fire(fault, step, f"tick {n} of {step} missed")
            return 0
        if fault.twice:
            self._fire(fault, step, f"tick {n} of {step} runs twice")
            return 2
        self._fire(fault, step, f"tick {n} of {step} fires {fault.late:g}s late")
        await asyncio.sleep(fault.late)
        return 1


_TURNS = (0, 0, 1, 2)


@types.coroutine
def pass_turns(turns: int) -> Generator[Any, None, None]:
    """Let every other ready callback run first, ``turns`` (1 or 2) times over, in zero virtual
    time: what ``turns`` times ``await asyncio.sleep(0)`` does, suspending the task only once."""
    if turns == 1:
        yield  # a bare yield: the task queues its next step behind everything ready now
        return
    loop = asyncio.get_running_loop()
    waiter = loop.create_future()
    # The callback takes the place the task's next step would have in the ready queue; when it
    # resolves the future, the task's wakeup goes to the back of the queue, as a second
    # ``sleep(0)`` would put it. The order is the same, and the await chain is resumed once.
    loop.call_soon(_resolve, waiter)
    yield from waiter


def _resolve(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
