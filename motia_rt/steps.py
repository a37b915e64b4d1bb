"""The loaded form of a step file, and the registry of all steps of an app."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, TypeAlias

from .ports import Subscription
from .schema import Schema

__all__ = [
    "Step",
    "StepKind",
    "StepRegistry",
    "Trigger",
    "TriggerKind",
    "route_key",
    "route_pattern",
]

StepKind: TypeAlias = Literal["api", "event", "cron", "noop", "state"]
TriggerKind: TypeAlias = Literal["http", "queue", "cron", "state", "stream"]

_PARAM = re.compile(r":([A-Za-z_][A-Za-z0-9_]*)|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def route_pattern(path: str) -> tuple[str, tuple[str, ...]]:
    """Motia path (``/orders/:orderId``, also ``{orderId}``) -> Starlette path and parameter names."""
    names: list[str] = []

    def repl(m: re.Match[str]) -> str:
        names.append(m.group(1) or m.group(2))
        return "{" + names[-1] + "}"

    return _PARAM.sub(repl, path), tuple(names)


def route_key(path: str) -> str:
    """What two paths share when they match the same URLs (``/a/:x`` and ``/a/{y}``)."""
    pattern, names = route_pattern(path.rstrip("/") or "/")
    for name in names:
        pattern = pattern.replace("{" + name + "}", "{}")
    return pattern


@dataclass(frozen=True, slots=True)
class Trigger:
    """One way a step starts (Motia 1.0's ``triggers`` entries): what ``ctx.trigger`` describes.

    ``index`` is the position in the step's ``triggers`` list; ``condition(input, ctx)`` decides
    whether a firing runs the handler (a false condition skips it).
    """

    type: TriggerKind
    index: int
    path: str | None = None
    method: str | None = None
    topic: str | None = None
    expression: str | None = None
    condition: Callable[..., Any] | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True, eq=False)
class Step:
    """A validated step: what the engine, HTTP app, cron scheduler and tools need from a step file."""

    name: str
    kind: StepKind
    file: Path
    config: Mapping[str, Any]
    handler: Callable[..., Awaitable[Any]] | None
    emits: tuple[str, ...] = ()
    subscribes: tuple[str, ...] = ()
    virtual_emits: tuple[str, ...] = ()
    virtual_subscribes: tuple[str, ...] = ()
    flows: tuple[str, ...] = ()
    input: Schema | None = None
    body: Schema | None = None
    responses: Mapping[int, Schema] = field(default_factory=dict)
    path: str | None = None
    method: str | None = None
    middleware: tuple[Callable[..., Awaitable[Any]], ...] = ()
    cron: str | None = None
    timeout: float = 30.0
    max_retries: int = 3
    fifo: bool = False
    delay_seconds: float = 0.0
    visibility_timeout: float = 30.0
    # A step with several triggers (Motia 1.0) dispatches through one view per trigger: a Step of
    # the classic kind for that trigger, with ``trigger`` set. A classic step has no views.
    trigger: Trigger | None = None
    views: tuple[Step, ...] = ()
    undeclared_emits: Literal["error", "drop"] = "error"
    """An emit to a topic not in ``emits``: ``EmitNotDeclared`` (the default), or logged and
    dropped (``"validation": "motia"``, Motia's own behaviour, for a project migrating in)."""

    def dispatch_views(self) -> tuple[Step, ...]:
        """What the engine, HTTP app and cron scheduler dispatch to: the views, or the step."""
        return self.views or (self,)

    def subscriptions(self) -> list[Subscription]:
        return [
            Subscription(
                step=self.name,
                topic=topic,
                fifo=self.fifo,
                delay_seconds=self.delay_seconds,
                visibility_timeout=self.visibility_timeout,
            )
            for topic in self.subscribes
        ]


class StepRegistry:
    """Every step of an app by name, with indexes by topic and by route."""

    def __init__(self, steps: list[Step], root: Path, services_factory: Any = None) -> None:
        self.root = root
        self.services_factory: Callable[[], dict[str, Any]] | None = services_factory
        self._by_name = {s.name: s for s in steps}
        self._by_topic: dict[str, list[Step]] = {}
        self._deliveries: dict[tuple[str, str], Step] = {}
        self._crons: dict[str, Step] = {}
        for step in steps:
            for topic in step.subscribes:
                self._by_topic.setdefault(topic, []).append(step)
            for view in step.views:
                for topic in view.subscribes if view.kind == "event" else ():
                    self._deliveries[(step.name, topic)] = view
                if view.kind == "cron":
                    self._crons.setdefault(step.name, view)

    def __iter__(self) -> Iterator[Step]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __getitem__(self, name: str) -> Step:
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(sorted(self._by_name)) or "none"
            raise KeyError(f"no step named {name!r}; steps: {known}") from None

    def of_kind(self, kind: StepKind) -> list[Step]:
        """Every dispatch target of ``kind``: classic steps, and one view per trigger of a
        multi-trigger step (each named as its step)."""
        return [v for s in self for v in s.dispatch_views() if v.kind == kind]

    def delivery_target(self, step: str, topic: str) -> Step:
        """The step, or its queue trigger's view, that a delivery on ``topic`` runs."""
        return self._deliveries.get((step, topic)) or self[step]

    def cron_target(self, step: str) -> Step:
        """The step, or its first cron trigger's view, that ``trigger_cron(step)`` runs."""
        return self._crons.get(step) or self[step]

    def subscribers(self, topic: str) -> list[Step]:
        return list(self._by_topic.get(topic, ()))

    def subscriptions(self) -> list[Subscription]:
        return [sub for step in self for v in step.dispatch_views() for sub in v.subscriptions()]

    def topics(self) -> list[str]:
        """Every topic emitted or subscribed to (virtual ones included), sorted."""
        found: set[str] = set()
        for s in self:
            found.update(s.emits, s.subscribes, s.virtual_emits, s.virtual_subscribes)
        return sorted(found)

    def default_services(self) -> dict[str, Any]:
        return dict(self.services_factory()) if self.services_factory else {}
