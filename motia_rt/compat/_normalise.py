"""Motia 1.0 step configs (``triggers``, ``enqueues``) normalised into the one ``Step`` model.

A 1.0 step becomes one ``Step`` (its name, ``enqueues`` as ``emits``, every queue topic in
``subscribes``) whose ``views`` are what the engine dispatches: an api view per http trigger, an
event view per queue trigger and a cron view per cron trigger, each carrying its ``Trigger``. The
engine, the HTTP app and the cron scheduler see ordinary steps and never ask the format.
"""

from __future__ import annotations

import dataclasses
import warnings
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from ..config_checker import ConfigChecker
from ..cron_expression import CronExpressionError, croniter_form
from ..errors import StepLoadError
from ..settings import validation_default
from ..steps import Step, Trigger, route_pattern
from ._builders import StepDefinition
from ._runner import accepts, wrap_handler

__all__ = ["StepConfigWarning", "build_v1_step", "is_v1_config", "warn_unknown_keys"]

_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
_V1_KEYS = frozenset({
    "name", "description", "triggers", "enqueues", "virtualEnqueues", "virtual_enqueues",
    "virtualSubscribes", "virtual_subscribes", "flows", "includeFiles", "include_files",
    "infrastructure",
})  # fmt: skip
_TRIGGER_KEYS = {
    "http": {"type", "method", "path", "condition", "middleware", "bodySchema", "body_schema",
             "responseSchema", "response_schema", "queryParams", "query_params"},
    "queue": {"type", "topic", "condition", "input", "config"},
    "cron": {"type", "expression", "condition"},
    "state": {"type", "condition"},
    "stream": {"type", "condition", "streamName", "stream_name", "groupId", "group_id",
               "itemId", "item_id"},
}  # fmt: skip


class StepConfigWarning(UserWarning):
    """A step config holds something the runtime ignores (an unknown key, an inert trigger)."""


def warn_unknown_keys(file: Path, name: str, config: Mapping[str, Any], known: frozenset[str],
                      where: str = "config") -> None:  # fmt: skip
    for key in config:
        if key not in known:
            warnings.warn(
                StepConfigWarning(
                    f"{file}: step {name!r}: unknown {where} key {key!r} is ignored "
                    f"(known: {', '.join(sorted(known))})"
                ),
                stacklevel=2,
            )


def is_v1_config(config: object) -> bool:
    return isinstance(config, StepDefinition) or (
        isinstance(config, Mapping) and "triggers" in config and "type" not in config
    )


def _definition(file: Path, module: Any) -> tuple[Mapping[str, Any], Callable[..., Any]]:
    config, handler = getattr(module, "config", None), getattr(module, "handler", None)
    if isinstance(config, StepDefinition):
        return config.config, config.handler
    if isinstance(handler, StepDefinition):
        return handler.config, handler.handler
    if handler is None:
        found = [v for v in vars(module).values() if isinstance(v, StepDefinition)]
        if len(found) == 1:
            return found[0].config, found[0].handler
    assert isinstance(config, Mapping)
    if not callable(handler):
        raise StepLoadError(file, "handler", "the module has no handler",
                            "define `def handler(input, ctx):` (or async def), or build the step "
                            "with step(config, handler)")  # fmt: skip
    return config, handler


def build_v1_step(file: Path, module: Any, base: Callable[..., dict[str, Any]]) -> Step:
    """The ``Step`` of a 1.0 step file. ``base(file, config)`` reads the fields classic and 1.0
    configs share (name, flows, infrastructure) as ``Step`` keyword arguments."""
    config, handler = _definition(file, module)
    if not (accepts(handler, 2) or accepts(handler, 1)):
        raise StepLoadError(file, "handler", "cannot be called with the trigger's input",
                            "define `def handler(input, ctx):` (async or not)")  # fmt: skip
    check = ConfigChecker(file, config)
    common = base(file, {k: v for k, v in config.items() if k != "triggers"})
    name = common["name"]
    warn_unknown_keys(file, name, config, _V1_KEYS)
    raw = config.get("triggers")
    if not isinstance(raw, list | tuple) or not raw:
        raise check.fail("triggers", f"must be a non-empty list, got {raw!r}",
                         "list triggers, e.g. [http('POST', '/orders'), queue('order.created')]")  # fmt: skip
    emits = check.topics("enqueues")
    common.update(emits=emits, virtual_emits=check.topics("virtualEnqueues") +
                  check.topics("virtual_enqueues"))  # fmt: skip
    # A project set to Motia's behaviour ([tool.motia] validation = "motia"): nothing validated,
    # an undeclared enqueue dropped with a warning.
    motia = validation_default(file) == "motia"
    if motia:
        common["undeclared_emits"] = "drop"
    views: list[Step] = []
    middleware: dict[int, tuple[Callable[..., Any], ...]] = {}
    seen_topics: set[str | None] = set()
    for index, spec in enumerate(raw):
        tc = ConfigChecker(file, spec if isinstance(spec, Mapping) else {}, f"triggers[{index}].")
        kind = tc.choice("type", ("http", "api", "queue", "cron", "state", "stream"))
        kind = "http" if kind == "api" else kind
        warn_unknown_keys(file, name, spec, frozenset(_TRIGGER_KEYS[kind]), f"triggers[{index}]")
        condition = spec.get("condition")
        if condition is not None and not callable(condition):
            raise tc.fail("condition", "is not callable", "pass `lambda input, ctx: ...`")
        if kind == "stream":
            warnings.warn(StepConfigWarning(
                f"{file}: step {name!r}: triggers[{index}] is a {kind} trigger, which this "
                "runtime does not fire yet; any other trigger of the step still works"), stacklevel=2)  # fmt: skip
            continue
        fields: dict[str, Any]
        if kind == "http":
            trigger, fields, mw = _http(file, tc, spec, index, condition)
            middleware[index] = mw
        elif kind == "state":
            trigger, fields = Trigger("state", index, condition=condition), {"kind": "state"}
        elif kind == "queue":
            trigger, fields = _queue(file, tc, spec, index, condition)
            if trigger.topic in seen_topics:
                raise tc.fail("topic", f"{trigger.topic!r} is already a queue trigger of this step",
                              "merge the two triggers (one condition can test both cases)")  # fmt: skip
            seen_topics.add(trigger.topic)
        else:
            expr = tc.text("expression")
            try:
                croniter_form(expr)  # as classic steps: six fields are seconds first (Motia)
            except CronExpressionError as exc:
                raise tc.fail("expression", f"not a valid cron expression ({exc})",
                              "use five fields, e.g. '*/5 * * * *', or six with seconds "
                              "first, e.g. '*/10 * * * * *'") from None  # fmt: skip
            trigger = Trigger("cron", index, expression=expr, condition=condition)
            fields = {"kind": "cron", "cron": expr}
        views.append(Step(**{**common, **fields}, trigger=trigger, handler=None, config=config,
                          file=file))  # fmt: skip
    if not views:
        # Only stream triggers (warned about above): the step loads and never runs, so the rest
        # of the app still starts.
        return Step(**common, kind="noop", handler=None, config=config, file=file)
    run = wrap_handler(handler, middleware)
    views = [dataclasses.replace(v, handler=run) for v in views]
    if motia:
        views = [dataclasses.replace(v, body=None, responses={}, input=None) for v in views]
    topics = tuple(dict.fromkeys(t for v in views for t in v.subscribes))
    first = views[0]
    # The step itself shows as its first trigger's kind (graphs, listings); a state trigger
    # reacts to changes as a subscriber reacts to messages.
    kind = "event" if first.kind == "state" else first.kind
    return dataclasses.replace(first, kind=kind, subscribes=topics, trigger=None,
                               views=tuple(views))  # fmt: skip


def _http(file: Path, tc: ConfigChecker, spec: Mapping[str, Any], index: int,
          condition: Any) -> tuple[Trigger, dict[str, Any], tuple[Callable[..., Any], ...]]:  # fmt: skip
    method = tc.text("method").upper()
    if method not in _METHODS:
        raise tc.fail("method", f"{method!r} is not an HTTP method", f"use one of {_METHODS}")
    path = tc.text("path")
    if not path.startswith("/"):
        raise tc.fail("path", f"{path!r} does not start with '/'", f"write it as '/{path}'")
    params = route_pattern(path)[1]
    if len(set(params)) != len(params):
        raise tc.fail("path", f"a parameter appears twice in {path!r}", "rename one")
    body = spec.get("bodySchema", spec.get("body_schema"))
    responses = spec.get("responseSchema", spec.get("response_schema")) or {}
    mw = spec.get("middleware") or []
    if not isinstance(mw, list | tuple) or not all(callable(m) for m in mw):
        raise tc.fail("middleware", "must be a list of functions",
                      "use `def mw(req, ctx, next): return next()` (async or not)")  # fmt: skip
    fields = {
        "kind": "api", "path": path, "method": method,
        "body": tc.schema_of("bodySchema", body, strict=True) if body is not None else None,
        "responses": {int(c): tc.schema_of(f"responseSchema.{c}", s) for c, s in responses.items()},
    }  # fmt: skip
    trigger = Trigger("http", index, path=path, method=method, condition=condition)
    return trigger, fields, tuple(mw)


def _queue(file: Path, tc: ConfigChecker, spec: Mapping[str, Any], index: int,
           condition: Any) -> tuple[Trigger, dict[str, Any]]:  # fmt: skip
    topic = tc.text("topic")
    settings = spec.get("config") or {}
    if not isinstance(settings, Mapping):
        settings = getattr(settings, "model_dump", lambda **_: {})(by_alias=True)
    qc = ConfigChecker(file, settings, f"triggers[{index}].config.")
    fields = {
        "kind": "event", "subscribes": (topic,),
        "input": tc.schema("input"),
        "max_retries": qc.integer("maxRetries", 3),
        "fifo": qc.choice("type", ("standard", "fifo"), "standard") == "fifo",
        "delay_seconds": qc.number("delaySeconds", 0.0),
        "visibility_timeout": qc.number("visibilityTimeout", 30.0, positive=True),
    }  # fmt: skip
    return Trigger("queue", index, topic=topic, condition=condition), fields
