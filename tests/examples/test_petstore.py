"""The pet store example (examples/petstore): a step posting to an HTTP API through a client made
at import time runs unchanged in the simulator and on the runtime, with the API faked by host."""

from __future__ import annotations

from pathlib import Path

from motia_sim import fuzz
from motia_sim.fuzzing import run_scenario
from motia_sim.pytest_plugin import run_on_runtime
from motia_sim.scenario import resolve

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "petstore"
REF = f"{EXAMPLE / 'scenarios' / 'petstore.py'}::order_a_pet"


def test_the_order_reaches_the_fake_store_in_the_simulator() -> None:
    run = run_scenario(resolve(REF))
    assert run.error is None and run.violation is None
    orders = run.world.http["petstore.example.test"].state.orders
    assert [(o["id"], o["petId"], o["status"]) for o in orders] == [(1, 7, "placed")]
    assert [e.text.split(" ", 1)[1] for e in run.trace.entries if e.kind == "net"] == [
        "POST https://petstore.example.test/store/order -> 200"
    ]


def test_the_same_scenario_runs_on_the_runtime() -> None:
    run_on_runtime(resolve(REF))  # raises on a failed assertion or invariant


def test_fuzzing_finds_nothing_in_the_idempotent_example() -> None:
    report = fuzz(resolve(REF), max_examples=40, report=None, derandomize=True)
    assert {kind for _, kind in report.explored} >= {"crash", "duplicate"}
