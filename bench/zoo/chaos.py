"""The baseline the zoo measures ``fuzz`` against: chaos testing, that is unaimed random faults at
a fixed rate, with no shrinking.

Every fault site of the app fires independently with probability ``rate``: each handler run
(crashing at its start or after one of its first side effects), each delivery (duplicated, or
delayed), each service call (an error, a timeout or latency), each state operation, each cron tick
(late, missed or fired twice). Sites are enumerated up to generous counts (``RANGES``), past what
the zoo's scenarios reach, and a site that the run never reaches does not fire: so this is "every
operation faults with probability ``rate``", as a chaos proxy in front of a queue, a store and the
services would do. Seconds are drawn from the app's magnitudes, as the fuzzer's are (the fixed
small ones and one past each of the app's own waits; not the scenario's spans, which chaos does
not watch): the same fault vocabulary, unaimed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from motia_rt.steps import StepRegistry
from motia_sim import (
    Crash,
    CronFault,
    Delay,
    Duplicate,
    Fault,
    FaultPlan,
    ServiceFault,
    StateFault,
)
from motia_sim.strategies import magnitudes

__all__ = ["RANGES", "ChaosSites", "chaos_plan"]

RANGES = {"runs": 8, "messages": 8, "calls": 12, "state_ops": 100, "ticks": 32}
"""How far each kind of site is enumerated (per step, subscription, service, cron step)."""
_AFTER = (("start", 1), ("state", 1), ("state", 2), ("emit", 1), ("service", 1), ("service", 2))


@dataclass(frozen=True)
class ChaosSites:
    """The app's fault targets: handler steps, (topic, step) subscriptions, services, cron steps."""

    handlers: tuple[str, ...]
    subscriptions: tuple[tuple[str, str], ...]
    services: tuple[str, ...]
    cron_steps: tuple[str, ...]
    magnitudes: tuple[float, ...]

    @classmethod
    def of(cls, registry: StepRegistry) -> ChaosSites:
        return cls(
            handlers=tuple(s.name for s in registry if s.handler is not None),
            subscriptions=tuple((sub.topic, sub.step) for sub in registry.subscriptions()),
            services=tuple(sorted(registry.default_services())),
            cron_steps=tuple(s.name for s in registry.of_kind("cron")),
            magnitudes=magnitudes(registry),
        )


def chaos_plan(sites: ChaosSites, rate: float, rng: random.Random) -> FaultPlan:
    """One run's faults: every site fires with probability ``rate``."""
    faults: list[Fault] = []

    def fires() -> bool:
        return rng.random() < rate

    for step in sites.handlers:
        for run in range(1, RANGES["runs"] + 1):
            if fires():
                after, k = rng.choice(_AFTER)
                faults.append(Crash(step, run, after, k))  # type: ignore[arg-type]
    for topic, step in sites.subscriptions:
        for nth in range(1, RANGES["messages"] + 1):
            if fires():
                faults.append(Duplicate(topic, step, nth))
            if fires():
                faults.append(Delay(topic, step, nth, rng.choice(sites.magnitudes)))
    for name in sites.services:
        for call in range(1, RANGES["calls"] + 1):
            if fires():
                mode = rng.choice(("error", "timeout", "latency"))
                faults.append(ServiceFault(name, call, mode, rng.choice(sites.magnitudes)))  # type: ignore[arg-type]
    for op in range(1, RANGES["state_ops"] + 1):
        if fires():
            faults.append(StateFault(op))
    for step in sites.cron_steps:
        for tick in range(1, RANGES["ticks"] + 1):
            if fires():
                mode = rng.choice(("late", "missed", "twice"))
                late = rng.choice(sites.magnitudes) if mode == "late" else 0.0
                faults.append(CronFault(step, tick, late, mode == "missed", mode == "twice"))
    return FaultPlan(faults)
