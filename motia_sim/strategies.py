"""Hypothesis strategies that draw fault plans naming the app's real steps, topics and services.

Plans shrink toward fewer faults (a list), earlier ones (small run/message/call indexes) and simpler
kinds (crashes at start before crashes after side effects; errors before timeouts and latency).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from hypothesis import strategies as st

from motia_rt.loader import load_steps
from motia_rt.steps import StepRegistry

from .faults import Crash, CronFault, Delay, Duplicate, Fault, FaultPlan, ServiceFault, StateFault
from .injector import FaultSites

__all__ = ["FaultSpace", "Recipe", "fault_from_recipe", "fault_plans", "faults", "recipes"]


@dataclass(frozen=True)
class FaultSpace:
    """Where faults can go in an app: the targets a plan may name, and every step x kind pair."""

    handlers: tuple[str, ...]
    subscriptions: tuple[tuple[str, str], ...]
    """(topic, step) pairs."""
    services: tuple[str, ...]
    cron_steps: tuple[str, ...]

    @classmethod
    def of(cls, registry: StepRegistry, services: tuple[str, ...] | None = None) -> FaultSpace:
        handlers = tuple(s.name for s in registry if s.handler is not None)
        subs = tuple((sub.topic, sub.step) for sub in registry.subscriptions())
        names = services if services is not None else tuple(sorted(registry.default_services()))
        return cls(handlers, subs, names, tuple(s.name for s in registry.of_kind("cron")))

    def narrowed(self, registry: StepRegistry, sites: FaultSites) -> FaultSpace:
        """Only what can run in a scenario whose run reached ``sites``: the steps that ran, and
        the event steps their declared emits can reach (a fault can start a compensation that did
        not run there). A cron step that never ticked or an api step never called cannot run in
        any example: faults add no ticks and make no requests. Services as below."""
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
        services = self.services
        if can_run <= ran:
            services = tuple(name for name in services if sites.calls.get(name))
        return FaultSpace(
            handlers=tuple(h for h in self.handlers if h in can_run),
            subscriptions=tuple(p for p in self.subscriptions if p[1] in can_run),
            services=services,
            cron_steps=tuple(c for c in self.cron_steps if sites.ticks.get(c)),
        )

    def combinations(self) -> set[tuple[str, str]]:
        """Every (step or service, fault kind) pair a plan can exercise."""
        combos = {(h, "crash") for h in self.handlers}
        combos |= {(h, "state") for h in self.handlers}
        combos |= {
            (step, kind) for _, step in self.subscriptions for kind in ("duplicate", "delay")
        }
        combos |= {(name, "service") for name in self.services}
        combos |= {(name, "cron") for name in self.cron_steps}
        return combos


def _crash(steps: tuple[str, ...]) -> st.SearchStrategy[Fault]:
    return st.builds(
        lambda step, run, after, k: (
            Crash(step, run) if after == "start" else Crash(step, run, after, k)
        ),
        st.sampled_from(steps),
        st.integers(1, 3),
        st.sampled_from(["start", "state", "emit", "service"]),
        st.integers(1, 2),
    )


def _delivery(kind: str, pairs: tuple[tuple[str, str], ...]) -> st.SearchStrategy[Fault]:
    chosen = st.sampled_from(pairs)
    if kind == "duplicate":
        return st.builds(lambda p, n: Duplicate(p[0], p[1], n), chosen, st.integers(1, 3))
    return st.builds(
        lambda p, n, secs: Delay(p[0], p[1], n, secs),
        chosen,
        st.integers(1, 3),
        st.sampled_from([1.0, 5.0, 30.0, 120.0]),
    )


def _service(names: tuple[str, ...]) -> st.SearchStrategy[Fault]:
    return st.builds(
        lambda name, call, mode, secs: ServiceFault(
            name, call, mode, 0.0 if mode == "error" else secs
        ),
        st.sampled_from(names),
        st.integers(1, 6),
        st.sampled_from(["error", "timeout", "latency"]),
        st.sampled_from([1.0, 5.0, 60.0]),
    )


def _state() -> st.SearchStrategy[Fault]:
    return st.builds(StateFault, op=st.integers(1, 60))


def _cron(steps: tuple[str, ...]) -> st.SearchStrategy[Fault]:
    return st.builds(
        lambda step, tick, late, missed: CronFault(step, tick, 0.0 if missed else late, missed),
        st.sampled_from(steps),
        st.integers(1, 3),
        st.sampled_from([30.0, 120.0]),
        st.booleans(),
    )


def faults(space: FaultSpace) -> st.SearchStrategy[Fault]:
    """One fault somewhere in ``space``; simpler kinds first so shrinking prefers them."""
    options: list[st.SearchStrategy[Fault]] = []
    if space.handlers:
        options.append(_crash(space.handlers))
    if space.subscriptions:
        options += [
            _delivery("duplicate", space.subscriptions),
            _delivery("delay", space.subscriptions),
        ]
    if space.services:
        options.append(_service(space.services))
    options.append(_state())
    if space.cron_steps:
        options.append(_cron(space.cron_steps))
    return st.one_of(options)


_AFTER = ("start", "state", "emit", "service")
_DELAYS = (1.0, 5.0, 30.0, 120.0)
_MODES = ("error", "timeout", "latency")
_LATENCY = (1.0, 5.0, 60.0)

Recipe = tuple[bool, int, int, int, int, int, int, int, int, int, int, bool, int]


def recipes(space: FaultSpace) -> st.SearchStrategy[Recipe]:
    """Every draw a fault could need, drawn always, so the number of draws never depends on what
    the fuzzer has explored so far (Hypothesis requires data generation to be repeatable).
    Indexes are drawn wide and folded into what a fault-free run reached (``fault_from_recipe``)."""
    return st.tuples(
        st.booleans(), st.integers(0, max(0, len(space.combinations()) - 1)),
        st.integers(1, 8), st.integers(0, 3), st.integers(1, 8), st.integers(1, 8),
        st.integers(0, 3), st.integers(1, 16), st.integers(0, 2), st.integers(1, 400),
        st.integers(1, 8), st.booleans(), st.integers(0, 7),
    )  # fmt: skip


def _within(n: int, count: int, unknown: int) -> int:
    """``n`` (1-based) folded into ``1..count``, or into ``1..unknown`` where nothing was counted."""
    return 1 + (n - 1) % (count or unknown)


_NO_SITES = FaultSites(runs={}, effects={}, messages={}, calls={}, state_ops=0, ticks={})


def fault_from_recipe(
    space: FaultSpace,
    recipe: Recipe,
    untried: list[tuple[str, str]],
    sites: FaultSites | None = None,
) -> Fault:
    """Turn a recipe into a fault: aimed at an untried (step, kind) pair when ``aim`` is set, at
    any pair otherwise. Every draw shrinks toward the first pair and the simplest fault.

    Indexes are folded into ``sites``, what a fault-free run reached: a crash lands in a run the
    step had, after a kind of side effect that run made; a duplicate or delay hits a message that
    was delivered; a service, state or cron fault a call, operation or tick that happened. So a
    drawn fault fires on the fault-free schedule, instead of mostly naming, say, a sixth call to a
    service called once. Where nothing was counted, indexes stay small (runs and side effects 1-2,
    messages and ticks 1-3, calls 1-6, state operations 1-40) without ``sites``, and 1 with."""
    aim, index, run, after, k, nth, delay, call, mode, op, tick, missed, sub = recipe
    seen = sites or _NO_SITES

    def uncounted(blind: int) -> int:
        # A point the counted run never reached may be reached once another fault changes the
        # run (a compensation step, a retry): first of its kind, the likeliest to happen then.
        return 1 if sites is not None else blind

    pairs = sorted(space.combinations())
    pool = untried if aim and untried else pairs
    where, kind = pool[index % len(pool)]
    if kind == "crash":
        run = _within(run, seen.runs.get(where, 0), uncounted(2))
        if after == 0:
            return Crash(where, run)
        made = seen.effects.get((where, run))
        if made is None:  # a run the fault-free schedule did not have: any kind, as drawn
            return Crash(where, run, _AFTER[after], _within(k, 0, uncounted(2)))  # type: ignore[arg-type]
        kinds = [a for a in _AFTER[1:] if made.get(a)]
        if not kinds:  # the run made no side effect: it can only crash as it starts
            return Crash(where, run)
        chosen = kinds[(after - 1) % len(kinds)]
        return Crash(where, run, chosen, _within(k, made[chosen], 1))  # type: ignore[arg-type]
    if kind in ("duplicate", "delay"):
        subs = [p for p in space.subscriptions if p[1] == where]
        subs = [p for p in subs if seen.messages.get(p)] or subs
        topic, step = subs[sub % len(subs)]
        nth = _within(nth, seen.messages.get((topic, step), 0), uncounted(3))
        if kind == "duplicate":
            return Duplicate(topic, step, nth)
        return Delay(topic, step, nth, _DELAYS[delay])
    if kind == "service":
        secs = 0.0 if mode == 0 else _LATENCY[delay % 3]
        call = _within(call, seen.calls.get(where, 0), uncounted(6))
        return ServiceFault(where, call, _MODES[mode], secs)  # type: ignore[arg-type]
    if kind == "cron":
        tick = _within(tick, seen.ticks.get(where, 0), uncounted(3))
        return CronFault(where, tick, 0.0 if missed else _DELAYS[2 + delay % 2], missed)
    return StateFault(_within(op, seen.state_ops, 40))


def fault_plans(
    steps: str | Path | StepRegistry | FaultSpace = "steps", *, max_faults: int = 3
) -> st.SearchStrategy[FaultPlan]:
    """Fault plans of at most ``max_faults`` faults naming the app's steps, topics and services."""
    if isinstance(steps, FaultSpace):
        space = steps
    else:
        registry = steps if isinstance(steps, StepRegistry) else load_steps(steps)
        space = FaultSpace.of(registry)
    return st.lists(faults(space), max_size=max_faults).map(FaultPlan)
