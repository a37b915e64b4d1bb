"""TypedDicts for step configs, in Motia's Python format (camelCase keys, as Motia writes them)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, Literal, NotRequired, TypeAlias, TypedDict

__all__ = [
    "ApiConfig",
    "CronConfig",
    "EmitSpec",
    "EventConfig",
    "HandlerSettings",
    "Infrastructure",
    "NoopConfig",
    "QueryParam",
    "QueueSettings",
    "Schema",
    "StepConfig",
]

Schema: TypeAlias = Any
"""A pydantic model class or a JSON Schema dict."""


class EmitSpec(TypedDict):
    topic: str
    label: NotRequired[str]
    conditional: NotRequired[bool]


class QueryParam(TypedDict):
    name: str
    description: NotRequired[str]


class HandlerSettings(TypedDict, total=False):
    timeout: float
    """Seconds a handler may run before it counts as failed (default 30)."""


class QueueSettings(TypedDict, total=False):
    type: Literal["standard", "fifo"]
    maxRetries: int
    """Retries after the first attempt before the message is dead-lettered (default 3)."""
    delaySeconds: float
    """Delay before a message is first delivered to this step (default 0)."""
    visibilityTimeout: float


class Infrastructure(TypedDict, total=False):
    handler: HandlerSettings
    queue: QueueSettings


class _Common(TypedDict):
    name: str
    description: NotRequired[str]
    flows: NotRequired[list[str]]
    emits: NotRequired[list[str | EmitSpec]]
    virtualEmits: NotRequired[list[str | EmitSpec]]
    virtualSubscribes: NotRequired[list[str]]


class ApiConfig(_Common):
    type: Literal["api"]
    path: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]
    bodySchema: NotRequired[Schema]
    responseSchema: NotRequired[dict[int, Schema]]
    queryParams: NotRequired[list[QueryParam]]
    middleware: NotRequired[list[Callable[..., Awaitable[Any]]]]
    infrastructure: NotRequired[Infrastructure]


class EventConfig(_Common):
    type: Literal["event"]
    subscribes: list[str]
    input: NotRequired[Schema]
    infrastructure: NotRequired[Infrastructure]


class CronConfig(_Common):
    type: Literal["cron"]
    cron: str
    infrastructure: NotRequired[Infrastructure]


class NoopConfig(_Common):
    type: Literal["noop"]


StepConfig: TypeAlias = ApiConfig | EventConfig | CronConfig | NoopConfig
