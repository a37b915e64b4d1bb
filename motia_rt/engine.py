"""Dispatch: runs handlers for deliveries, HTTP requests and cron ticks, on the ports only.

The engine knows nothing of Redis, HTTP servers or the simulator: it is handed a Clock, a
Transport, a StateStore and service bindings, and every run is reported to its observers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import partial
from typing import Any

from .context import FlowContext, ServiceRegistry, StateAccess, SyncHandlers
from .deadlines import Deadlines
from .errors import EmitNotDeclared, HandlerCrash, InputValidationError, describe_error
from .ports import (
    UNDECODED,
    Clock,
    DeadLetter,
    Delivery,
    Message,
    StateStore,
    Transport,
    decode_json,
)
from .schema import encode_json
from .steps import Step, StepRegistry
from .tracing import CURRENT_RUN, EngineObserver, HandlerRun, IdSource

__all__ = ["Engine", "RetryPolicy", "json_copy"]

log = logging.getLogger("motia.engine")


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff with jitter: attempt n waits ``base * factor**(n-1)`` (capped), of which
    the fraction ``jitter`` is random, drawn from the engine's seeded ``random.Random``."""

    base: float = 1.0
    factor: float = 2.0
    cap: float = 300.0
    jitter: float = 0.5

    def delay(self, attempt: int, rng: random.Random) -> float:
        full = min(self.cap, self.base * self.factor ** max(0, attempt - 1))
        return full * (1.0 - self.jitter) + full * self.jitter * rng.random()


def json_encode(value: Any, what: str = "data") -> str:
    """``value`` as JSON text, or a ``TypeError`` that says what must be JSON."""
    try:
        return encode_json(value)
    except TypeError as exc:
        raise TypeError(
            f"{what} must be JSON (dict, list, str, number, bool, None): {exc}"
        ) from None


def json_copy(value: Any, what: str = "data") -> Any:
    """A deep copy through JSON: what a real transport or store would hand back."""
    return json.loads(json_encode(value, what))


class Engine:
    """Runs the steps of ``registry`` on the given ports.

    ``services`` override the app's ``default_services()`` by name. ``rng`` drives ids and retry
    jitter: seed it (the simulator does) and the engine's choices are reproducible.
    """

    def __init__(
        self,
        registry: StepRegistry,
        *,
        clock: Clock,
        transport: Transport,
        state: StateStore,
        services: Mapping[str, Any] | None = None,
        rng: random.Random | None = None,
        retry: RetryPolicy | None = None,
        history: int = 100_000,
        sync_handlers: SyncHandlers = "thread",
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.transport = transport
        self.state = state
        self.rng = rng if rng is not None else random.Random()
        self.ids = IdSource(self.rng)
        self.retry_policy = retry or RetryPolicy()
        # Where a synchronous (``def``) handler runs: a worker thread, so it never blocks the loop
        # (the runtime), or inline on the loop, deterministic (the simulator, which has no threads).
        self.sync_handlers: SyncHandlers = sync_handlers
        self.services = ServiceRegistry({**registry.default_services(), **(services or {})})
        self.events: deque[Message] = deque(maxlen=history)
        self.runs: deque[HandlerRun] = deque(maxlen=history)
        # Per hook, the observers that define it (hooks are optional): no call does nothing.
        self._on_emit: list[Callable[[Message], None]] = []
        self._on_run_start: list[Callable[[HandlerRun], None]] = []
        self._on_run_end: list[Callable[[HandlerRun], None]] = []
        self._state_access = StateAccess(state)
        self._watch_state(registry)
        self._spawned: set[asyncio.Task[HandlerRun]] = set()
        self._deadlines = Deadlines()
        self._active = 0
        self._quiet: asyncio.Event | None = None
        self._started = False

    # -- lifecycle -------------------------------------------------------------------------------

    async def start(self) -> None:
        if not self._started:
            self.transport.bind(self.registry.subscriptions(), self._deliver)
            await self.transport.start()
            self._started = True

    async def close(self) -> None:
        for task in list(self._spawned):  # state trigger runs still going
            task.cancel()
        await self.transport.close()

    def reload(self, registry: StepRegistry) -> None:
        """Serve a new version of the steps (dev reload): same state, services and transport;
        deliveries already running finish on the old code."""
        self.registry = registry
        self._watch_state(registry)
        if self._started:
            self.transport.bind(registry.subscriptions(), self._deliver)

    def add_observer(self, observer: EngineObserver | object) -> None:
        """Call ``observer``'s hooks (those it defines) from now on, after the ones added before."""
        for hooks, name in self._hooks():
            hook = getattr(observer, name, None)
            if hook is not None:
                hooks.append(hook)

    def remove_observer(self, observer: EngineObserver | object) -> None:
        """Stop calling ``observer``'s hooks (removing one twice is harmless)."""
        for hooks, name in self._hooks():
            hook = getattr(observer, name, None)
            if hook is not None and hook in hooks:
                hooks.remove(hook)

    def _hooks(self) -> tuple[tuple[list[Any], str], ...]:
        return ((self._on_emit, "on_emit"), (self._on_run_start, "on_run_start"),
                (self._on_run_end, "on_run_end"))  # fmt: skip

    # -- entry points ----------------------------------------------------------------------------

    async def emit_external(
        self, topic: str, data: Any, *, trace_id: str | None = None, group_id: str | None = None
    ) -> Message:
        """Emit from outside any step (tests, CLI, workbench); starts a new trace unless given."""
        return await self._publish(
            "external", topic, data, trace_id or self.ids.trace_id(), group_id
        )

    async def run_api(self, step: Step, request: Any, trace_id: str) -> Any:
        """Run an api step's middleware chain and handler; errors propagate to the HTTP layer."""
        assert step.handler is not None
        run = HandlerRun(step.name, "api", trace_id, self.clock.now())
        ctx = self.context(step, trace_id)
        # Each middleware gets ``next``: the rest of the chain. Built from partials, not from a
        # closure that calls itself: that is a reference cycle per request, and every request's
        # objects then wait for the garbage collector instead of being freed as it ends.
        call: Callable[[], Awaitable[Any]] = partial(step.handler, request, ctx)
        for middleware in reversed(step.middleware):
            call = partial(middleware, request, ctx, call)
        result = await self._supervised(run, step, call, reraise=True)
        if result is _CRASHED:
            raise RuntimeError(f"the process running {step.name} crashed: {run.error}")
        return result

    async def run_cron(self, name: str, trace_id: str | None = None) -> HandlerRun:
        """Run a cron step's handler once, now. Failures are recorded on the run, not raised."""
        step = self.registry.cron_target(name)
        if step.kind != "cron" or step.handler is None:
            raise ValueError(f"step {name!r} is a {step.kind} step, not a cron step")
        run = HandlerRun(step.name, "cron", trace_id or self.ids.trace_id(), self.clock.now())
        handler, ctx = step.handler, self.context(step, run.trace_id)
        await self._supervised(run, step, lambda: handler(ctx), reraise=False)
        return run

    async def run_state(self, step: Step, change: Mapping[str, Any], trace_id: str) -> HandlerRun:
        """Run a state trigger's view for one change (``{"groupId", "itemId", "oldValue",
        "newValue"}``). Failures are recorded on the run, not raised."""
        run = HandlerRun(step.name, "state", trace_id, self.clock.now())
        handler, ctx = step.handler, self.context(step, trace_id)
        assert handler is not None
        await self._supervised(run, step, lambda: handler(dict(change), ctx), reraise=False)
        return run

    def _watch_state(self, registry: StepRegistry) -> None:
        self._state_views = registry.of_kind("state")
        self._state_access.watch = self._state_changed if self._state_views else None

    def _state_changed(self, group: str, key: str, old: Any, new: Any) -> None:
        # Each state trigger runs in a task of its own, as a cron tick does: the writer goes on.
        current = CURRENT_RUN.get()
        trace_id = current.trace_id if current is not None else self.ids.trace_id()
        change = {"type": "state", "groupId": group, "itemId": key, "oldValue": old,
                  "newValue": new}  # fmt: skip
        for view in self._state_views:
            self._active += 1  # counted from now, so settle() waits for a run not yet started
            task = asyncio.create_task(self.run_state(view, change, trace_id))
            self._spawned.add(task)
            task.add_done_callback(self._spawned_done)

    def _spawned_done(self, task: asyncio.Task[Any]) -> None:
        self._spawned.discard(task)
        self._release()

    def _release(self) -> None:
        """One piece of work counted in ``_active`` is over; wake ``settle()`` at the last."""
        self._active -= 1
        if self._active == 0 and self._quiet is not None:
            self._quiet.set()

    def new_trace_id(self) -> str:
        return self.ids.trace_id()

    def context(self, step: Step, trace_id: str) -> FlowContext:
        return FlowContext(step.name, trace_id, self._emit, self._state_access, self.services,
                           step.trigger, self.sync_handlers)  # fmt: skip

    # -- dead letters and quiescence -------------------------------------------------------------

    async def dead_letters(self, step: str | None = None) -> list[DeadLetter]:
        return await self.transport.dead_letters(step)

    async def redrive(self, dead_letter_id: str) -> Delivery:
        return await self.transport.redrive(dead_letter_id)

    def busy(self) -> bool:
        return self._active > 0 or self.transport.pending() > 0

    async def settle(self) -> None:
        """Return once no delivery is queued, running or waiting to retry, and no handler runs."""
        while True:
            await self.transport.wait_idle()
            if not self.busy():
                return
            if self._active:
                if self._quiet is None:
                    self._quiet = asyncio.Event()
                self._quiet.clear()
                await self._quiet.wait()

    # -- internals -------------------------------------------------------------------------------

    async def _emit(
        self, source: str, topic: str, data: Any, trace_id: str, group_id: str | None
    ) -> Message:
        step = self.registry[source]
        if topic not in step.emits:
            if step.undeclared_emits == "error":
                raise EmitNotDeclared(source, topic, step.emits)
            # Motia's behaviour, by the step's or project's choice: said, and not delivered.
            log.warning("step %s emitted %r, which its config does not declare: dropped (%s)",
                        source, topic, "declare it in emits, or set validation to strict")  # fmt: skip
            return Message(self.ids.message_id(), topic, data, trace_id, self.clock.now(),
                           source, group_id, None)  # fmt: skip
        return await self._publish(source, topic, data, trace_id, group_id)

    async def _publish(
        self, source: str, topic: str, data: Any, trace_id: str, group_id: str | None
    ) -> Message:
        if group_id is not None and type(group_id) is not str:
            # Checked before anything is queued: a transport keys FIFO groups by it.
            raise TypeError(
                f"messageGroupId of the emit to {topic!r} must be a string naming the FIFO "
                f"group (an order id, an account id), got {type(group_id).__name__} {group_id!r}"
            )
        try:
            raw = encode_json(data)
        except TypeError:
            raw = json_encode(data, f"data emitted to {topic!r}")  # raises, saying what
        # The history's copy is decoded only if something reads it (observers, tests).
        message = Message(self.ids.message_id(), topic, UNDECODED, trace_id, self.clock.now(),
                          source, group_id, raw)  # fmt: skip
        self.events.append(message)
        for on_emit in self._on_emit:
            on_emit(message)
        await self.transport.publish(message)
        return message

    async def _deliver(self, delivery: Delivery) -> None:
        message = delivery.message
        step = self.registry.delivery_target(delivery.subscription.step, message.topic)
        run = HandlerRun(step.name, "event", message.trace_id, self.clock.now(),
                         delivery.attempt, message.topic, message.id)  # fmt: skip
        try:
            # Each delivery decodes its own copy: a handler that mutates its input must not
            # change what other subscribers, or the event history, see.
            raw = message.raw
            data = decode_json(raw) if raw is not None else json_copy(message.data)
            if step.input is None:
                payload = data
            else:
                what = f"input of step {step.name!r} from topic {message.topic!r}"
                payload = step.input.validate(data, what)
        except (InputValidationError, TypeError) as exc:
            self._begin(run)
            run.outcome, run.error, run.settled = "invalid", str(exc), "dead_letter"
            self._end(run)
            await self.transport.dead_letter(delivery, str(exc))
            return
        assert step.handler is not None
        handler, ctx = step.handler, self.context(step, message.trace_id)
        crashed = await self._supervised(run, step, lambda: handler(payload, ctx), reraise=False)
        if run.outcome == "ok":
            run.settled = "ack"
            await self.transport.ack(delivery)
        elif not run.retryable:
            run.settled = "dead_letter"
            await self.transport.dead_letter(delivery, run.error or "not retryable")
        elif delivery.attempt > step.max_retries:
            run.settled = "dead_letter"
            error = f"{run.error} (gave up after {delivery.attempt} attempts)"
            await self.transport.dead_letter(delivery, error)
        else:
            run.settled = "retry"
            delay = (
                step.visibility_timeout
                if crashed is _CRASHED
                else self.retry_policy.delay(delivery.attempt, self.rng)
            )
            await self.transport.retry(delivery, delay)

    async def _supervised(
        self, run: HandlerRun, step: Step, call: Callable[[], Awaitable[Any]], *, reraise: bool
    ) -> Any:
        """Run ``call`` with the step's timeout, recording the outcome on ``run``."""
        token = CURRENT_RUN.set(run)
        timed_out = False
        try:
            # Observers may raise HandlerCrash here: the process died as the handler started.
            self._begin(run)
            # Deliveries run back to back in long-lived worker tasks, which keep their timer.
            deadline = self._deadlines.enter(step.timeout, reuse=run.kind == "event")
            try:
                result = await call()
            except asyncio.CancelledError:
                if self._deadlines.leave(deadline, cancelled=True):
                    timed_out = True
                    raise TimeoutError from None
                raise
            except BaseException:
                self._deadlines.leave(deadline, cancelled=False)
                raise
            self._deadlines.leave(deadline, cancelled=False)
        except HandlerCrash as exc:
            run.outcome, run.error = "error", f"crash: {exc}"
            result = _CRASHED
        except asyncio.CancelledError:
            run.outcome, run.error = "error", "cancelled"
            raise
        except Exception as exc:
            if timed_out:
                run.outcome, run.error = "timeout", f"handler timed out after {step.timeout:g}s"
            else:
                run.outcome, run.error = "error", describe_error(exc)
            if isinstance(exc, EmitNotDeclared):
                run.retryable = False  # the same code emits the same undeclared topic again
                log.error("step %s: %s (trace %s)", step.name, exc, run.trace_id)
            elif not isinstance(exc, TimeoutError):
                log.warning("step %s failed (trace %s)", step.name, run.trace_id, exc_info=exc)
            if reraise:
                raise
            result = None
        else:
            run.outcome = "ok"
        finally:
            CURRENT_RUN.reset(token)
            self._end(run)
        return result

    def _begin(self, run: HandlerRun) -> None:
        if run.kind != "event":
            self._active += 1
        self.runs.append(run)
        for on_run_start in self._on_run_start:
            on_run_start(run)

    def _end(self, run: HandlerRun) -> None:
        run.ended = self.clock.now()
        if run.kind != "event":
            self._release()
        for on_run_end in self._on_run_end:
            on_run_end(run)


_CRASHED = object()
