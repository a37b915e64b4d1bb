"""``fuzz``: Hypothesis draws fault plans and seeds, the simulator runs the scenario under each, and a
broken invariant comes back as the smallest plan that breaks it, with a replay command and test."""

from __future__ import annotations

import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from itertools import cycle, islice
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, Phase, event, given, settings, target
from hypothesis import seed as hypothesis_seed
from hypothesis import strategies as st

from motia_rt.loader import load_steps
from motia_rt.network import fakes_of

from ._kinds import KINDS, kind_of
from .faults import Fault, FaultPlan, StateFault
from .injector import FaultSites
from .invariants import Invariant, InvariantViolation, World, as_invariants
from .replays import ReplayRecipe, load_invariants, load_services
from .scenario import Scenario, ScenarioFn, resolve
from .scenario import scenario as declare
from .simulation import SimRun, Simulation
from .strategies import FaultSpace, fault_from_recipe, recipes, with_magnitudes
from .sweep import single_faults

__all__ = ["FuzzReport", "fuzz", "replay", "run_scenario"]

COLUMNS = tuple(kind.name for kind in KINDS)


@dataclass
class FuzzReport:
    """What a fuzz run explored: examples run and (step or service, fault kind) pairs exercised."""

    scenario: str
    examples: int = 0
    explored: Counter[tuple[str, str]] = field(default_factory=Counter)
    possible: set[tuple[str, str]] = field(default_factory=set)

    def table(self) -> str:
        targets = sorted({t for t, _ in self.possible})
        # A kind the app offers no target for (``net`` without HTTP fakes) gets no column.
        columns = [k for k in COLUMNS if any(kind == k for _, kind in self.possible)]
        width = max([len(t) for t in targets] + [12])
        lines = [f"{'':<{width}}  " + " ".join(f"{k:>9}" for k in columns)]
        for t in targets:
            cells = []
            for k in columns:
                if (t, k) not in self.possible:
                    cells.append(f"{'':>9}")
                else:
                    n = self.explored.get((t, k), 0)
                    cells.append(f"{n if n else '-':>9}")
            lines.append(f"{t:<{width}}  " + " ".join(cells))
        hit = len(self.possible & set(self.explored))
        lines.append(
            f"{self.scenario}: {self.examples} runs (sweep, generation, targeting, shrinking); explored {hit} of {len(self.possible)} "
            f"step x fault pairs ('-' = not yet exercised)"
        )
        return "\n".join(lines)


def _as_scenario(
    scenario: Scenario | ScenarioFn | str,
    steps: str | Path | None,
    invariants: Iterable[Invariant | Callable[[World], Any] | str] | None,
    services: Callable[[], Mapping[str, Any]] | Mapping[str, Any] | str | None,
) -> Scenario:
    """The scenario to run, with what the caller gave in place of what it declares, and the
    recipe that replays it (``NotReplayable`` if something given could not be found again)."""
    if isinstance(scenario, str):
        base = resolve(scenario)
    else:
        base = scenario if isinstance(scenario, Scenario) else declare(scenario)
    steps_text = None if steps is None else str(Path(steps).resolve())
    if base.recipe is not None and invariants is None and services is None:
        # Already made (a scenario wrapped by a tool that counts its runs keeps its recipe).
        recipe = base.recipe if steps_text is None else replace(base.recipe, steps=steps_text)
    else:
        recipe = ReplayRecipe.of(base, original=scenario, invariants=invariants,
                                 services=services, steps=steps_text)  # fmt: skip
    changes: dict[str, Any] = {"recipe": recipe}
    if steps is not None:
        changes["steps"] = Path(steps).resolve()
    if invariants is not None:
        changes["invariants"] = as_invariants(
            load_invariants([i])[0] if isinstance(i, str) else i for i in invariants
        )
    if services is not None:
        changes["services"] = load_services(services) if isinstance(services, str) else services
    return replace(base, **changes)


def failure_message(s: Scenario, run: SimRun) -> tuple[str, str]:
    if run.violation is not None:
        name, detail = run.violation
        head = f"invariant {name!r} broke: {detail}"
    else:
        name = "scenario"
        head = f"the scenario failed: {type(run.error).__name__}: {run.error}{_where(s, run.error)}"
    fired = "; ".join(str(f) for f in run.fired) or "none"
    recipe = s.recipe or ReplayRecipe.of(s, original=s.ref)
    text = "\n".join(
        [
            head,
            f"  scenario:   {s.ref}",
            f"  seed:       {run.seed}",
            f"  fault plan: {str(run.plan) or '(no faults)'}",
            f"  fired:      {fired}",
            "",
            f"timeline ({len(run.trace)} events, virtual time):",
            run.trace.timeline(),
            "",
            "replay it exactly:",
            f"  {recipe.command(run.seed, run.plan)}",
            "or paste this test:",
            *("  " + line for line in recipe.test(run.seed, run.plan).splitlines()),
        ]
    )
    return name, text


def _where(s: Scenario, error: BaseException | None) -> str:
    """`` at orders.py:42: assert ...`` for an error raised in the scenario file (a bare
    ``assert`` there has no message: scenario files are not rewritten by pytest)."""
    if error is None:
        return ""
    frames = [f for f in traceback.extract_tb(error.__traceback__) if Path(f.filename) == s.file]
    if not frames:
        return ""
    frame = frames[-1]
    return f"\n  at {s.file.name}:{frame.lineno}: {(frame.line or '').strip()}"


def _failed(run: SimRun) -> bool:
    return run.violation is not None or run.error is not None


def run_scenario(
    s: Scenario,
    *,
    seed: int = 0,
    plan: FaultPlan | None = None,
    registry: Any = None,
    count_sites: bool = False,
) -> SimRun:
    """One simulated run of ``s`` (its steps, services, invariants), failures kept on the run.
    ``registry`` reuses already loaded steps (the fuzz loop loads them once)."""
    sim = Simulation(registry if registry is not None else s.steps_dir, seed=seed, faults=plan,
                     services=s.services, invariants=s.invariants, cron=s.cron,
                     count_sites=count_sites, http=s.http)  # fmt: skip
    return sim.execute(s.fn, capture=True)


def _minimized(s: Scenario, registry: Any, found: InvariantViolation) -> InvariantViolation:
    """Hypothesis shrinks the draws; this finishes the job on the plan itself: drop faults that
    never fired, then any fault whose removal still breaks the same invariant, then try seed 0.
    The result is 1-minimal: removing any one remaining fault makes the failure go away."""

    def attempt(plan: FaultPlan, seed: int) -> SimRun | None:
        run = run_scenario(s, seed=seed, plan=plan, registry=registry)
        same = _failed(run) and failure_message(s, run)[0] == found.invariant
        return run if same else None

    seed = found.seed
    best = attempt(FaultPlan.parse(found.plan), seed)
    if best is None:  # not reproducible: report what Hypothesis found
        return found
    trimmed = attempt(FaultPlan(best.fired), seed)
    best = trimmed or best
    shrinking = True
    while shrinking:
        shrinking = False
        for i in range(len(best.plan)):
            smaller = attempt(FaultPlan(f for j, f in enumerate(best.plan) if j != i), seed)
            if smaller is not None:
                best, shrinking = smaller, True
                break
    if len(best.plan) > 1:
        # Deletion is stuck when faults only break things together because one shifts where
        # the other lands (a failed state op causes a retry, moving later op numbers): try each
        # fault alone at every index the failing run reached.
        for single in _single_faults(best):
            alone = attempt(FaultPlan([single]), seed)
            if alone is not None:
                best = alone
                break
    if seed != 0:
        at_zero = attempt(best.plan, 0)
        if at_zero is not None:
            best, seed = at_zero, 0
    name, text = failure_message(s, best)
    return InvariantViolation(text, invariant=name, seed=seed, plan=str(best.plan))


def _single_faults(run: SimRun) -> Iterator[Fault]:
    """Each fault of the run's plan, moved to every index the run reached for its kind."""
    for fault in run.plan:
        yield from kind_of(fault).moves(fault, run)


def replay(
    ref: str | Scenario | ScenarioFn,
    *,
    seed: int,
    plan: FaultPlan | str = "",
    steps: str | Path | None = None,
    invariants: Iterable[Invariant | Callable[[World], Any] | str] | None = None,
    services: Callable[[], Mapping[str, Any]] | Mapping[str, Any] | str | None = None,
) -> SimRun:
    """Run one scenario exactly as a failing fuzz example did; raise ``InvariantViolation`` if an
    invariant breaks (or the scenario fails), else return the run.

    ``invariants`` and ``services`` (objects, or ``file::name`` references as a failure report
    prints them) replace the scenario's own, as they did in the ``fuzz`` call that failed."""
    s = _as_scenario(ref, steps, invariants, services)
    plan = FaultPlan.parse(plan) if isinstance(plan, str) else plan
    run = run_scenario(s, seed=seed, plan=plan)
    if _failed(run):
        name, text = failure_message(s, run)
        raise InvariantViolation(text, invariant=name, seed=seed, plan=str(plan))
    return run


_INERT = FaultPlan([StateFault(op=2**62)])
"""A plan whose one fault can never fire (no run makes that many state operations)."""


def fuzz(
    scenario: Scenario | ScenarioFn,
    *,
    steps: str | Path | None = None,
    invariants: Iterable[Invariant | Callable[[World], Any]] | None = None,
    services: Callable[[], Mapping[str, Any]] | Mapping[str, Any] | None = None,
    max_examples: int = 100,
    max_faults: int | None = None,
    progress: Callable[[int, int], None] | None = None,
    report: Callable[[str], None] | None = print,
    derandomize: bool = False,
    seed: int | None = None,
    magnitudes: Iterable[float] | None = None,
) -> FuzzReport:
    """Run ``scenario`` under ``max_examples`` Hypothesis-drawn fault plans and seeds.

    On a failure raises ``InvariantViolation`` for the minimal example: its message holds the
    plan, the seed, the timeline, a ``motia-sim replay`` command and a pasteable pytest test.
    Afterwards ``report`` gets the table of step x fault-kind pairs explored. Examples that reach
    pairs not exercised before are favoured (``hypothesis.target``), steering toward them.
    ``magnitudes`` are the seconds drawn for delays, service latencies and timeouts and late cron
    ticks; by default ``strategies.magnitudes``: a few small ones and one second past each span
    the app and the scenario wait (cron intervals, timeouts, backoffs, ``advance``...).
    ``seed`` seeds Hypothesis's own choices: the same seed draws the same examples (``derandomize``
    does that with one fixed seed); ``None`` draws afresh on every call.
    """
    s = _as_scenario(scenario, steps, invariants, services)
    registry = load_steps(s.steps_dir)
    bindings = s.services() if callable(s.services) else (s.services or {})
    names = tuple(sorted({*registry.default_services(), *bindings}))
    space = FaultSpace.of(registry, names, hosts=tuple(fakes_of(s.http)))
    # One run first to learn where faults can land (runs, side effects, messages, calls, state
    # operations, ticks), so drawn indexes are folded into what happens. Its plan holds one fault
    # that never fires, so the scenario takes the path it takes under faults (``h.fault_free`` is
    # False) without any failing; a failure of this run is left for the examples to find.
    sites = run_scenario(s, plan=_INERT, registry=registry, count_sites=True).sites
    assert sites is not None
    # The report covers every pair (what the scenario cannot reach shows as not exercised);
    # faults are drawn only where they can land.
    result = FuzzReport(s.ref, possible=space.combinations())
    space = space.narrowed(registry, sites)
    if magnitudes is not None:
        space = with_magnitudes(space, magnitudes)
    reachable = space.combinations()

    try:
        swept = _sweep(s, registry, space, sites, result, progress, max_examples)
    except InvariantViolation as found:
        if report is not None:
            report(result.table())
        raise _minimized(s, registry, found) from None
    if swept >= max_examples:
        if report is not None:
            report(result.table())
        return result

    # Built once: strategies are objects, and building them per example costs more than drawing.
    drawing = st.lists(recipes(space), max_size=max_faults or s.max_faults)
    frozen: list[list[tuple[str, str]]] = []

    @settings(max_examples=max_examples - swept, deadline=None, database=None, derandomize=derandomize,
              suppress_health_check=list(HealthCheck), report_multiple_bugs=False,
              # No explain phase: fuzz reports the failure its own way, after minimizing.
              phases=[Phase.explicit, Phase.reuse, Phase.generate, Phase.target, Phase.shrink])  # fmt: skip
    @given(data=st.data(), seed=st.integers(0, 2**32 - 1))
    def example(data: st.DataObject, seed: int) -> None:
        result.examples += 1
        if progress is not None:
            progress(result.examples, max_examples)
        # Steering: about half the faults aim at (step, kind) pairs no example has exercised yet. The
        # list of untried pairs is frozen at the first failure, so shrinking replays the same
        # choices against the same list.
        untried = frozen[0] if frozen else sorted(reachable - set(result.explored))
        drawn = data.draw(drawing, label="fault recipes")
        plan = FaultPlan(fault_from_recipe(space, r, untried, sites) for r in drawn)
        run = run_scenario(s, seed=seed, plan=plan, registry=registry)
        if _failed(run):
            if not frozen:
                frozen.append(untried)
            name, text = failure_message(s, run)
            raise InvariantViolation(text, invariant=name, seed=seed, plan=str(plan))
        new = [pair for pair in run.explored if pair not in result.explored]
        result.explored.update(run.explored)
        target(float(len(new)), label="new step x fault pairs")
        for where, kind in sorted(run.explored):
            event(f"{kind} at {where}")

    if seed is not None:
        example = hypothesis_seed(seed)(example)
    try:
        example()
    except InvariantViolation as found:
        raise _minimized(s, registry, found) from None
    finally:
        if report is not None:
            report(result.table())
    return result


def sweep_share(max_examples: int) -> int:
    """How many of ``max_examples`` go to the single-fault sweep: two thirds, the rest to drawn
    plans (faults that only break things together, and sites the sweep did not reach)."""
    return max_examples * 2 // 3


def _sweep(
    s: Scenario,
    registry: Any,
    space: FaultSpace,
    sites: FaultSites,
    result: FuzzReport,
    progress: Callable[[int, int], None] | None,
    max_examples: int,
) -> int:
    """Run the sweep's share of ``max_examples``, single faults of ``motia_sim.sweep``; raise
    ``InvariantViolation`` at the first failure. Returns the runs made (fewer when the sweep runs
    out of faults)."""
    runs = 0
    faults = list(single_faults(space, sites))
    # Past the end of the list the sweep starts over (on other seeds) while its share lasts.
    for fault in islice(cycle(faults), sweep_share(max_examples) if faults else 0):
        # Seed i for the i-th fault: the counted sites hold on any seed for all but the order of
        # concurrent runs, and a race needs other interleavings than seed 0's.
        seed = runs
        runs += 1
        result.examples += 1
        if progress is not None:
            progress(result.examples, max_examples)
        plan = FaultPlan([fault])
        run = run_scenario(s, seed=seed, plan=plan, registry=registry)
        if _failed(run):
            name, text = failure_message(s, run)
            raise InvariantViolation(text, invariant=name, seed=seed, plan=str(plan))
        result.explored.update(run.explored)
    return runs
