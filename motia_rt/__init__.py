"""motia_rt: Motia-style Python steps on a real runtime (HTTP, topics, state, cron, retries)."""

from .config import (
    ApiConfig,
    CronConfig,
    EmitSpec,
    EventConfig,
    HandlerSettings,
    Infrastructure,
    NoopConfig,
    QueryParam,
    QueueSettings,
    StepConfig,
)
from .context import FlowContext, ServiceRegistry, StepLogger
from .deployment import SharedRedis, shared_redis
from .engine import Engine, RetryPolicy
from .errors import (
    EmitNotDeclared,
    HandlerCrash,
    InputValidationError,
    MotiaError,
    StepLoadError,
    TopicTimeout,
    UnknownService,
)
from .http import ApiRequest, build_app
from .loader import load_steps
from .ports import DeadLetter, Delivery, Message, Subscription
from .server import create_app
from .steps import Step, StepRegistry
from .tracing import HandlerRun

__all__ = [
    "ApiConfig",
    "ApiRequest",
    "CronConfig",
    "DeadLetter",
    "Delivery",
    "EmitNotDeclared",
    "EmitSpec",
    "Engine",
    "EventConfig",
    "FlowContext",
    "HandlerCrash",
    "HandlerRun",
    "HandlerSettings",
    "Infrastructure",
    "InputValidationError",
    "Message",
    "MotiaError",
    "NoopConfig",
    "QueryParam",
    "QueueSettings",
    "RetryPolicy",
    "ServiceRegistry",
    "SharedRedis",
    "Step",
    "StepConfig",
    "StepLoadError",
    "StepLogger",
    "StepRegistry",
    "Subscription",
    "TopicTimeout",
    "UnknownService",
    "build_app",
    "create_app",
    "load_steps",
    "shared_redis",
]
