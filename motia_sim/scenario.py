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

import inspect
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeAlias, overload

from motia_rt.network import HttpFakes

from .invariants import Invariant, World, as_invariants
from .references import load_module

if TYPE_CHECKING:
    from .replays import ReplayRecipe

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
    http: HttpFakes | None = None
    """Fakes for the steps' outbound HTTP, by host (see ``Simulation(http=...)``)."""
    max_faults: int = 3
    modes: tuple[Mode, ...] = ("sim", "runtime", "fuzz")
    cron: bool = True
    extra: dict[str, Any] = field(default_factory=dict)
    recipe: ReplayRecipe | None = None
    """How a failure of this scenario is replayed, when it was given something in place of what
    it declares (``fuzz(..., invariants=...)``); ``None``: by its own reference."""

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


@overload
def scenario(fn: ScenarioFn, /) -> Scenario: ...


@overload
def scenario(
    fn: None = None,
    /,
    *,
    invariants: Iterable[Invariant | Callable[[World], Any]] = (),
    steps: str | Path | None = None,
    services: Callable[[], Mapping[str, Any]] | Mapping[str, Any] | None = None,
    http: HttpFakes | None = None,
    max_faults: int = 3,
    modes: Iterable[Mode] = ("sim", "runtime", "fuzz"),
    cron: bool = True,
) -> Callable[[ScenarioFn], Scenario]: ...


def scenario(
    fn: ScenarioFn | None = None,
    /,
    *,
    invariants: Iterable[Invariant | Callable[[World], Any]] = (),
    steps: str | Path | None = None,
    services: Callable[[], Mapping[str, Any]] | Mapping[str, Any] | None = None,
    http: HttpFakes | None = None,
    max_faults: int = 3,
    modes: Iterable[Mode] = ("sim", "runtime", "fuzz"),
    cron: bool = True,
) -> Scenario | Callable[[ScenarioFn], Scenario]:
    """Declare a scenario (usable bare, ``@scenario``, or with options, ``@scenario(...)``).

    ``http`` routes the steps' outbound httpx requests by host to fakes, in the simulator and on
    the runtime alike. ``modes`` picks the pytest items: ``sim`` (seed 0, no faults), ``runtime`` (the real in-process
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
            http=http,
            max_faults=max_faults,
            modes=tuple(modes),
            cron=cron,
        )

    return wrap(fn) if fn is not None else wrap


def load_scenarios(path: str | Path) -> list[Scenario]:
    """Import a scenario file (once per process) and return its scenarios in definition order.

    Raises ``LookupError`` when the file does not exist."""
    module = load_module(path)
    return [v for v in vars(module).values() if isinstance(v, Scenario)]


def resolve(ref: str) -> Scenario:
    """``"scenarios/orders.py::happy_path"`` -> that scenario: one declared with ``@scenario``, or
    a plain ``async def`` of the harness. Raises ``LookupError`` listing the scenarios there."""
    path, _, name = ref.partition("::")
    found = load_scenarios(path)
    candidate = getattr(load_module(path), name, None)
    if isinstance(candidate, Scenario):
        return candidate
    if inspect.iscoroutinefunction(candidate):
        return scenario(candidate)
    for s in found:
        if s.name == name:
            return s
    names = ", ".join(s.name for s in found) or "none"
    raise LookupError(f"no scenario {name!r} in {path}; scenarios there: {names}")
