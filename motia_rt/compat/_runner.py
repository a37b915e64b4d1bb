"""Runs a Motia 1.0 handler for one firing of one trigger, as an ordinary engine handler.

The engine calls every dispatch view of a 1.0 step with its usual arguments (``(req, ctx)``,
``(input, ctx)`` or ``(ctx)``); this wrapper checks the trigger's condition, builds the 1.0 ``ctx``,
runs the user's handler (sync or async), awaits what it returns (``return ctx.match(...)``) and
turns an ``ApiResponse`` into the response dict the HTTP app sends.

Synchronous code runs where the engine's ``sync_handlers`` says: ``"thread"`` (the runtime) in a
worker thread, so it never blocks the loop; ``"inline"`` (the simulator, which has no threads) on
the loop itself, deterministic, holding the loop until it returns as any sync code would.

Module-level calls (``enqueue``, ``stateManager``, ``Stream``) are synchronous in Motia 1.0;
``call_blocking`` brings them to the engine: from a worker thread it hands the coroutine to the
loop and waits; on the loop it runs the coroutine to its end at once, which works whenever the
port answers without waiting (the memory and simulated stores), and otherwise raises
``BlockingCallError`` saying what to do.
"""

from __future__ import annotations

import asyncio
import contextvars
import inspect
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

from ..context import INLINE_SYNC
from ..context import FlowContext as EngineContext
from ..http import ApiRequest as EngineRequest
from ._context import ApiRequest, ApiResponse, FlowContext, StateTriggerInput

__all__ = ["SKIPPED", "BlockingCallError", "OutsideHandlerError", "call_blocking", "wrap_handler"]

CURRENT: contextvars.ContextVar[FlowContext[Any] | None] = contextvars.ContextVar(
    "motia_compat_context", default=None
)

SKIPPED = {"status": 204, "body": None}
"""What an http trigger answers when its condition is false (the handler does not run)."""


class BlockingCallError(RuntimeError):
    """A synchronous Motia call made on the event loop would have to wait for I/O."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} was called on the event loop, and the store it uses must wait (e.g. Redis): "
            "blocking there would stall every handler. Make the handler a plain `def` (it then "
            "runs in a worker thread), or in an async handler use `await ctx.state...` / "
            "`await ctx.enqueue(...)`"
        )


class OutsideHandlerError(RuntimeError):
    """A module-level Motia call was made while no step handler runs."""

    def __init__(self, what: str) -> None:
        super().__init__(
            f"{what} was called outside a step handler: it acts for the step that is running. "
            "Call it from inside `handler` (or a function it calls)"
        )


def current(what: str) -> FlowContext[Any]:
    ctx = CURRENT.get()
    if ctx is None:
        raise OutsideHandlerError(what)
    return ctx


def call_blocking(what: str, make: Callable[[FlowContext[Any]], Coroutine[Any, Any, Any]]) -> Any:
    """Run ``make(ctx)`` on the engine's loop for the running handler and return its result."""
    ctx = current(what)
    try:
        asyncio.get_running_loop()
    except RuntimeError:  # a worker thread: hand the call to the loop, keeping our context vars
        context = contextvars.copy_context()
        future = asyncio.run_coroutine_threadsafe(_in_context(context, make(ctx)), ctx.loop)
        return future.result()
    return _run_now(what, make(ctx))


async def _in_context(context: contextvars.Context, coro: Coroutine[Any, Any, Any]) -> Any:
    # The loop runs the call in a task of its own; give it the handler's context (the current run
    # for tracing and fault points), as an await inside the handler would have.
    for var, value in context.items():
        var.set(value)
    return await coro


def _run_now(what: str, coro: Coroutine[Any, Any, Any]) -> Any:
    # A sync call holds the loop: ports offer no other task a turn (INLINE_SYNC), and a bare
    # yield that offers one anyway is passed over.
    token = INLINE_SYNC.set(True)
    try:
        while coro.send(None) is None:
            pass
    except StopIteration as done:
        return done.value
    finally:
        INLINE_SYNC.reset(token)
    coro.close()
    raise BlockingCallError(what)


def accepts(fn: Callable[..., Any], count: int) -> bool:
    try:
        inspect.signature(fn).bind(*range(count))
    except (TypeError, ValueError):
        return False
    return True


def wrap_handler(
    handler: Callable[..., Any], middleware: Mapping[int, Sequence[Callable[..., Any]]]
) -> Callable[..., Coroutine[Any, Any, Any]]:
    """The engine handler of a 1.0 step: ``middleware`` by trigger index (http triggers)."""
    arity = 2 if accepts(handler, 2) else 1

    async def run_step(*args: Any) -> Any:
        engine_ctx: EngineContext = args[-1]
        trigger = engine_ctx.trigger
        assert trigger is not None, "a 1.0 handler runs only through a trigger's view"
        value = args[0] if len(args) == 2 else None
        if isinstance(value, EngineRequest):
            value = ApiRequest.of(value)
        elif trigger.type == "state":
            value = StateTriggerInput.model_validate(value)
        runner = _runner(engine_ctx)
        ctx: FlowContext[Any] = FlowContext(engine_ctx, trigger, value, runner)
        token = CURRENT.set(ctx)
        try:
            if trigger.condition is not None and not await runner(trigger.condition, value, ctx):
                engine_ctx.logger.debug(
                    "condition false: handler skipped", {"trigger": trigger.index}
                )
                return dict(SKIPPED) if trigger.type == "http" else None

            async def call() -> Any:
                return await runner(handler, *((value, ctx) if arity == 2 else (value,)))

            result = await _through(middleware.get(trigger.index, ()), value, ctx, runner, call)
        finally:
            CURRENT.reset(token)
        return _response(result) if trigger.type == "http" else result

    run_step.__name__ = getattr(handler, "__name__", "handler")
    return run_step


def _runner(engine_ctx: EngineContext) -> Callable[..., Coroutine[Any, Any, Any]]:
    inline = engine_ctx.sync_handlers == "inline"

    async def run(fn: Callable[..., Any], *args: Any) -> Any:
        if inspect.iscoroutinefunction(fn):
            result = await fn(*args)
        elif inline:
            token = INLINE_SYNC.set(True)
            try:
                result = fn(*args)
            finally:
                INLINE_SYNC.reset(token)
        else:
            # to_thread copies the context vars: module-level calls find the running handler.
            result = await asyncio.to_thread(fn, *args)
        while inspect.isawaitable(result):  # e.g. a sync handler's `return ctx.match({...})`
            result = await result
        return result

    return run


async def _through(
    chain: Sequence[Callable[..., Any]],
    req: Any,
    ctx: FlowContext[Any],
    runner: Callable[..., Coroutine[Any, Any, Any]],
    call: Callable[[], Coroutine[Any, Any, Any]],
) -> Any:
    """``call`` inside the middleware ``chain`` (first outermost); each gets ``(req, ctx, next)``."""
    if not chain:
        return await call()

    async def next_() -> Any:
        return await _through(chain[1:], req, ctx, runner, call)

    return await runner(chain[0], req, ctx, next_)


def _response(result: Any) -> Any:
    """An ``ApiResponse`` or a dict with ``status`` or ``status_code`` (200 if neither) as the
    HTTP app's ``{"status", "body", "headers"}``."""
    if isinstance(result, ApiResponse):
        return {"status": result.status, "body": result.body, "headers": result.headers}
    if isinstance(result, Mapping) and "status" not in result:
        status = result.get("status_code", 200)
        return {"status": status, "body": result.get("body"), "headers": result.get("headers")}
    return result
