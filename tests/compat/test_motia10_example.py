"""The Motia 1.0 example (examples/motia10) runs unchanged in the simulator and on the runtime."""

from __future__ import annotations

from pathlib import Path

from motia_sim.fuzzing import run_scenario
from motia_sim.pytest_plugin import run_on_runtime
from motia_sim.scenario import resolve

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "motia10"
REF = f"{EXAMPLE / 'scenarios' / 'library.py'}::borrow_review_remind"


def test_the_example_runs_in_the_simulator() -> None:
    run = run_scenario(resolve(REF))
    assert run.error is None and run.violation is None, run.error or run.violation


def test_the_example_runs_in_the_simulator_the_same_way_for_the_same_seed() -> None:
    first, second = run_scenario(resolve(REF)), run_scenario(resolve(REF))
    assert first.trace.digest() == second.trace.digest()


def test_the_example_runs_on_the_runtime() -> None:
    run_on_runtime(resolve(REF))  # raises on a failed assertion or invariant


def test_fuzzing_the_example_explores_faults_in_the_1_0_steps() -> None:
    from motia_sim import fuzz

    ref = f"{EXAMPLE / 'scenarios' / 'library.py'}::borrow_under_faults"
    report = fuzz(resolve(ref), max_examples=30, report=None, derandomize=True)
    assert {kind for _, kind in report.explored} >= {"crash", "duplicate"}
