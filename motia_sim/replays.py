"""How a failure is replayed: the scenario, steps, invariants and services of the failing run, by
reference, and the command and pasteable test made from them.

``fuzz`` builds its ``ReplayRecipe`` before the first example, so a scenario, an invariant or a
service binding that a replay could not find again is refused up front, never after an hour of
fuzzing with a replay command that would run something else and report "no invariant broke".
"""

from __future__ import annotations

import hashlib
import re
import shlex
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .faults import FaultPlan
from .invariants import Invariant, World, always
from .references import NotReplayable, load_object, reference_to

if TYPE_CHECKING:
    from .scenario import Scenario

__all__ = ["NotReplayable", "ReplayRecipe", "load_invariants", "load_services"]

_DECLARE_INVARIANTS = (
    "Declare invariants on the scenario (@scenario(invariants=[...])) or pass functions defined "
    "at the top level of a file."
)
_DECLARE_SERVICES = (
    "Declare services on the scenario (@scenario(services=...)), or pass a factory function "
    "defined at the top level of a file (def fakes(): return {...}) or a mapping bound to a "
    "top-level name in the scenario's file."
)
_DECLARE_SCENARIO = (
    "Define the scenario at the top level of a file (with @scenario or as a plain async def), "
    "not inside a function, so `motia-sim replay FILE::NAME` can import it."
)


@dataclass(frozen=True)
class ReplayRecipe:
    """What a replay needs besides the seed and the plan, as text a fresh process can load."""

    scenario: str
    """``file::name`` of the scenario."""
    steps: str | None = None
    """The steps folder, when it is not the scenario's own."""
    invariants: tuple[str, ...] | None = None
    """References of the invariants given to ``fuzz`` in place of the scenario's (``always:``
    marks an always-invariant given as a plain function); ``None``: the scenario's own."""
    services: str | None = None
    """Reference of the service bindings given to ``fuzz``; ``None``: the scenario's own."""

    @classmethod
    def of(
        cls,
        scenario: Scenario,
        *,
        original: object = None,
        steps: str | None = None,
        invariants: Iterable[Invariant | Callable[[World], Any] | str] | None = None,
        services: Callable[[], Mapping[str, Any]] | Mapping[str, Any] | str | None = None,
    ) -> ReplayRecipe:
        """The recipe for ``scenario`` (``original``: the object the caller gave, which its file
        binds to a name), refusing with ``NotReplayable`` what a replay could not find again."""
        given = original if original is not None else scenario
        if isinstance(given, str):
            ref = given
        else:
            try:
                ref = reference_to(given, "the scenario", _DECLARE_SCENARIO)
            except NotReplayable:
                ref = reference_to(scenario.fn, "the scenario", _DECLARE_SCENARIO)
        near = scenario.fn
        refs = None
        if invariants is not None:
            refs = tuple(_invariant_ref(i, near) for i in invariants)
        service_ref = services if isinstance(services, str) or services is None else None
        if services is not None and service_ref is None:
            what = "the services given to fuzz()"
            service_ref = reference_to(services, what, _DECLARE_SERVICES, near=near)
        return cls(ref, steps, refs, service_ref)

    def command(self, seed: int, plan: FaultPlan) -> str:
        parts = ["motia-sim replay", shlex.quote(self.scenario), f"--seed {seed}",
                 f"--plan {shlex.quote(str(plan))}"]  # fmt: skip
        if self.steps is not None:
            parts.append(f"--steps {shlex.quote(self.steps)}")
        parts.extend(f"--invariant {shlex.quote(ref)}" for ref in self.invariants or ())
        if self.invariants == ():
            parts.append("--no-invariants")
        if self.services is not None:
            parts.append(f"--services {shlex.quote(self.services)}")
        return " ".join(parts)

    def test(self, seed: int, plan: FaultPlan) -> str:
        """A pytest test replaying the run; its name is unique to the scenario, seed and plan."""
        args = [repr(self.scenario), f"seed={seed}", f"plan={str(plan)!r}"]
        if self.steps is not None:
            args.append(f"steps={self.steps!r}")
        if self.invariants is not None:
            args.append(f"invariants={list(self.invariants)!r}")
        if self.services is not None:
            args.append(f"services={self.services!r}")
        return (
            f"def {self.test_name(seed, plan)}() -> None:\n"
            f"    from motia_sim import replay\n\n"
            f"    replay({', '.join(args)})"
        )

    def test_name(self, seed: int, plan: FaultPlan) -> str:
        """``test_<scenario>_<fault kinds and where>_<hash>``: readable, and unique per failure."""
        name = self.scenario.rpartition("::")[2]
        where = "_".join(
            f"{fault.kind}_{getattr(fault, 'step', None) or getattr(fault, 'service', '')}"
            for fault in plan
        )
        digest = hashlib.sha256(f"{self}|{seed}|{plan}".encode()).hexdigest()[:8]
        words = [name, re.sub(r"\W+", "_", where).strip("_").lower() or "no_faults", digest]
        return "test_" + "_".join(w for w in words if w)


def _invariant_ref(item: Invariant | Callable[[World], Any] | str, near: object) -> str:
    if isinstance(item, str):
        return item
    try:
        return reference_to(item, "the invariant", _DECLARE_INVARIANTS, near=near)
    except NotReplayable:
        if not isinstance(item, Invariant):
            raise
    ref = reference_to(item.check, "the invariant", _DECLARE_INVARIANTS, near=near)
    return f"always:{ref}" if item.when == "always" else ref


def load_invariants(refs: Iterable[str]) -> list[Invariant | Callable[[World], Any]]:
    """Invariants from references (``file::name``, or ``always:file::name``)."""
    loaded: list[Invariant | Callable[[World], Any]] = []
    for ref in refs:
        if ref.startswith("always:"):
            loaded.append(always(load_object(ref.removeprefix("always:"))))
        else:
            loaded.append(load_object(ref))
    return loaded


def load_services(ref: str) -> Callable[[], Mapping[str, Any]] | Mapping[str, Any]:
    """Service bindings from a reference: a factory function or a mapping."""
    bindings = load_object(ref)
    if not (callable(bindings) or isinstance(bindings, Mapping)):
        raise LookupError(f"{ref} is a {type(bindings).__name__}, not a mapping of services or "
                          "a function returning one")  # fmt: skip
    return bindings  # type: ignore[no-any-return]
