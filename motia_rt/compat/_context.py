"""What a Motia 1.0 handler is handed: its ``ctx`` (``FlowContext``), ``ApiRequest`` and the
``ApiResponse`` it may return, with the trigger that fired as ``ctx.trigger``."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .. import http as _http
from ..context import FlowContext as EngineContext
from ..context import StateAccess, StepLogger
from ..ports import Message
from ..steps import Trigger

__all__ = [
    "ApiRequest",
    "ApiResponse",
    "FlowContext",
    "StateTriggerInput",
    "StreamEvent",
    "StreamTriggerInput",
    "TriggerInfo",
]

T = TypeVar("T")

TriggerInfo = Trigger
"""``ctx.trigger``: ``type`` (``http``, ``queue``, ``cron``, ``state``, ``stream``), ``index`` in
the step's ``triggers``, and ``path``/``method``, ``topic`` or ``expression`` for its kind."""


class ApiRequest(_http.ApiRequest):
    """Motia 1.0's ``ApiRequest``: the runtime's request, built by keyword with defaults, and
    subscriptable in annotations (``ApiRequest[Body]``)."""

    __slots__ = ()

    def __init__(
        self,
        body: Any = None,
        path_params: dict[str, str] | None = None,
        query_params: dict[str, str | list[str]] | None = None,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        path: str = "/",
        trace_id: str = "",
    ) -> None:
        super().__init__(body, path_params or {}, query_params or {}, headers or {}, method, path,
                         trace_id)  # fmt: skip

    def __class_getitem__(cls, item: Any) -> type[ApiRequest]:
        return cls

    @classmethod
    def of(cls, req: _http.ApiRequest) -> ApiRequest:
        if isinstance(req, cls):
            return req
        return cls(req.body, req.path_params, req.query_params, req.headers, req.method,
                   req.path, req.trace_id)  # fmt: skip


class ApiResponse(BaseModel, Generic[T]):
    """What an http handler may return instead of ``{"status", "body", "headers"}``."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    status: int
    body: Any = None
    headers: dict[str, str] = Field(default_factory=dict)


class StateTriggerInput(BaseModel):
    """The input of a state trigger (declared for type hints; state triggers do not fire yet)."""

    model_config = ConfigDict(populate_by_name=True)

    type: str = "state"
    group_id: str = Field(alias="groupId")
    item_id: str = Field(alias="itemId")
    old_value: Any = Field(default=None, alias="oldValue")
    new_value: Any = Field(default=None, alias="newValue")


class StreamEvent(BaseModel):
    type: str
    data: Any


class StreamTriggerInput(BaseModel):
    """The input of a stream trigger (declared for type hints; stream triggers do not fire yet)."""

    model_config = ConfigDict(populate_by_name=True)

    type: str = "stream"
    timestamp: int
    stream_name: str = Field(alias="streamName")
    group_id: str = Field(alias="groupId")
    id: str
    event: StreamEvent


# ``ctx.match`` keys per trigger type, in the order Motia looks them up; and whether the
# matched handler takes the input (a cron handler takes nothing).
_MATCH_KEYS: dict[str, tuple[tuple[str, ...], bool]] = {
    "queue": (("queue",), True),
    "http": (("http", "api"), True),
    "cron": (("cron",), False),
    "state": (("state",), True),
    "stream": (("stream",), True),
}


class FlowContext(Generic[T]):
    """The ``ctx`` of a Motia 1.0 handler: ``trace_id``, ``trigger``, ``input_value``,
    ``match({...})`` and ``is_api()``-style checks; plus the runtime's ``logger``, ``state``,
    ``services`` and an async ``enqueue``/``emit``, for handlers written against ``ctx``."""

    __slots__ = ("_engine", "input_value", "loop", "run_sync", "trigger")

    def __init__(
        self,
        engine: EngineContext,
        trigger: Trigger,
        input_value: Any,
        run_sync: Callable[..., Any],
    ) -> None:
        self._engine = engine
        self.trigger = trigger
        self.input_value = input_value
        self.run_sync = run_sync
        self.loop = asyncio.get_running_loop()

    def __class_getitem__(cls, item: Any) -> type[FlowContext[Any]]:
        return cls

    @property
    def trace_id(self) -> str:
        return self._engine.trace_id

    @property
    def step(self) -> str:
        return self._engine.step

    @property
    def engine(self) -> EngineContext:
        """The runtime's context: what module-level ``enqueue`` and ``stateManager`` act through."""
        return self._engine

    @property
    def logger(self) -> StepLogger:
        return self._engine.logger

    @property
    def state(self) -> StateAccess:
        return self._engine.state

    @property
    def services(self) -> Any:
        return self._engine.services

    async def enqueue(self, event: Mapping[str, Any]) -> Message:
        """``await ctx.enqueue({"topic", "data", "messageGroupId"?})``: an emit to a topic the
        step lists in ``enqueues``."""
        return await self._engine.emit(event)

    async def emit(self, event: Mapping[str, Any] | str, data: Any = None) -> Message:
        return await self._engine.emit(event, data)

    def is_queue(self) -> bool:
        return self.trigger.type == "queue"

    def is_api(self) -> bool:
        return self.trigger.type == "http"

    def is_cron(self) -> bool:
        return self.trigger.type == "cron"

    def is_state(self) -> bool:
        return self.trigger.type == "state"

    def is_stream(self) -> bool:
        return self.trigger.type == "stream"

    def get_data(self) -> Any:
        """The payload whatever the trigger: a request's body, a message's data, None for cron."""
        if self.is_cron():
            return None
        if isinstance(self.input_value, _http.ApiRequest):
            return self.input_value.body
        return self.input_value

    async def match(self, handlers: Mapping[str, Callable[..., Any]]) -> Any:
        """Run the handler for the trigger that fired: ``{"http"|"api", "queue", "cron",
        "state", "stream", "default"}``; a cron handler takes no argument, the others the input.
        Synchronous handlers run as the step's own handler does (a worker thread in the
        runtime, inline in the simulator). ``RuntimeError`` if none matches."""
        keys, takes_input = _MATCH_KEYS[self.trigger.type]
        chosen = next((handlers[k] for k in keys if handlers.get(k)), None)
        if chosen is not None:
            args = (self.input_value,) if takes_input else ()
            return await self.run_sync(chosen, *args)
        default = handlers.get("default")
        if default:
            return await self.run_sync(default, self.input_value)
        available = ", ".join(k for k in handlers if k != "default") or "none"
        raise RuntimeError(
            f"step {self.step!r}: ctx.match has no handler for a {self.trigger.type} trigger "
            f"(handlers: {available}); add a {keys[0]!r} or 'default' entry"
        )
