"""Scenarios: an async function of the harness, with its invariants, written once and run in the
simulator (plain and fuzzed) and on the real in-process runtime.

    @scenario(invariants=[every_order_terminal, never_charged_twice])
    async def happy_path(h):
        order = (await h.post("/orders", json={...})).json()
        await h.settle()
        if h.fault_free:      # expectations that hold only when no fault is injected
            assert (await h.get(f"/orders/{order['orderId']}")).json()["status"] == "shipped"
"""

from __future__ import annotations

import importlib.util
import inspect
import sys
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

from .invariants import Invariant, World, as_invariants

__all__ = ["Mode", "Scenario", "load_scenarios", "resolve", "scenario"]

Mode: TypeAlias = Literal["sim", "runtime", "fuzz"]
ScenarioFn: TypeAlias = Callable[[Any], Awaitable[Any]]


@dataclass(frozen=True)
class Scenario:
    """A scenario and how to run it. ``steps`` defaults to ``../steps`` beside the scenario file."""

    fn: ScenarioFn
    name: str
    file: Path
    invariants: tuple[Invariant, ...] = ()
    steps: Path | None = None
    services: Callable[[], Mapping[str, Any]] | Mapping[str, Any] | None = None
    max_faults: int = 3
    modes: tuple[Mode, ...] = ("sim", "runtime", "fuzz")
    cron: bool = True
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def steps_dir(self) -> Path:
        return self.steps if self.steps is not None else self.file.parent.parent / "steps"

    @property
    def ref(self) -> str:
        """``path::name``, relative to the working directory when possible (for commands)."""
        try:
            path = self.file.resolve().relative_to(Path.cwd())
        except ValueError:
            path = self.file
        return f"{path}::{self.name}"

    async def __call__(self, harness: Any) -> Any:
        return await self.fn(harness)


def scenario(
    fn: ScenarioFn | None = None,
    *,
    invariants: Iterable[Invariant | Callable[[World], Any]] = (),
    steps: str | Path | None = None,
    services: Callable[[], Mapping[str, Any]] | Mapping[str, Any] | None = None,
    max_faults: int = 3,
    modes: Iterable[Mode] = ("sim", "runtime", "fuzz"),
    cron: bool = True,
) -> Any:
    """Declare a scenario (usable bare, ``@scenario``, or with options, ``@scenario(...)``).

    ``modes`` picks the pytest items: ``sim`` (seed 0, no faults), ``runtime`` (the real in-process
    runtime; leave it out for scenarios that travel in time with ``advance``) and ``fuzz``.
    """

    def wrap(f: ScenarioFn) -> Scenario:
        source = inspect.getsourcefile(f)
        file = Path(source) if source else Path.cwd() / "<unknown>"
        base = file.parent
        return Scenario(
            fn=f,
            name=f.__name__,
            file=file,
            invariants=as_invariants(invariants),
            steps=(base / steps).resolve() if steps is not None else None,
            services=services,
            max_faults=max_faults,
            modes=tuple(modes),
            cron=cron,
        )

    return wrap(fn) if fn is not None else wrap


def load_scenarios(path: str | Path) -> list[Scenario]:
    """Import a scenario file and return its scenarios in definition order.

    Raises ``LookupError`` when the file does not exist."""
    file = Path(path).resolve()
    if not file.is_file():
        raise LookupError(f"no scenario file {path}")
    name = "_motia_scenarios_" + "_".join(file.with_suffix("").parts[-2:]).replace("-", "_")
    spec = importlib.util.spec_from_file_location(name, file)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import scenarios from {file}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return [v for v in vars(module).values() if isinstance(v, Scenario)]


def resolve(ref: str) -> Scenario:
    """``"scenarios/orders.py::happy_path"`` -> that scenario. Raises ``LookupError`` listing names."""
    path, _, name = ref.partition("::")
    found = load_scenarios(path)
    for s in found:
        if s.name == name:
            return s
    names = ", ".join(s.name for s in found) or "none"
    raise LookupError(f"no scenario {name!r} in {path}; scenarios there: {names}")
