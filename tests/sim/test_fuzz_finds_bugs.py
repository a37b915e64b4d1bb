"""The fuzzer finds a real bug: a ProcessPayment without an idempotency key double-charges under
redelivery, and the failure shrinks to a single fault that replays exactly."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from motia_sim import FaultPlan, InvariantViolation, fuzz, replay
from motia_sim.scenario import Scenario, load_scenarios

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def naive_steps(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The reference app with ProcessPayment swapped for the naive one."""
    steps = tmp_path_factory.mktemp("naive") / "steps"
    shutil.copytree(ROOT / "steps", steps, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(Path(__file__).parent / "naive" / "process_payment_step.py",
                steps / "payments" / "process_payment_step.py")  # fmt: skip
    return steps


def happy_path() -> Scenario:
    [found] = [
        s for s in load_scenarios(ROOT / "scenarios" / "orders.py") if s.name == "happy_path"
    ]
    return found


def test_fuzzer_finds_the_double_charge_and_shrinks_it_to_one_fault(naive_steps: Path) -> None:
    with pytest.raises(InvariantViolation) as caught:
        fuzz(happy_path(), steps=naive_steps, max_examples=300, report=None, derandomize=True)
    failure = caught.value
    assert failure.invariant == "no_order_charged_twice"
    plan = FaultPlan.parse(failure.plan)
    assert len(plan) == 1, f"not shrunk to one fault: {plan}"
    [fault] = plan
    # Any single fault that makes ProcessPayment run twice for one message is a minimal cause.
    assert "ProcessPayment" in str(fault) or fault.kind in ("duplicate", "state", "service"), fault
    message = str(failure)
    for part in ("fault plan:", "seed:", "timeline", "motia-sim replay",
                 "def test_happy_path_", "charged 2 times"):  # fmt: skip
        assert part in message, part

    # The replay reproduces it exactly, and the correct app survives the same plan and seed.
    with pytest.raises(InvariantViolation) as again:
        replay(happy_path(), seed=failure.seed, plan=plan, steps=naive_steps)
    assert str(again.value) == message
    run = replay(happy_path(), seed=failure.seed, plan=plan)
    assert run.fired == list(plan)


def test_reference_app_survives_the_same_fuzzing() -> None:
    report = fuzz(happy_path(), max_examples=200, report=None, derandomize=True)
    assert report.examples >= 200
    assert {kind for _, kind in report.explored} >= {
        "crash",
        "duplicate",
        "delay",
        "service",
        "state",
    }
