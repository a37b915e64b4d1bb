"""What a fault kind is made of. Each kind lives in one module of this package: its dataclass and
text form, the part of a fuzz recipe it draws, how that part is aimed at the sites a fault-free run
counted, the names it must find in the app, and where the minimizer moves it. ``faults``,
``strategies``, ``injector`` and ``fuzzing`` iterate over ``KINDS`` instead of naming kinds."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Generic, Protocol, TypeVar

from hypothesis import strategies as st

if TYPE_CHECKING:
    from ..injector import FaultSites
    from ..simulation import SimRun
    from ..strategies import FaultSpace

__all__ = [
    "RACE_TRIES",
    "Aim",
    "AppNames",
    "FaultKind",
    "FaultPlanSyntaxError",
    "magnitude_indexes",
    "seconds_text",
    "within",
]


RACE_TRIES = 3
"""Seeds the sweep tries a racing fault on: a race one seed in four exposes is missed by three
tries one time in 64."""


class FaultPlanSyntaxError(ValueError):
    """A fault plan's text could not be parsed; the message shows the expected forms."""


class _Fault(Protocol):
    kind: ClassVar[str]


F = TypeVar("F", bound=_Fault)
R = TypeVar("R")


def seconds_text(value: float) -> str:
    """``30`` for 30.0, ``0.5`` for 0.5: the text form's numbers."""
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def within(n: int, count: int, unknown: int) -> int:
    """``n`` (1-based) folded into ``1..count``, or into ``1..unknown`` where nothing was counted."""
    return 1 + (n - 1) % (count or unknown)


@dataclass(frozen=True)
class AppNames:
    """The names a plan may use. A fault naming anything else could never fire, and a replay of it
    would silently pass: ``check_plan`` rejects it with the problem each kind reports."""

    steps: frozenset[str]
    subscriptions: frozenset[tuple[str, str]]
    """(topic, step) pairs."""
    services: frozenset[str]
    hosts: frozenset[str] = frozenset()
    """Hosts with a fake on the virtual network."""

    def step(self, step: str) -> str | None:
        if step in self.steps:
            return None
        return f"no step named {step!r}; steps: {', '.join(sorted(self.steps))}"

    def subscription(self, topic: str, step: str) -> str | None:
        if (topic, step) in self.subscriptions:
            return None
        pairs = ", ".join(f"{t}->{s}" for t, s in sorted(self.subscriptions))
        return f"{step!r} does not subscribe to {topic!r}; subscriptions: {pairs}"

    def host(self, host: str) -> str | None:
        if host in self.hosts:
            return None
        known = ", ".join(sorted(self.hosts)) or "none (give fakes with http=...)"
        return f"no fake for host {host!r} on the virtual network; hosts: {known}"

    def service(self, name: str) -> str | None:
        if name in self.services:
            return None
        return f"no service named {name!r}; services: {', '.join(sorted(self.services))}"


@dataclass(frozen=True)
class Aim:
    """Where a recipe part's indexes are folded: into ``seen``, the sites a fault-free run counted
    (``counted``), or blind into small ranges (``fault_plans``, which has no run to count)."""

    space: FaultSpace
    seen: FaultSites
    counted: bool

    def index(self, n: int, count: int, blind: int) -> int:
        """``n`` folded into ``1..count``. Where nothing was counted: into ``1..blind`` when drawing
        blind, else 1. A point the counted run never reached may be reached once another fault
        changes the run (a compensation step, a retry): the first of its kind is the likeliest."""
        return within(n, count, 1 if self.counted else blind)

    def count(self, counted: int) -> range:
        """1..counted, or just 1 where nothing was counted."""
        return range(1, max(counted, 1) + 1)

    def longest_first(self) -> list[float]:
        """The space's magnitudes, longest first: the longest wait reorders the most."""
        return sorted(self.space.magnitudes, reverse=True)

    def seconds(self, i: int) -> float:
        """The ``i``-th magnitude of the space (they are sorted: 0 is the smallest)."""
        magnitudes = self.space.magnitudes
        return magnitudes[i % len(magnitudes)]


def magnitude_indexes(space: FaultSpace) -> st.SearchStrategy[int]:
    """An index into the space's magnitudes (for ``Aim.seconds``), shrinking to the smallest."""
    return st.integers(0, max(0, len(space.magnitudes) - 1))


class FaultKind(ABC, Generic[F, R]):
    """One kind of fault. Subclasses set ``fault``, ``form`` and ``part`` and implement the
    abstract methods; ``read`` and ``moves`` have defaults."""

    fault: type[F]
    """The dataclass; its ``kind`` is the text form's first word and the coverage column."""
    form: str
    """The accepted text form, listed by parse errors."""
    keys: Mapping[str, str] = {}
    """Text keys that differ from the dataclass field they set (``name`` -> ``service``)."""
    part: Callable[..., R]
    """Its part of a fuzz recipe: a dataclass of the integers ``draws`` draws, in order."""

    @property
    def name(self) -> str:
        return self.fault.kind

    def read(self, key: str, raw: str) -> dict[str, Any] | None:
        """Fields set by a text pair that is not a plain ``field=value`` (``after=service#2``), or
        None for a plain one. Raises ``ValueError`` saying what is wrong with ``raw``."""
        return None

    @abstractmethod
    def targets(self, space: FaultSpace) -> Iterable[str]:
        """The steps or services of ``space`` this kind can hit: its rows in the coverage table."""

    @abstractmethod
    def draws(self, space: FaultSpace) -> tuple[st.SearchStrategy[int], ...]:
        """One strategy per field of ``part``, each shrinking toward the simplest fault. The fuzzer
        draws every kind's integers in one flat tuple: nested strategies cost more per draw."""

    def recipe(self, space: FaultSpace) -> st.SearchStrategy[R]:
        """Its part of a recipe, drawn on its own (as ``fault_plans`` does)."""
        return st.builds(self.part, *self.draws(space))

    @abstractmethod
    def aim(self, where: str, part: R, aim: Aim) -> F:
        """The fault at ``where`` (one of ``targets``) that ``part`` describes, its indexes folded
        by ``aim``."""

    @abstractmethod
    def problem(self, fault: F, app: AppNames) -> str | None:
        """What ``fault`` names that the app does not have, or None."""

    @abstractmethod
    def sweep(self, where: str, aim: Aim) -> Iterable[F]:
        """Every single fault of this kind at ``where`` that lands on a site the counted run
        reached (the first of its kind where it reached none), most telling first: what fuzz tries
        one by one before drawing plans (``motia_sim.sweep``)."""

    def tries(self, fault: F) -> int:
        """On how many seeds the sweep runs ``fault``: more than one for a fault that makes two
        runs of one step race, which only some interleavings expose."""
        return 1

    def moves(self, fault: F, run: SimRun) -> Iterable[F]:
        """``fault`` moved to each index ``run`` reached for its kind: what the minimizer tries
        alone when two faults only break things together because one shifts the other."""
        return (fault,)
