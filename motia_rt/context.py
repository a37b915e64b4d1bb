"""What a handler receives as ``context``: emit, state, logger, trace id and services."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from typing import Any, Literal, TypeAlias

from pydantic import BaseModel

from .errors import UnknownService
from .ports import JSON, Message, StateStore
from .schema import to_json
from .steps import Trigger

__all__ = [
    "INLINE_SYNC",
    "FlowContext",
    "LogWatcher",
    "ServiceRegistry",
    "StateAccess",
    "StepLogger",
    "SyncHandlers",
    "watch_logs",
]

SyncHandlers: TypeAlias = Literal["thread", "inline"]
"""Where a synchronous handler runs: a worker thread (runtime) or inline on the loop (simulator)."""

INLINE_SYNC: ContextVar[bool] = ContextVar("motia_inline_sync", default=False)
"""True while synchronous handler code runs inline on the loop: nothing else can run until it
returns, so a port offering other tasks a turn (the simulator's seeded interleavings) gives none."""

EmitFn = Callable[[str, str, Any, str, "str | None"], Awaitable[Message]]


class ServiceRegistry:
    """Named services with attribute and item access; unknown names raise ``UnknownService``."""

    def __init__(self, bindings: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_bindings", dict(bindings))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> Any:
        bindings: dict[str, Any] = object.__getattribute__(self, "_bindings")
        try:
            return bindings[name]
        except KeyError:
            raise UnknownService(name, list(bindings)) from None

    def __contains__(self, name: object) -> bool:
        return name in object.__getattribute__(self, "_bindings")

    def names(self) -> list[str]:
        return sorted(object.__getattribute__(self, "_bindings"))

    def items(self) -> list[tuple[str, Any]]:
        return sorted(object.__getattribute__(self, "_bindings").items())


StateWatcher = Callable[[str, str, "JSON | None", "JSON | None"], None]
"""``watch(group, key, old, new)``: told of every change a handler makes through ``context.state``
(``new`` is None for a delete)."""


class StateAccess:
    """``context.state``: the store, with pydantic models turned into JSON on the way in, and an
    optional ``watch`` told of every change (state triggers)."""

    __slots__ = ("_store", "watch")

    def __init__(self, store: StateStore) -> None:
        self._store = store
        self.watch: StateWatcher | None = None

    async def get(self, group: str, key: str) -> JSON | None:
        return await self._store.get(group, key)

    async def set(self, group: str, key: str, value: Any) -> JSON:
        watch = self.watch
        # The old value is read only when someone watches: apps without state triggers pay nothing.
        old = await self._store.get(group, key) if watch is not None else None
        if isinstance(value, BaseModel):
            value = value.model_dump(mode="json")
        try:
            stored = await self._store.set(group, key, value)
        except TypeError:
            # Models nested in plain containers (rare): convert them all and try once more.
            converted = to_json(value)
            if converted == value:
                raise
            stored = await self._store.set(group, key, converted)
        if watch is not None:
            watch(group, key, old, stored)
        return stored

    async def delete(self, group: str, key: str) -> JSON | None:
        old = await self._store.delete(group, key)
        if self.watch is not None and old is not None:
            self.watch(group, key, old, None)
        return old

    async def get_group(self, group: str) -> list[JSON]:
        return await self._store.get_group(group)

    async def clear(self, group: str) -> None:
        await self._store.clear(group)


_LOGGERS: dict[str, logging.Logger] = {}

LogWatcher = Callable[[str, str, str, str, "dict[str, Any]"], None]
"""``watch(step, trace_id, level, message, fields)``: told of every ``context.logger`` call, at
every level (``"debug"``, ``"info"``, ``"warn"``, ``"error"``), whatever stdlib logging is set to."""

_LOG_WATCHERS: list[LogWatcher] = []
# Not a logging.Handler: a handler sees only the levels logging lets through (WARNING by default),
# and a test asserts on what the step logged, not on how this process configures logging.


def watch_logs(watcher: LogWatcher) -> Callable[[], None]:
    """Tell ``watcher`` of every step log call from now on; returns the function that stops it.
    The harness filters by ``CURRENT_RUN``: several engines in one process share the watchers."""
    _LOG_WATCHERS.append(watcher)

    def stop() -> None:  # once or more: the second time finds nothing to do
        if watcher in _LOG_WATCHERS:
            _LOG_WATCHERS.remove(watcher)

    return stop


_LEVEL_NAMES = {logging.DEBUG: "debug", logging.INFO: "info", logging.WARNING: "warn",
                logging.ERROR: "error"}  # fmt: skip


class StepLogger:
    """Motia's ``context.logger.info("message", {fields})``, on stdlib logging, with the trace id."""

    __slots__ = ("_extra", "_log")

    def __init__(self, step: str, trace_id: str) -> None:
        log = _LOGGERS.get(step)
        if log is None:
            log = _LOGGERS[step] = logging.getLogger(f"motia.step.{step}")
        self._log = log
        self._extra = {"step": step, "trace_id": trace_id}

    def _emit(self, level: int, message: str, fields: Mapping[str, Any] | None) -> None:
        if _LOG_WATCHERS:
            name = _LEVEL_NAMES[level]
            for watch in list(_LOG_WATCHERS):
                watch(self._extra["step"], self._extra["trace_id"], name, message,
                      dict(fields or {}))  # fmt: skip
        if self._log.isEnabledFor(level):
            suffix = f" {dict(fields)!r}" if fields else ""
            extra = {**self._extra, "fields": dict(fields or {})}
            self._log.log(level, "[%s] %s%s", self._extra["trace_id"][:8], message, suffix,
                          extra=extra)  # fmt: skip

    def debug(self, message: str, fields: Mapping[str, Any] | None = None) -> None:
        self._emit(logging.DEBUG, message, fields)

    def info(self, message: str, fields: Mapping[str, Any] | None = None) -> None:
        self._emit(logging.INFO, message, fields)

    def warn(self, message: str, fields: Mapping[str, Any] | None = None) -> None:
        self._emit(logging.WARNING, message, fields)

    warning = warn

    def error(self, message: str, fields: Mapping[str, Any] | None = None) -> None:
        self._emit(logging.ERROR, message, fields)


class FlowContext:
    """The ``context`` argument of every handler."""

    __slots__ = ("_emit", "_logger", "services", "state", "step", "sync_handlers", "trace_id",
                 "trigger")  # fmt: skip

    def __init__(
        self,
        step: str,
        trace_id: str,
        emit: EmitFn,
        state: StateAccess,
        services: ServiceRegistry,
        trigger: Trigger | None = None,
        sync_handlers: SyncHandlers = "thread",
    ) -> None:
        self.step = step
        self.trace_id = trace_id
        self.state = state
        self.services = services
        self.trigger = trigger
        self.sync_handlers: SyncHandlers = sync_handlers
        self._logger: StepLogger | None = None
        self._emit = emit

    @property
    def logger(self) -> StepLogger:
        # Made on first use: most handler runs never log.
        if self._logger is None:
            self._logger = StepLogger(self.step, self.trace_id)
        return self._logger

    async def emit(
        self,
        event: Mapping[str, Any] | str,
        data: Any = None,
        *,
        message_group_id: str | None = None,
    ) -> Message:
        """Emit ``{"topic", "data", "messageGroupId"?}`` (Motia's form) or ``emit(topic, data)``.

        Raises ``EmitNotDeclared`` when the step's config does not list the topic in ``emits``,
        and ``TypeError`` when the data is not JSON (pydantic models are converted).
        """
        if type(event) is dict or isinstance(event, Mapping):  # dict first: an ABC check is slow
            topic = event.get("topic")
            data = event.get("data")
            message_group_id = event.get("messageGroupId", message_group_id)
        else:
            topic = event
        if not isinstance(topic, str):
            raise TypeError(f"emit needs a topic string, got {topic!r}")
        return await self._emit(self.step, topic, data, self.trace_id, message_group_id)
