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
    the fuzzer has explored so far (Hypothesis requires data generation to be repeatable)."""
    return st.tuples(
        st.booleans(), st.integers(0, max(0, len(space.combinations()) - 1)),
        st.integers(1, 2), st.integers(0, 3), st.integers(1, 2), st.integers(1, 3),
        st.integers(0, 3), st.integers(1, 6), st.integers(0, 2), st.integers(1, 40),
        st.integers(1, 3), st.booleans(), st.integers(0, 7),
    )  # fmt: skip


def fault_from_recipe(space: FaultSpace, recipe: Recipe, untried: list[tuple[str, str]]) -> Fault:
    """Turn a recipe into a fault: aimed at an untried (step, kind) pair when ``aim`` is set, at
    any pair otherwise. Every draw shrinks toward the first pair and the simplest fault."""
    aim, index, run, after, k, nth, delay, call, mode, op, tick, missed, sub = recipe
    pairs = sorted(space.combinations())
    pool = untried if aim and untried else pairs
    where, kind = pool[index % len(pool)]
    if kind == "crash":
        return Crash(where, run) if after == 0 else Crash(where, run, _AFTER[after], k)  # type: ignore[arg-type]
    if kind in ("duplicate", "delay"):
        subs = [p for p in space.subscriptions if p[1] == where]
        topic, step = subs[sub % len(subs)]
        if kind == "duplicate":
            return Duplicate(topic, step, nth)
        return Delay(topic, step, nth, _DELAYS[delay])
    if kind == "service":
        secs = 0.0 if mode == 0 else _LATENCY[delay % 3]
        return ServiceFault(where, call, _MODES[mode], secs)  # type: ignore[arg-type]
    if kind == "cron":
        return CronFault(where, tick, 0.0 if missed else _DELAYS[2 + delay % 2], missed)
    return StateFault(op)


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
