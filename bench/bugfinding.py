"""Area 7, bug-finding power: how often and how fast ``fuzz`` finds each bug of the zoo
(``bench/zoo``), against chaos testing (unaimed random faults at a fixed rate, no shrinking)
measured in the same run, and that the fixed variant of each app is never reported.

Per bug, ``RUNS`` fuzz runs at the pytest plugin's default example count (25), each with its own
Hypothesis seed: found or not, the examples run until the first failing one, and the fault count
of the shrunk plan; and as many at ``fuzz``'s own default, 100 (found or not). The baseline
runs the same scenario under ``chaos_plan`` faults, one fresh random plan and simulator seed per
example, until the first failure or ``BASELINE_CAP`` examples; and, for comparison only, a
sparser chaos (``SPARSE_RATE``). A run that finds nothing counts as its cap (a lower bound) in the
medians. Each fixed app is fuzzed ``RUNS`` times at 100 examples: any failure there is a false
alarm.
"""

from __future__ import annotations

import functools
import random
import statistics
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from motia_rt.loader import load_steps
from motia_sim import FaultPlan, Invariant, InvariantViolation, Simulation, World, fuzz
from motia_sim.replays import ReplayRecipe
from motia_sim.scenario import Scenario

from ._measure import progress
from ._report import Row, Stats, Target, compare
from .zoo import BUGS, Bug
from .zoo.chaos import ChaosSites, chaos_plan

__all__ = [
    "BASELINE_CAP",
    "DEFAULT_EXAMPLES",
    "FUZZ_EXAMPLES",
    "RATE",
    "RUNS",
    "SPARSE_RATE",
    "FirstFailure",
    "run",
]

AREA = "7"
DEFAULT_EXAMPLES = 25
"""The pytest plugin's default (ini ``motia_examples``): what a ``[fuzz]`` item runs in CI."""
FUZZ_EXAMPLES = 100
"""``fuzz``'s default ``max_examples`` (and ``motia-sim fuzz``'s): a second, larger count."""
RUNS = 10
RATE = 0.05
"""Chaos baseline: the probability that each fault site fires (about a fuzzed plan's faults)."""
SPARSE_RATE = 0.01
"""A second, sparser chaos, for comparison only (fewer faults per run, so rarer failures)."""
BASELINE_CAP = 10 * DEFAULT_EXAMPLES
FOUND_SHARE = Target("value", ">=", 0.95)
FEWER_EXAMPLES = Target("ratio", "<=", 0.2)
"""Ours over the baseline's median examples to the first failure: at least 5x fewer."""
SMALL_PLAN = Target("value", "<=", 2)
NO_FALSE_ALARM = Target("value", "<=", 0)


@dataclass
class FirstFailure:
    """Counts examples through ``fuzz``'s ``progress`` callback and notes the count at the first
    failing one, seen by wrapping the scenario and its invariants (shrinking comes after it)."""

    examples: int = 0
    first: int | None = None

    def progress(self, done: int, total: int) -> None:
        self.examples = done

    def failed(self) -> None:
        if self.first is None:
            self.first = max(self.examples, 1)  # 0: the run before the examples broke already

    def watching(self, s: Scenario) -> Scenario:
        async def fn(h: Any) -> Any:
            try:
                return await s.fn(h)
            except Exception:
                self.failed()
                raise

        # The recipe of the scenario as written: a failure replays it (the wrapper only counts).
        recipe = ReplayRecipe.of(s)
        watched = tuple(self._watched(i) for i in s.invariants)
        return replace(s, fn=fn, invariants=watched, recipe=recipe)

    def _watched(self, invariant: Invariant) -> Invariant:
        @functools.wraps(invariant.check)
        def check(world: World) -> Any:
            try:
                return invariant.check(world)
            except AssertionError:
                self.failed()
                raise

        return Invariant(check, invariant.when)


@dataclass
class Measured:
    """One bug's figures over ``RUNS`` seeds."""

    ours: list[int] = field(default_factory=list)
    """Examples to the first failure per fuzz run (``DEFAULT_EXAMPLES`` when none was found)."""
    found: int = 0
    found_at_fuzz_default: int = 0
    shrunk: list[int] = field(default_factory=list)
    """Faults in each reported plan."""
    baseline: list[int] = field(default_factory=list)
    baseline_found: int = 0
    sparse: list[int] = field(default_factory=list)
    """Examples to the first failure under chaos at ``SPARSE_RATE``."""
    false_alarms: list[str] = field(default_factory=list)


def fuzz_once(
    s: Scenario, steps: Path, seed: int, examples: int = DEFAULT_EXAMPLES
) -> tuple[int | None, FaultPlan | None]:
    """One fuzz run: (examples to the first failure, the reported plan), or Nones."""
    watch = FirstFailure()
    try:
        fuzz(watch.watching(s), steps=steps, max_examples=examples, report=None,
             progress=watch.progress, seed=seed)  # fmt: skip
    except InvariantViolation as found:
        return watch.first or watch.examples, FaultPlan.parse(found.plan)
    return None, None


def chaos_once(s: Scenario, steps: Path, seed: int, rate: float = RATE) -> int | None:
    """Chaos until the first failure: the example count, or None within ``BASELINE_CAP``."""
    registry = load_steps(steps)
    sites = ChaosSites.of(registry)
    rng = random.Random(f"chaos:{seed}")
    for n in range(1, BASELINE_CAP + 1):
        sim = Simulation(registry, seed=rng.getrandbits(32), faults=chaos_plan(sites, rate, rng),
                         services=s.services, invariants=s.invariants, cron=s.cron)  # fmt: skip
        run = sim.execute(s.fn, capture=True)
        if run.violation is not None or run.error is not None:
            return n
    return None


def measure(bug: Bug, runs: int, fixed_root: Path) -> Measured:
    s = bug.scenario()
    fixed = bug.fixed_steps(fixed_root)
    out = Measured()
    for seed in range(runs):
        first, plan = fuzz_once(s, bug.steps, seed)
        out.ours.append(first if first is not None else DEFAULT_EXAMPLES)
        if plan is not None:
            out.found += 1
            out.shrunk.append(len(plan))
        # Hypothesis plans its examples by the count, so the larger run is a run of its own.
        out.found_at_fuzz_default += fuzz_once(s, bug.steps, seed, FUZZ_EXAMPLES)[1] is not None
        chaos = chaos_once(s, bug.steps, seed)
        out.baseline.append(chaos if chaos is not None else BASELINE_CAP)
        out.baseline_found += chaos is not None
        sparse = chaos_once(s, bug.steps, seed, SPARSE_RATE)
        out.sparse.append(sparse if sparse is not None else BASELINE_CAP)
        _, alarm = fuzz_once(s, fixed, 1000 + seed, FUZZ_EXAMPLES)  # the larger count: stricter
        if alarm is not None:
            out.false_alarms.append(str(alarm))
    return out


def _speed(figure: str, m: Measured, rate: float, chaos: list[int], target: Target | None) -> Row:
    row = compare(AREA, figure, "ex", m.ours, f"chaos p={rate}, no shrinking", chaos, target)
    # Ours over the baseline, medians (runs are not paired); none when fuzz never found it, as
    # then both medians are only their caps.
    ratio = statistics.median(m.ours) / statistics.median(chaos)
    row.ratio = Stats.of([ratio]) if m.found else None
    row.note = (
        f"ours / chaos = {ratio:.2g}: chaos needs {1 / ratio:.2g}x the examples"
        if m.found
        else "fuzz found nothing: no ratio"
    )
    return row


def rows(bug: Bug, m: Measured, runs: int) -> list[Row]:
    share = m.found / runs
    head = f"zoo {bug.name}"
    found = Row(AREA, f"{head}: share of {DEFAULT_EXAMPLES}-example fuzz runs finding it", "",
                Stats.of([share]), baseline=f"chaos p={RATE}, {BASELINE_CAP} cap",
                base=Stats.of([m.baseline_found / runs]), target=FOUND_SHARE,
                note=f"{m.found}/{runs} fuzz runs, {m.baseline_found}/{runs} chaos runs found it")  # fmt: skip
    at_pytest = Row(AREA, f"{head}: share of {FUZZ_EXAMPLES}-example fuzz runs finding it", "",
                    Stats.of([m.found_at_fuzz_default / runs]), target=FOUND_SHARE,
                    note=f"fuzz's own default count; {m.found_at_fuzz_default}/{runs}")  # fmt: skip
    speed = _speed(f"{head}: examples to the first failure", m, RATE, m.baseline, FEWER_EXAMPLES)
    sparse = _speed(f"{head}: the same, against sparser chaos", m, SPARSE_RATE, m.sparse, None)
    shrunk = Row(AREA, f"{head}: faults in the shrunk plan", "",
                 Stats.of(m.shrunk) if m.shrunk else None, target=SMALL_PLAN)  # fmt: skip
    alarms = Row(AREA, f"{head}, fixed: fuzz runs reporting a failure", "",
                 Stats.of([float(len(m.false_alarms))]), target=NO_FALSE_ALARM,
                 note="; ".join(m.false_alarms[:2]))  # fmt: skip
    return [found, at_pytest, speed, sparse, shrunk, alarms]


def run(quick: bool) -> list[Row]:
    runs = 3 if quick else RUNS
    out: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="zoo-fixed-") as root:
        for bug in BUGS:
            m = measure(bug, runs, Path(root))
            progress(
                f"  {bug.name}: found {m.found}/{runs} ({m.found_at_fuzz_default}/{runs} at"
                f" {FUZZ_EXAMPLES} examples), median examples {statistics.median(m.ours)}"
                f" vs chaos {statistics.median(m.baseline)} ({m.baseline_found}/{runs} found;"
                f" {statistics.median(m.sparse)} at p={SPARSE_RATE}),"
                f" shrunk faults {max(m.shrunk, default=0)}, false alarms {len(m.false_alarms)}"
            )
            out += rows(bug, m, runs)
    return out
