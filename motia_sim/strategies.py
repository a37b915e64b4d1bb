"""Hypothesis strategies that draw fault plans naming the app's real steps, topics and services.

Plans shrink toward fewer faults (a list), earlier ones (small run/message/call indexes), simpler
kinds (crashes at start before crashes after side effects; errors before timeouts and latency)
and shorter magnitudes (delays, latencies, late ticks: see ``magnitudes``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from typing import Any

from hypothesis import strategies as st

from motia_rt.cron_expression import cron_schedule
from motia_rt.engine import RetryPolicy
from motia_rt.loader import load_steps
from motia_rt.steps import Step, StepRegistry

from ._kinds import KINDS, Aim, Fault, kind_named
from ._loop import VirtualClock
from .faults import FaultPlan
from .injector import FaultSites

__all__ = [
    "SMALL_MAGNITUDES",
    "FaultSpace",
    "Recipe",
    "fault_from_recipe",
    "fault_plans",
    "faults",
    "magnitudes",
    "recipes",
    "with_magnitudes",
]

SMALL_MAGNITUDES = (1.0, 5.0, 30.0, 120.0)
"""Seconds drawn for delays, latencies and late ticks in every app, besides the app's own."""


def _cron_interval(expression: str) -> float:
    """The shortest gap between the first ticks of ``expression`` from the simulator's start."""
    schedule = cron_schedule(expression, VirtualClock().now())
    ticks = [float(schedule.get_next(float)) for _ in range(4)]
    return min(b - a for a, b in pairwise(ticks))


def _spans_of(step: Step) -> set[float]:
    """How long the step's own mechanisms wait: a cron interval, a handler timeout, and for an
    event step its visibility timeout, queue delay and retry backoffs (the longest, and all of
    them one after another, as the engine's ``RetryPolicy`` waits them without jitter)."""
    found: set[float] = set()
    if step.cron is not None:
        found.add(_cron_interval(step.cron))
    if step.handler is not None:
        found.add(step.timeout)
    if step.kind == "event":
        policy = RetryPolicy()
        backoffs = [
            min(policy.cap, policy.base * policy.factor**n) for n in range(step.max_retries)
        ]
        found |= {step.visibility_timeout, step.delay_seconds, max(backoffs, default=0.0)}
        found.add(sum(backoffs))
    return found


def magnitudes(steps: Iterable[Step], spans: Iterable[float] = ()) -> tuple[float, ...]:
    """The seconds fault plans draw for delays, service latencies and timeouts and late cron ticks:
    ``SMALL_MAGNITUDES``, and one second past every span the app and the scenario wait (cron
    intervals, handler timeouts, visibility timeouts, queue delays, retry backoffs, and ``spans``:
    the scenario's ``advance`` and ``wait_for_topic`` spans), so a delayed event can land just after
    an expiry tick, a redelivery or a timeout. Sorted: draws shrink toward the smallest."""
    found = set(spans).union(*(_spans_of(step) for step in steps))
    return tuple(sorted({*SMALL_MAGNITUDES, *(span + 1.0 for span in found if span > 0)}))


@dataclass(frozen=True)
class FaultSpace:
    """Where faults can go in an app: the targets a plan may name, every step x kind pair, and
    the magnitudes (seconds) drawn for delays, latencies and late ticks."""

    handlers: tuple[str, ...]
    subscriptions: tuple[tuple[str, str], ...]
    """(topic, step) pairs."""
    services: tuple[str, ...]
    cron_steps: tuple[str, ...]
    magnitudes: tuple[float, ...] = SMALL_MAGNITUDES
    hosts: tuple[str, ...] = ()
    """Hosts with a fake on the virtual network (``http=``)."""

    @classmethod
    def of(
        cls,
        registry: StepRegistry,
        services: tuple[str, ...] | None = None,
        hosts: tuple[str, ...] = (),
    ) -> FaultSpace:
        handlers = tuple(s.name for s in registry if s.handler is not None)
        subs = tuple((sub.topic, sub.step) for sub in registry.subscriptions())
        names = services if services is not None else tuple(sorted(registry.default_services()))
        crons = tuple(s.name for s in registry.of_kind("cron"))
        return cls(handlers, subs, names, crons, magnitudes(registry), tuple(sorted(hosts)))

    def narrowed(self, registry: StepRegistry, sites: FaultSites) -> FaultSpace:
        """Only what can run in a scenario whose run reached ``sites``: the steps that ran, and
        the event steps their declared emits can reach (a fault can start a compensation that did
        not run there). A cron step that never ticked or an api step never called cannot run in
        any example: faults add no ticks and make no requests. Services as below. Magnitudes from
        the steps that can run and the spans the scenario waited."""
        ran = {name for name, n in sites.runs.items() if n}
        steps = {step.name: step for step in registry}
        emitted = {topic for name in ran if name in steps for topic in steps[name].emits}
        can_run = set(ran)
        grew = True
        while grew:
            grew = False
            for topic, step in self.subscriptions:
                if topic in emitted and step not in can_run:
                    can_run.add(step)
                    emitted.update(steps[step].emits)
                    grew = True
        # A step that can run but did not may call any service; when every step that can run
        # did, a service none of them called is left out too.
        services, hosts = self.services, self.hosts
        if can_run <= ran:
            services = tuple(name for name in services if sites.calls.get(name))
            hosts = tuple(host for host in hosts if sites.requests.get(host))
        handlers = tuple(h for h in self.handlers if h in can_run)
        return FaultSpace(
            handlers=handlers,
            subscriptions=tuple(p for p in self.subscriptions if p[1] in can_run),
            services=services,
            cron_steps=tuple(c for c in self.cron_steps if sites.ticks.get(c)),
            magnitudes=magnitudes((steps[h] for h in handlers if h in steps), sites.spans),
            hosts=hosts,
        )

    def combinations(self) -> set[tuple[str, str]]:
        """Every (step or service, fault kind) pair a plan can exercise."""
        return set(self.pairs)

    @cached_property
    def pairs(self) -> tuple[tuple[str, str], ...]:
        """``combinations()``, sorted: what a recipe's ``pair`` indexes."""
        return tuple(sorted({(where, kind.name) for kind in KINDS for where in kind.targets(self)}))


_NO_SITES = FaultSites(runs={}, effects={}, messages={}, calls={}, state_ops=0, ticks={})


def faults(space: FaultSpace) -> st.SearchStrategy[Fault]:
    """One fault somewhere in ``space``, each kind's draw aimed blind (no counted run); simpler
    kinds first so shrinking prefers them."""
    blind = Aim(space, _NO_SITES, counted=False)
    return st.one_of(
        [
            st.builds(kind.aim, st.sampled_from(tuple(targets)), kind.recipe(space), st.just(blind))
            for kind in KINDS
            if (targets := list(kind.targets(space)))
        ]
    )


@dataclass(frozen=True)
class Recipe:
    """What ``fuzz`` draws for one fault: whether to ``aim`` at a (step, kind) pair no example has
    exercised yet, which ``pair`` (an index into the untried pairs, or into all of them), and for
    every kind of the space its part (``CrashRecipe``, ``DeliveryRecipe``, ...). Every part is
    drawn, whatever the pair, so the number of draws never depends on what the fuzzer has explored
    so far (Hypothesis requires data generation to be repeatable)."""

    aim: bool
    pair: int
    parts: Mapping[str, Any] = field(default_factory=dict)
    """Kind name -> that kind's recipe part."""


def recipes(space: FaultSpace) -> st.SearchStrategy[Recipe]:
    """Recipes for faults in ``space``. Indexes are drawn wide and folded into what a fault-free
    run reached (``fault_from_recipe``)."""
    kinds = [kind for kind in KINDS if tuple(kind.targets(space))]
    draws = [kind.draws(space) for kind in kinds]

    def build(aim: bool, pair: int, *values: int) -> Recipe:
        parts, at = {}, 0
        for kind, drawn in zip(kinds, draws, strict=True):
            parts[kind.name] = kind.part(*values[at : at + len(drawn)])
            at += len(drawn)
        return Recipe(aim, pair, parts)

    # One flat tuple of integers, built into the named parts: a strategy per kind would cost
    # more per example than the simulated run of a small scenario.
    pairs = st.integers(0, max(0, len(space.combinations()) - 1))
    return st.builds(build, st.booleans(), pairs, *(d for drawn in draws for d in drawn))


def fault_from_recipe(
    space: FaultSpace,
    recipe: Recipe,
    untried: list[tuple[str, str]],
    sites: FaultSites | None = None,
) -> Fault:
    """Turn a recipe into a fault: aimed at an untried (step, kind) pair when ``recipe.aim`` is
    set, at any pair otherwise. Every draw shrinks toward the first pair and the simplest fault.

    Indexes are folded into ``sites``, what a fault-free run reached: a crash lands in a run the
    step had, after a kind of side effect that run made; a duplicate or delay hits a message that
    was delivered; a service, state or cron fault a call, operation or tick that happened. So a
    drawn fault fires on the fault-free schedule, instead of mostly naming, say, a sixth call to a
    service called once. Where nothing was counted, indexes stay small (runs and side effects 1-2,
    messages and ticks 1-3, calls 1-6, state operations 1-40) without ``sites``, and 1 with."""
    pool = untried if recipe.aim and untried else space.pairs
    where, name = pool[recipe.pair % len(pool)]
    kind = kind_named(name)
    assert kind is not None, name
    aim = Aim(space, sites or _NO_SITES, counted=sites is not None)
    fault: Fault = kind.aim(where, recipe.parts[name], aim)
    return fault


def fault_plans(
    steps: str | Path | StepRegistry | FaultSpace = "steps", *, max_faults: int = 3
) -> st.SearchStrategy[FaultPlan]:
    """Fault plans of at most ``max_faults`` faults naming the app's steps, topics and services,
    with delays, latencies and late ticks drawn from the app's ``magnitudes``."""
    if isinstance(steps, FaultSpace):
        space = steps
    else:
        registry = steps if isinstance(steps, StepRegistry) else load_steps(steps)
        space = FaultSpace.of(registry)
    return st.lists(faults(space), max_size=max_faults).map(FaultPlan)


def with_magnitudes(space: FaultSpace, chosen: Iterable[float]) -> FaultSpace:
    """``space`` drawing exactly the ``chosen`` seconds (sorted, duplicates dropped)."""
    values = tuple(sorted({float(s) for s in chosen}))
    if not values or values[0] <= 0:
        raise ValueError(f"magnitudes must be positive seconds, at least one: got {values}")
    return replace(space, magnitudes=values)
