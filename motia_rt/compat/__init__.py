"""The ``motia`` names a Motia 1.0 Python step imports, provided by this runtime.

Step files keep ``from motia import http, queue, cron, logger, enqueue, ...``: when the real
``motia`` package is not installed, ``install_motia_module()`` (called by the loader) registers
this package as ``motia``. With the real package installed, its names are used and its
module-level calls go to its own engine (docs/motia-compat.md).
"""

from __future__ import annotations

import importlib.util
import sys

from ._builders import (
    MultiTriggerStepBuilder,
    StepBuilder,
    StepDefinition,
    api,
    cron,
    http,
    multi_trigger_step,
    queue,
    state,
    step,
    stream,
)
from ._context import (
    ApiRequest,
    ApiResponse,
    FlowContext,
    StateTriggerInput,
    StreamEvent,
    StreamTriggerInput,
    TriggerInfo,
)
from ._module_api import Logger, StateManager, Stream, enqueue, logger, stateManager
from ._normalise import StepConfigWarning
from ._runner import BlockingCallError, OutsideHandlerError

__all__ = [
    "ApiRequest",
    "ApiResponse",
    "BlockingCallError",
    "FlowContext",
    "Logger",
    "MultiTriggerStepBuilder",
    "OutsideHandlerError",
    "StateManager",
    "StateTriggerInput",
    "StepBuilder",
    "StepConfigWarning",
    "StepDefinition",
    "Stream",
    "StreamEvent",
    "StreamTriggerInput",
    "TriggerInfo",
    "api",
    "cron",
    "enqueue",
    "http",
    "install_motia_module",
    "logger",
    "multi_trigger_step",
    "queue",
    "state",
    "stateManager",
    "step",
    "stream",
]


def install_motia_module() -> bool:
    """Make ``import motia`` give this package unless a real ``motia`` is importable.
    Returns whether this package is (now) what ``motia`` names."""
    current = sys.modules.get("motia")
    if current is not None:
        return current is sys.modules[__name__]
    if importlib.util.find_spec("motia") is not None:
        return False
    sys.modules["motia"] = sys.modules[__name__]
    return True
