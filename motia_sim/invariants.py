"""Invariants: plain functions over a ``World`` that raise ``AssertionError`` when broken.

``@always`` ones are checked after every handler run, ``@eventually`` ones (the default for an
undecorated function) once the run is quiescent.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Protocol

from motia_rt.ports import JSON, DeadLetter, Message
from motia_rt.tracing import HandlerRun

if TYPE_CHECKING:
    from .ports import ServiceCall

__all__ = [
    "Invariant",
    "InvariantViolation",
    "StateSnapshot",
    "World",
    "always",
    "as_invariants",
    "eventually",
]


class StateSnapshot(Protocol):
    """What ``World`` reads of a state store: every group and key, read synchronously (the
    in-memory store and the simulator's provide it)."""

    def snapshot(self) -> dict[str, dict[str, JSON]]: ...


class InvariantViolation(AssertionError):
    """An invariant broke in a simulated run. The message holds the minimal fault plan, the seed,
    the timeline of the failing run, and a command and a pytest test that replay it exactly."""

    def __init__(self, message: str, *, invariant: str, seed: int, plan: str) -> None:
        super().__init__(message)
        self.invariant = invariant
        self.seed = seed
        self.plan = plan


@dataclass(frozen=True, slots=True)
class Invariant:
    check: Callable[[World], Any]
    when: Literal["always", "eventually"]

    @property
    def name(self) -> str:
        return getattr(self.check, "__name__", repr(self.check))


def always(check: Callable[[World], Any]) -> Invariant:
    """Mark ``check`` to run after every handler run."""
    return Invariant(check, "always")


def eventually(check: Callable[[World], Any]) -> Invariant:
    """Mark ``check`` to run once the run is quiescent (no delivery pending)."""
    return Invariant(check, "eventually")


def as_invariants(items: Iterable[Invariant | Callable[[World], Any]]) -> tuple[Invariant, ...]:
    return tuple(i if isinstance(i, Invariant) else eventually(i) for i in items)


class World:
    """What an invariant sees: state, emitted events, handler runs, dead letters, services and the
    calls made to them. Cheap to build; state is read only when asked for."""

    def __init__(
        self,
        store: StateSnapshot,
        events: Iterable[Message],
        runs: Iterable[HandlerRun],
        dead: Callable[[], list[DeadLetter]],
        services: dict[str, Any],
        calls: list[ServiceCall],
        quiescent: bool,
        http: dict[str, Any] | None = None,
    ) -> None:
        self._store = store
        self._events = events
        self._runs = runs
        self._dead = dead
        self.services = services
        """The service objects themselves (not the simulator's wrappers): read their records."""
        self.calls = calls
        self.quiescent = quiescent
        self.http = http or {}
        """The run's HTTP fakes by host (``Simulation(http=...)``): read their records."""

    @property
    def state(self) -> dict[str, dict[str, JSON]]:
        """``{group: {key: value}}``, sorted."""
        return self._store.snapshot()

    def group(self, name: str) -> dict[str, JSON]:
        return self.state.get(name, {})

    @property
    def events(self) -> list[Message]:
        return list(self._events)

    def emitted(self, topic: str | None = None) -> list[Message]:
        return [m for m in self._events if topic is None or m.topic == topic]

    @property
    def runs(self) -> list[HandlerRun]:
        return list(self._runs)

    @property
    def dead_letters(self) -> list[DeadLetter]:
        return self._dead()
