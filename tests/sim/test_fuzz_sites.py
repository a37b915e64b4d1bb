"""fuzz() aims its faults: one run counts where faults can land (``FaultSites``), drawn indexes
are folded into those counts, and steps that cannot run in the scenario are left out."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from motia_rt.loader import load_steps
from motia_sim import FaultPlan
from motia_sim._kinds.state import StateRecipe
from motia_sim.faults import Crash, CronFault, Delay, Duplicate, Fault, ServiceFault, StateFault
from motia_sim.fuzzing import _INERT, run_scenario
from motia_sim.injector import FaultSites
from motia_sim.scenario import Scenario, load_scenarios
from motia_sim.strategies import FaultSpace, Recipe, fault_from_recipe, recipes

ROOT = Path(__file__).resolve().parents[2]
REGISTRY = load_steps(ROOT / "steps")


def _scenario(file: str, name: str) -> Scenario:
    [found] = [s for s in load_scenarios(ROOT / "scenarios" / file) if s.name == name]
    return found


def _profile(s: Scenario) -> tuple[FaultSpace, FaultSites]:
    """What fuzz() does before its examples: count the sites, narrow the space."""
    sites = run_scenario(s, plan=_INERT, registry=REGISTRY, count_sites=True).sites
    assert sites is not None
    space = FaultSpace.of(REGISTRY, tuple(sorted(REGISTRY.default_services()))).narrowed(
        REGISTRY, sites
    )
    return space, sites


HAPPY = _scenario("orders.py", "happy_path")
OPS = _scenario("ops.py", "health_check_over_one_day")
PROFILES = {"happy_path": _profile(HAPPY), "ops": _profile(OPS)}


def _counted(fault: Fault, sites: FaultSites) -> bool:
    """Whether the fault names a site the counted run reached (else it was folded blind)."""
    if isinstance(fault, Crash):
        return (fault.step, fault.run) in sites.effects
    if isinstance(fault, Duplicate | Delay):
        return bool(sites.messages.get((fault.topic, fault.step)))
    if isinstance(fault, ServiceFault):
        return bool(sites.calls.get(fault.service))
    if isinstance(fault, CronFault):
        return bool(sites.ticks.get(fault.step))
    return True  # state operations are always counted


def test_the_counted_run_sees_every_kind_of_site() -> None:
    _, sites = PROFILES["happy_path"]
    assert sites.runs["CreateOrder"] == 1 and sites.runs["Fulfillment"] == 2
    assert sites.effects[("CreateOrder", 1)] == {"service": 1, "emit": 1, "state": 1}
    assert sites.messages[("order.priced", "ProcessPayment")] == 1
    assert sites.calls["payments"] == 1 and sites.state_ops > 10
    _, ops = PROFILES["ops"]
    assert ops.ticks["ApiHealthCheck"] == 288


def test_the_space_keeps_only_what_can_run_in_the_scenario() -> None:
    space, _ = PROFILES["happy_path"]
    # Compensations did not run, but a fault can start them: their topics are declared emits.
    assert {"CompensateFailedPayment", "ReleaseInventory", "RejectOrder"} <= set(space.handlers)
    # No request reaches GetOrder once a plan has faults; the cron step never ticks here.
    assert "GetOrder" not in space.handlers and "ApiHealthCheck" not in space.handlers
    assert space.cron_steps == ()
    assert space.services == tuple(sorted(REGISTRY.default_services()))
    ops, ops_sites = PROFILES["ops"]
    assert ops.handlers == ("ApiHealthCheck",) and ops.cron_steps == ("ApiHealthCheck",)
    assert ops.subscriptions == ()
    # Every step that can run did, so a service none of them called cannot be reached.
    assert ops.services == tuple(sorted(ops_sites.calls)) != space.services


@pytest.mark.parametrize("name", sorted(PROFILES))
@settings(max_examples=200, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_folded_indexes_stay_within_what_was_counted(name: str, data: st.DataObject) -> None:
    space, sites = PROFILES[name]
    fault = fault_from_recipe(space, data.draw(recipes(space)), [], sites)
    if isinstance(fault, Crash):
        assert fault.run <= max(1, sites.runs.get(fault.step, 0))
        made = sites.effects.get((fault.step, fault.run))
        if made is not None and fault.after != "start":
            assert 1 <= fault.k <= made[fault.after]
    elif isinstance(fault, Duplicate | Delay):
        assert fault.nth <= max(1, sites.messages.get((fault.topic, fault.step), 0))
    elif isinstance(fault, ServiceFault):
        assert fault.call <= max(1, sites.calls.get(fault.service, 0))
    elif isinstance(fault, CronFault):
        assert 1 <= fault.tick <= sites.ticks[fault.step]
    else:
        assert isinstance(fault, StateFault) and 1 <= fault.op <= sites.state_ops


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_a_fault_aimed_at_a_counted_site_fires_on_its_own(data: st.DataObject) -> None:
    # Seed 0 schedules the same way whatever the plan until a fault fires, so a lone fault at a
    # site the counted run reached is reached too.
    space, sites = PROFILES["happy_path"]
    fault = fault_from_recipe(space, data.draw(recipes(space)), [], sites)
    if not _counted(fault, sites):
        return
    run = run_scenario(HAPPY, seed=0, plan=FaultPlan([fault]), registry=REGISTRY)
    assert run.fired == [fault], f"{fault} did not fire"


def test_the_counted_run_knows_which_step_made_each_state_operation() -> None:
    _, sites = PROFILES["happy_path"]
    assert len(sites.state_op_steps) == sites.state_ops
    assert sites.state_op_steps[0] == "CreateOrder"  # the first thing the scenario does
    # Every step whose runs wrote state made operations (reads are operations too).
    for (step, _), made in sites.effects.items():
        assert sites.state_op_steps.count(step) >= made.get("state", 0), step


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_a_state_fault_aimed_at_a_step_fails_an_operation_of_that_step(name: str) -> None:
    space, sites = PROFILES[name]
    steps = sorted(set(sites.state_op_steps) - {""})
    assert steps
    for step in steps:
        for op in range(1, 12):
            recipe = Recipe(False, space.pairs.index((step, "state")), {"state": StateRecipe(op)})
            fault = fault_from_recipe(space, recipe, [], sites)
            assert isinstance(fault, StateFault)
            assert sites.state_op_steps[fault.op - 1] == step, (step, fault)
    # And alone it fires there.
    s = HAPPY if name == "happy_path" else OPS
    step = steps[0]
    fault = fault_from_recipe(
        space,
        Recipe(False, space.pairs.index((step, "state")), {"state": StateRecipe(1)}),
        [],
        sites,
    )
    run = run_scenario(s, seed=0, plan=FaultPlan([fault]), registry=REGISTRY)
    assert run.explored == {(step, "state")}
