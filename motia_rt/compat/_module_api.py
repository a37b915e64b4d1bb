"""Motia 1.0's module-level ``logger``, ``enqueue``, ``stateManager`` and ``Stream``: synchronous
calls that act for the step handler running now (see ``_runner.call_blocking``)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, Generic, TypeVar

from ..ports import JSON
from ._runner import CURRENT, call_blocking

__all__ = ["Logger", "StateManager", "Stream", "enqueue", "logger", "stateManager"]

T = TypeVar("T")

_log = logging.getLogger("motia.step")


class Logger:
    """``logger.info("message", {fields})``: the running step's logger (with its trace id), or
    plain ``motia.step`` logging outside a handler."""

    def _log(self, level: str, message: str, fields: Mapping[str, Any] | None) -> None:
        ctx = CURRENT.get()
        if ctx is not None:
            getattr(ctx.logger, level)(message, fields if isinstance(fields, Mapping) else
                                       ({"data": fields} if fields is not None else None))  # fmt: skip
        else:
            _log.log(logging.getLevelName(level.upper()), "%s %r", message, fields or {})

    def debug(self, message: str, fields: Any = None) -> None:
        self._log("debug", message, fields)

    def info(self, message: str, fields: Any = None) -> None:
        self._log("info", message, fields)

    def warn(self, message: str, fields: Any = None) -> None:
        self._log("warning", message, fields)

    warning = warn

    def error(self, message: str, fields: Any = None) -> None:
        self._log("error", message, fields)


logger = Logger()


def enqueue(event: Mapping[str, Any]) -> None:
    """Emit ``{"topic", "data", "messageGroupId"?}`` from the running step (it must list the
    topic in ``enqueues``)."""
    call_blocking("enqueue", lambda ctx: ctx.engine.emit(event))


class StateManager:
    """``stateManager.get/set/delete/list/clear(scope, ...)`` on the app's state store."""

    def get(self, scope: str, key: str) -> JSON | None:
        return call_blocking("stateManager.get", lambda ctx: ctx.state.get(scope, key))

    def set(self, scope: str, key: str, value: Any) -> JSON:
        return call_blocking("stateManager.set", lambda ctx: ctx.state.set(scope, key, value))

    def delete(self, scope: str, key: str) -> JSON | None:
        return call_blocking("stateManager.delete", lambda ctx: ctx.state.delete(scope, key))

    def list(self, scope: str) -> list[JSON]:
        items: list[JSON] = call_blocking(
            "stateManager.list", lambda ctx: ctx.state.get_group(scope)
        )
        return items

    def clear(self, scope: str) -> None:
        call_blocking("stateManager.clear", lambda ctx: ctx.state.clear(scope))


stateManager = StateManager()

_STREAM_PREFIX = "stream:"


class Stream(Generic[T]):
    """``Stream("todo").set(group_id, item_id, data)``: named groups of items, kept in the state
    store under the group ``stream:<name>:<group_id>``. Clients cannot subscribe yet and
    ``stream`` triggers do not fire (docs/motia-compat.md)."""

    def __init__(self, config: str | Mapping[str, Any] | Any) -> None:
        name: Any
        if isinstance(config, str):
            name = config
        elif isinstance(config, Mapping):
            name = config.get("name")
        else:
            name = getattr(config, "name", None)
        if not isinstance(name, str) or not name:
            raise TypeError(f"Stream needs a name (Stream('todo')), got {config!r}")
        self.stream_name = name

    def __class_getitem__(cls, item: Any) -> type[Stream[Any]]:
        return cls

    def _group(self, group_id: str) -> str:
        return f"{_STREAM_PREFIX}{self.stream_name}:{group_id}"

    def get(self, group_id: str, item_id: str) -> Any:
        group = self._group(group_id)
        return call_blocking("Stream.get", lambda ctx: ctx.state.get(group, item_id))

    def set(self, group_id: str, item_id: str, data: Any) -> Any:
        group = self._group(group_id)
        return call_blocking("Stream.set", lambda ctx: ctx.state.set(group, item_id, data))

    def delete(self, group_id: str, item_id: str) -> None:
        group = self._group(group_id)
        call_blocking("Stream.delete", lambda ctx: ctx.state.delete(group, item_id))

    def get_group(self, group_id: str) -> list[Any]:
        group = self._group(group_id)
        items: list[Any] = call_blocking("Stream.get_group", lambda ctx: ctx.state.get_group(group))
        return items

    def list(self, group_id: str) -> list[Any]:
        return self.get_group(group_id)
