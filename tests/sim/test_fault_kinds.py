"""Every fault kind is defined once (``motia_sim._kinds``) and each part of the simulator that
handles faults covers every kind through that registry: the text form, the strategies, the
fuzzer's recipes and aiming, plan checks, the coverage table and the minimizer's moves."""

from __future__ import annotations

import typing
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from motia_rt.loader import load_steps
from motia_sim import Fault, FaultPlan, FaultPlanSyntaxError, FuzzReport, Simulation
from motia_sim._kinds import KINDS, Aim, FaultKind, kind_of
from motia_sim.fuzzing import _single_faults
from motia_sim.injector import FaultSites
from motia_sim.strategies import FaultSpace, fault_from_recipe, faults, recipes

from .apps import JOBS, write

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = FaultSpace.of(load_steps(ROOT / "steps"), hosts=("api.example.test",))
NO_SITES = FaultSites(runs={}, effects={}, messages={}, calls={}, state_ops=0, ticks={})


def variant(fault: Fault) -> tuple[str, str]:
    """The kind and the mode of a fault: what a strategy must be able to draw."""
    mode = {
        "crash": lambda f: f.after,
        "service": lambda f: f.mode,
        "cron": lambda f: "missed" if f.missed else "twice" if f.twice else "late",
        "net": lambda f: f.mode,
    }.get(fault.kind, lambda f: "")
    return fault.kind, mode(fault)


EVERY_VARIANT = {
    *(("crash", after) for after in ("start", "state", "emit", "service")),
    ("state", ""),
    ("duplicate", ""),
    ("delay", ""),
    *(("service", mode) for mode in ("error", "timeout", "latency")),
    *(("cron", mode) for mode in ("late", "missed", "twice")),
    *(("net", mode) for mode in ("lost", "refused", "reset", "status", "timeout", "latency")),
}
"""Drawn blind (no counted run): a crash after a request on the virtual network is aimed only
where a counted run made one."""


def test_each_kind_is_registered_once_and_is_a_fault_class() -> None:
    names = [kind.name for kind in KINDS]
    assert len(names) == len(set(names))
    assert {kind.fault for kind in KINDS} == set(typing.get_args(Fault))
    assert {name for name, _ in EVERY_VARIANT} == set(names)
    for kind in KINDS:
        assert kind.form.startswith(f"{kind.name} ")
        # A parse error lists every kind's form.
        with pytest.raises(FaultPlanSyntaxError) as caught:
            FaultPlan.parse("explode now=1")
        assert kind.form in str(caught.value)


def test_the_coverage_table_has_a_column_per_kind_in_registry_order() -> None:
    every = {("A", kind.name) for kind in KINDS}
    table = FuzzReport("s", possible=every).table()
    assert table.splitlines()[0].split() == [kind.name for kind in KINDS]
    # A kind with nothing to aim at in the app gets no column.
    table = FuzzReport("s", possible={("A", "crash"), ("B", "cron")}).table()
    assert table.splitlines()[0].split() == ["crash", "cron"]


names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_.\-]{0,12}", fullmatch=True)


@st.composite
def spaces(draw: st.DrawFn) -> FaultSpace:
    """Any app: names of every sort, magnitudes of any size."""
    steps = tuple(draw(st.lists(names, min_size=1, max_size=4, unique=True)))
    topics = draw(st.lists(names, min_size=1, max_size=3, unique=True))
    subs = tuple((t, draw(st.sampled_from(steps))) for t in topics)
    services = tuple(draw(st.lists(names, min_size=1, max_size=3, unique=True)))
    seconds = st.floats(0.001, 1e7, allow_nan=False, allow_infinity=False)
    magnitudes = tuple(sorted(set(draw(st.lists(seconds, min_size=1, max_size=6)))))
    hosts = tuple(draw(st.lists(names, min_size=1, max_size=2, unique=True)))
    return FaultSpace(steps, subs, services, steps[:1], magnitudes, hosts)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.name)
@settings(max_examples=100, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_every_kind_drawn_from_its_spec_round_trips_through_text(
    kind: FaultKind[Any, Any], data: st.DataObject
) -> None:
    space = data.draw(spaces())
    where = data.draw(st.sampled_from(tuple(kind.targets(space))))
    fault = kind.aim(where, data.draw(kind.recipe(space)), Aim(space, NO_SITES, counted=False))
    assert kind_of(fault) is kind and isinstance(fault, kind.fault)
    plan = FaultPlan([fault, fault])
    assert FaultPlan.parse(str(plan)) == plan
    # Delays, latencies, timeouts and late ticks last one of the space's magnitudes.
    drawn = [getattr(fault, field, 0.0) for field in ("seconds", "late")]
    assert all(s == 0 or s in space.magnitudes for s in drawn), fault


def test_the_plan_strategy_draws_every_kind_and_mode() -> None:
    seen: set[tuple[str, str]] = set()

    @settings(max_examples=2000, database=None, derandomize=True, phases=[Phase.generate])
    @given(faults(REFERENCE))
    def draw(fault: Fault) -> None:
        seen.add(variant(fault))

    draw()
    assert seen == EVERY_VARIANT


def test_the_fuzzers_recipes_draw_every_kind_and_mode() -> None:
    # Aimed at each kind's pair in turn, so what is checked is each kind's part of the recipe,
    # not how often a derandomized run happens to pick one pair among fifty.
    seen: set[tuple[str, str]] = set()

    def drawing(pair: tuple[str, str]) -> Any:
        @settings(max_examples=300, database=None, derandomize=True, phases=[Phase.generate])
        @given(recipes(REFERENCE))
        def draw(recipe: Any) -> None:
            aimed = replace(recipe, aim=True)
            seen.add(variant(fault_from_recipe(REFERENCE, aimed, [pair])))

        return draw

    for kind in KINDS:
        drawing(next(p for p in REFERENCE.pairs if p[1] == kind.name))()
    assert seen == EVERY_VARIANT


EACH_KIND = (
    "crash step=Worker run=1; state op=3; duplicate topic=job.created step=Audit nth=2; "
    "delay topic=job.created step=Worker nth=1 seconds=1; "
    "service name=ledger call=1 mode=latency seconds=1; cron step=Tick tick=2 twice=true; "
    "net host=hooks.test call=1 mode=status status=503"
)
HOOK = {
    "hook_step.py": """
        import httpx

        hooks = httpx.AsyncClient(base_url="https://hooks.test")
        config = {"type": "event", "name": "Hook", "subscribes": ["job.done"], "emits": []}

        async def handler(input, context):
            await hooks.post("/done", json=input)
    """,
}


def hooks(request: Any) -> Any:
    import httpx

    return httpx.Response(204)


def test_the_minimizer_moves_each_kind_along_its_own_index(tmp_path: Path) -> None:
    async def two_jobs(h: Any) -> None:
        await h.emit("job.created", {"id": "j1"})
        await h.emit("job.created", {"id": "j2"})
        await h.advance(700)
        await h.settle()

    steps = write(tmp_path / "steps", {**JOBS, **HOOK})
    run = Simulation(steps, faults=EACH_KIND, http={"hooks.test": hooks}).execute(two_jobs)
    assert {f.kind for f in run.fired} == {kind.name for kind in KINDS}
    moved: dict[str, set[str]] = {}
    for fault in _single_faults(run):
        moved.setdefault(fault.kind, set()).add(str(fault))
    state_lines = sum(1 for e in run.trace.entries if e.kind == "state")
    calls = sum(1 for c in run.world.calls if c.service == "ledger")
    assert calls == 2  # Worker's run 1 crashed before its call; runs 2 and 3 called
    assert moved == {
        "crash": {f"crash step=Worker run={n} after=start" for n in (1, 2, 3)},
        "state": {f"state op={n}" for n in range(1, state_lines + len(run.fired) + 1)},
        "duplicate": {f"duplicate topic=job.created step=Audit nth={n}" for n in (1, 2, 3)},
        "delay": {f"delay topic=job.created step=Worker nth={n} seconds=1" for n in (1, 2, 3)},
        "service": {f"service name=ledger call={n} mode=latency seconds=1" for n in (1, 2)},
        "cron": {f"cron step=Tick tick={n} twice=true" for n in (1, 2, 3)},
        "net": {f"net host=hooks.test call={n} mode=status status=503" for n in (1, 2)},
    }


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("crash step=Nobody", "no step named 'Nobody'"),
        ("cron step=Nobody twice=true", "no step named 'Nobody'"),
        ("delay topic=no.such step=Worker seconds=1", "'Worker' does not subscribe"),
        ("duplicate topic=no.such step=Worker", "'Worker' does not subscribe"),
        ("service name=nothing mode=latency seconds=1", "no service named 'nothing'"),
        ("net host=nowhere.test mode=lost", "no fake for host 'nowhere.test'"),
    ],
)
def test_each_kind_names_what_the_app_lacks(tmp_path: Path, fault: str, problem: str) -> None:
    async def nothing(h: Any) -> None:
        await h.settle()

    with pytest.raises(FaultPlanSyntaxError, match=problem):
        Simulation(write(tmp_path / "steps", JOBS), faults=fault, cron=False).run(nothing)
