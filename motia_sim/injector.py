"""Decides, at each fault point of a run, whether the plan says a fault fires there.

It also owns the seed-driven schedule choices (extra yields at side effects, so concurrent
handlers interleave differently) and records what fired, for the trace and the coverage report.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import Callable

from motia_rt.errors import HandlerCrash
from motia_rt.ports import Delivery
from motia_rt.steps import StepRegistry
from motia_rt.tracing import CURRENT_RUN, HandlerRun

from .faults import (
    Crash,
    CronFault,
    Delay,
    Duplicate,
    Fault,
    FaultPlan,
    FaultPlanSyntaxError,
    ServiceFault,
    StateFault,
)
from .trace import Trace

__all__ = ["FaultInjector", "check_plan"]


def check_plan(plan: FaultPlan, registry: StepRegistry, services: list[str]) -> None:
    """Raise ``FaultPlanSyntaxError`` when a fault names a step, topic or service the app does
    not have: such a fault could never fire, and a replay would silently pass."""
    steps = {s.name for s in registry}
    subscriptions = {(sub.topic, sub.step) for sub in registry.subscriptions()}
    for fault in plan:
        problem = None
        if isinstance(fault, Crash | CronFault) and fault.step not in steps:
            problem = f"no step named {fault.step!r}; steps: {', '.join(sorted(steps))}"
        elif (
            isinstance(fault, Duplicate | Delay) and (fault.topic, fault.step) not in subscriptions
        ):
            pairs = ", ".join(f"{t}->{s}" for t, s in sorted(subscriptions))
            problem = (
                f"{fault.step!r} does not subscribe to {fault.topic!r}; subscriptions: {pairs}"
            )
        elif isinstance(fault, ServiceFault) and fault.service not in services:
            problem = f"no service named {fault.service!r}; services: {', '.join(sorted(services))}"
        if problem:
            raise FaultPlanSyntaxError(f"{fault}: {problem}")


class FaultInjector:
    """One per simulated run. Every fault in ``plan`` fires at most once."""

    def __init__(self, plan: FaultPlan, rng: random.Random, trace: Trace) -> None:
        self.plan = plan
        self.rng = rng
        self.trace = trace
        self.fired: list[Fault] = []
        self.explored: set[tuple[str, str]] = set()
        """(step or service, fault kind) pairs that fired in this run."""
        self._spent: set[int] = set()
        self._runs: Counter[str] = Counter()
        self._run_index: dict[int, int] = {}
        self._effects: dict[int, Counter[str]] = {}
        self._messages: Counter[tuple[str, str]] = Counter()
        self._calls: Counter[str] = Counter()
        self._state_ops = 0
        self._ticks: Counter[str] = Counter()

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

    async def yield_point(self) -> None:
        """Let other runnable tasks go first, as often as the seed says (zero virtual time)."""
        for _ in range(self.rng.choice((0, 0, 1, 2))):
            await asyncio.sleep(0)

    # -- crashes -------------------------------------------------------------------------------

    def on_run_start(self, run: HandlerRun) -> None:
        self._runs[run.step] += 1
        n = self._runs[run.step]
        self._run_index[id(run)] = n
        self._effects[id(run)] = Counter()
        fault = self._take(lambda f: isinstance(f, Crash) and f.step == run.step and f.run == n
                           and f.after == "start")  # fmt: skip
        if fault is not None:
            self._fire(fault, run.step, f"run {n} of {run.step} crashed as it started")
            raise HandlerCrash(str(fault))

    def on_emit(self, message: object) -> None:
        pass

    def on_run_end(self, run: HandlerRun) -> None:
        self._effects.pop(id(run), None)

    def after_side_effect(self, kind: str) -> None:
        """Called right after a state operation, emit or service call; may crash the run."""
        run = CURRENT_RUN.get()
        if run is None or id(run) not in self._effects:
            return
        counts = self._effects[id(run)]
        counts[kind] += 1
        n, k = self._run_index[id(run)], counts[kind]
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

    def state_fault(self, op: str) -> StateFault | None:
        self._state_ops += 1
        n = self._state_ops
        fault = self._take(lambda f: isinstance(f, StateFault) and f.op == n)
        if isinstance(fault, StateFault):
            run = CURRENT_RUN.get()
            self._fire(fault, run.step if run else "state", f"state operation {n} ({op}) failed")
            return fault
        return None

    # -- cron ------------------------------------------------------------------------------------

    async def cron_lock(self, step: str, due: float) -> bool:
        """The cron scheduler's lock: a late tick waits, a missed one is not run."""
        self._ticks[step] += 1
        n = self._ticks[step]
        fault = self._take(lambda f: isinstance(f, CronFault) and f.step == step and f.tick == n)
        if not isinstance(fault, CronFault):
            return True
        if fault.missed:
            self._fire(fault, step, f"tick {n} of {step} missed")
            return False
        self._fire(fault, step, f"tick {n} of {step} fires {fault.late:g}s late")
        await asyncio.sleep(fault.late)
        return True
