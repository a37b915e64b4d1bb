"""pytest plugin (entry point ``motia_sim``): collects ``scenarios/*.py``, each scenario as three items.

scenarios/orders.py::happy_path[sim]       seed 0, no faults, invariants checked
scenarios/orders.py::happy_path[runtime]   the real in-process runtime, real time
scenarios/orders.py::happy_path[fuzz]      Hypothesis fault plans (--motia-examples, default 25)
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from motia_rt.harness import Harness
from motia_rt.state.memory import MemoryStateStore
from motia_rt.testing import Runtime
from motia_rt.transport.memory import MemoryTransport

from .fuzzing import _failed, failure_message, fuzz, run_scenario
from .invariants import InvariantViolation, World
from .scenario import Mode, Scenario, load_scenarios

__all__ = ["ScenarioFile", "ScenarioItem", "run_on_runtime"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("motia-sim")
    group.addoption("--motia-examples", type=int, default=None,
                    help="fuzzed examples per scenario (default: ini motia_examples, 25)")  # fmt: skip
    parser.addini("motia_examples", "fuzzed examples per scenario", default="25")
    parser.addini("motia_scenarios", "folder of scenario files", default="scenarios")


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    config = parent.config
    folder = Path(str(config.rootpath)) / str(config.getini("motia_scenarios"))
    if file_path.suffix == ".py" and not file_path.name.startswith(("_", "test_", "conftest")):
        if folder in file_path.parents:
            return ScenarioFile.from_parent(parent, path=file_path)
    return None


class ScenarioFile(pytest.File):
    def collect(self) -> Iterator[pytest.Item]:
        for s in load_scenarios(self.path):
            for mode in s.modes:
                yield ScenarioItem.from_parent(
                    self, name=f"{s.name}[{mode}]", scenario=s, mode=mode
                )


class ScenarioItem(pytest.Item):
    def __init__(self, *, scenario: Scenario, mode: Mode, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.mode = mode

    def runtest(self) -> None:
        s = self.scenario
        if self.mode == "sim":
            run = run_scenario(s)
            if _failed(run):
                name, text = failure_message(s, run)
                raise InvariantViolation(text, invariant=name, seed=0, plan="")
        elif self.mode == "runtime":
            run_on_runtime(s)
        else:
            option = self.config.getoption("--motia-examples")
            examples = (
                option if option is not None else int(str(self.config.getini("motia_examples")))
            )
            fuzz(s, max_examples=examples, report=print)

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException], style: Any = None) -> Any:
        if isinstance(excinfo.value, InvariantViolation):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, None, f"scenario {self.scenario.name} [{self.mode}]"


def run_on_runtime(s: Scenario) -> None:
    """Run a scenario on the in-process runtime, then check its invariants once settled."""

    async def main(rt: Runtime) -> None:
        await s.fn(rt)
        await rt.settle()
        _check(s, rt)

    services = s.services() if callable(s.services) else s.services
    Runtime(s.steps_dir, services=services, http=s.http).run(main)


def _check(s: Scenario, harness: Harness) -> None:
    engine = harness.engine
    store = engine.state
    transport = engine.transport
    if not isinstance(store, MemoryStateStore) or not isinstance(transport, MemoryTransport):
        raise TypeError("runtime invariants read the in-memory state store and transport")
    world = World(store, engine.events, engine.runs, transport.held_dead_letters,
                  dict(engine.services.items()), [], True)  # fmt: skip
    for invariant in s.invariants:
        try:
            invariant.check(world)
        except AssertionError as exc:
            raise InvariantViolation(
                f"invariant {invariant.name!r} broke on the runtime: {exc}\n  scenario: {s.ref}",
                invariant=invariant.name, seed=0, plan="",
            ) from None  # fmt: skip
