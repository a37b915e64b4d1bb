"""pytest plugin (entry point ``motia_sim``): collects ``scenarios/*.py``, each scenario as three items.

scenarios/orders.py::happy_path[sim]       seed 0, no faults, invariants checked
scenarios/orders.py::happy_path[runtime]   the real in-process runtime, real time
scenarios/orders.py::happy_path[fuzz]      Hypothesis fault plans (--motia-examples, default 25)

The number of fuzzed examples: ``--motia-examples``, else the ini ``motia_examples``, else
``examples`` in ``[tool.motia.fuzz]`` of the project's pyproject.toml, else 25. The scenario
folder: the ini ``motia_scenarios``, else ``scenarios`` in ``[tool.motia]``, else ``scenarios/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from motia_rt.harness import Harness
from motia_rt.settings import project_settings
from motia_rt.state.memory import MemoryStateStore
from motia_rt.testing import Runtime
from motia_rt.transport.memory import MemoryTransport

from .fuzzing import _failed, failure_message, fuzz, run_scenario
from .invariants import InvariantViolation, World
from .scenario import Mode, Scenario, load_scenarios

__all__ = ["ScenarioFile", "ScenarioItem", "fuzz_examples", "run_on_runtime", "scenario_folder"]


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("motia-sim")
    group.addoption("--motia-examples", type=int, default=None,
                    help="fuzzed examples per scenario (default: ini motia_examples, "
                    "[tool.motia.fuzz] examples, else 25)")  # fmt: skip
    parser.addini("motia_examples", "fuzzed examples per scenario", default="")
    parser.addini("motia_scenarios", "folder of scenario files", default="")


def fuzz_examples(config: pytest.Config) -> int:
    """Fuzzed examples per scenario: the option, the ini, ``[tool.motia.fuzz]``, then 25."""
    option = config.getoption("--motia-examples")
    if option is not None:
        return int(option)
    ini = str(config.getini("motia_examples"))
    if ini:
        return int(ini)
    return project_settings(Path(str(config.rootpath))).fuzz_examples or 25


def scenario_folder(config: pytest.Config) -> Path:
    root = Path(str(config.rootpath))
    ini = str(config.getini("motia_scenarios"))
    return root / ini if ini else project_settings(root).scenarios or root / "scenarios"


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    folder = scenario_folder(parent.config)
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
            fuzz(s, max_examples=fuzz_examples(self.config), report=print)

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
