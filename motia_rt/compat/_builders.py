"""Motia 1.0's trigger constructors (``http``, ``queue``, ``cron``, ``state``, ``stream``) and step
builders (``step(config, handler)``, ``step(config).handle(h)``, ``multi_trigger_step``).

Triggers are plain dicts, the same ones a step may write by hand in ``config["triggers"]``; the
loader reads both alike.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

__all__ = [
    "MultiTriggerStepBuilder",
    "StepBuilder",
    "StepDefinition",
    "api",
    "cron",
    "http",
    "multi_trigger_step",
    "queue",
    "state",
    "step",
    "stream",
]


def _trigger(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, **{k: v for k, v in fields.items() if v is not None}}


def http(
    method: str,
    path: str,
    *,
    body_schema: Any = None,
    response_schema: Mapping[int, Any] | None = None,
    query_params: list[Any] | None = None,
    middleware: list[Callable[..., Any]] | None = None,
    condition: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """An http trigger: ``method`` on ``path`` (``/orders/:id``)."""
    return _trigger("http", method=method, path=path, bodySchema=body_schema,
                    responseSchema=response_schema, queryParams=query_params,
                    middleware=middleware, condition=condition)  # fmt: skip


def api(method: str, path: str, **options: Any) -> dict[str, Any]:
    """Deprecated in Motia 1.0 in favour of ``http``; the same trigger."""
    warnings.warn("api() is deprecated, use http() instead", DeprecationWarning, stacklevel=2)
    return http(method, path, **options)


def queue(
    topic: str,
    *,
    input: Any = None,
    config: Mapping[str, Any] | None = None,
    condition: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """A queue trigger: every message on ``topic`` (``config``: Motia's queue settings)."""
    return _trigger("queue", topic=topic, input=input, config=config, condition=condition)


def cron(expression: str, *, condition: Callable[..., Any] | None = None) -> dict[str, Any]:
    """A cron trigger on ``expression`` (UTC)."""
    return _trigger("cron", expression=expression, condition=condition)


def state(*, condition: Callable[..., Any] | None = None) -> dict[str, Any]:
    """A state trigger (loads with a warning: state triggers do not fire yet)."""
    return _trigger("state", condition=condition)


def stream(
    stream_name: str,
    *,
    group_id: str | None = None,
    item_id: str | None = None,
    condition: Callable[..., Any] | None = None,
) -> dict[str, Any]:
    """A stream trigger (loads with a warning: stream triggers do not fire yet)."""
    return _trigger("stream", streamName=stream_name, groupId=group_id, itemId=item_id,
                    condition=condition)  # fmt: skip


@dataclass
class StepDefinition:
    """A config with its handler: assign it to a module-level name, or to ``config``/``handler``."""

    config: Mapping[str, Any]
    handler: Callable[..., Any]


class StepBuilder:
    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config

    def handle(self, handler: Callable[..., Any]) -> StepDefinition:
        return StepDefinition(self.config, handler)


def step(
    config: Mapping[str, Any], handler: Callable[..., Any] | None = None
) -> StepDefinition | StepBuilder:
    """``step(config, handler)`` or ``step(config).handle(handler)``."""
    return StepDefinition(config, handler) if handler is not None else StepBuilder(config)


_KINDS = ("queue", "http", "cron", "state", "stream")


class MultiTriggerStepBuilder:
    """Handlers by trigger type: ``multi_trigger_step(config).on_http(h).on_queue(q).handlers()``
    or ``.handlers({"http": h, "queue": q})``. A cron handler takes ``(ctx)``, the others
    ``(input, ctx)``."""

    def __init__(self, config: Mapping[str, Any]) -> None:
        self.config = config
        self._handlers: dict[str, Callable[..., Any]] = {}

    def _on(self, kind: str, handler: Callable[..., Any]) -> MultiTriggerStepBuilder:
        self._handlers[kind] = handler
        return self

    def on_queue(self, handler: Callable[..., Any]) -> MultiTriggerStepBuilder:
        return self._on("queue", handler)

    def on_http(self, handler: Callable[..., Any]) -> MultiTriggerStepBuilder:
        return self._on("http", handler)

    def on_cron(self, handler: Callable[..., Any]) -> MultiTriggerStepBuilder:
        return self._on("cron", handler)

    def on_state(self, handler: Callable[..., Any]) -> MultiTriggerStepBuilder:
        return self._on("state", handler)

    def on_stream(self, handler: Callable[..., Any]) -> MultiTriggerStepBuilder:
        return self._on("stream", handler)

    def handlers(self, handlers: Mapping[str, Callable[..., Any]] | None = None) -> StepDefinition:
        chosen = {**self._handlers, **(handlers or {})}
        unknown = sorted(set(chosen) - set(_KINDS))
        if unknown:
            raise ValueError(f"unknown trigger type(s) {unknown}; use {', '.join(_KINDS)}")

        async def dispatch(input: Any, ctx: Any) -> Any:
            kind = ctx.trigger.type
            if kind not in chosen:
                raise RuntimeError(f"step has no handler for a {kind} trigger; "
                                   f"handlers: {', '.join(chosen) or 'none'}")  # fmt: skip
            fn = chosen[kind]
            args = (ctx,) if kind == "cron" else (input, ctx)
            return await ctx.run_sync(fn, *args)

        return StepDefinition(self.config, dispatch)


def multi_trigger_step(config: Mapping[str, Any]) -> MultiTriggerStepBuilder:
    return MultiTriggerStepBuilder(config)
