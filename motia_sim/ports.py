"""Simulated ports: the in-memory reference adapters with fault points and seed-driven scheduling.

The engine runs on these unchanged; the simulator never patches the engine, it hands it these.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import httpx

from motia_rt.ports import JSON, Clock, DeadLetter, Delivery, Message
from motia_rt.state.memory import MemoryStateStore
from motia_rt.tracing import CURRENT_RUN
from motia_rt.transport.memory import MemoryTransport

from .faults import InjectedServiceError, InjectedStoreError, NetFault
from .injector import FaultInjector, pass_turns
from .trace import Trace

__all__ = ["NetworkFaults", "ServiceCall", "SimStateStore", "SimTransport", "simulated_services"]


class _SimDeliveryPolicy:
    """The memory transport's ``DeliveryPolicy`` in a simulation: the plan's delays and duplicates
    on first deliveries, and a seed-chosen order for the deliveries due at the same moment."""

    def __init__(self, injector: FaultInjector, rng: random.Random) -> None:
        self._injector = injector
        self._shuffle = rng.shuffle

    def first_delivery(self, delivery: Delivery) -> tuple[float, int]:
        if not self._injector.delivery_faults_planned:
            return 0.0, 0
        extra, duplicate = self._injector.delivery_faults(delivery)
        return extra, 1 if duplicate else 0

    def order(self, due: list[Delivery]) -> None:
        self._shuffle(due)


class SimTransport:
    """``motia_rt.ports.Transport`` for a simulation: the in-memory reference transport with the
    simulator's ``DeliveryPolicy``, a fault point at every emit and a trace line for every retry
    and dead letter. It composes the memory transport, so it keeps every rule of it (FIFO groups
    included) and passes the same contract suite."""

    def __init__(
        self, clock: Clock, injector: FaultInjector, rng: random.Random, trace: Trace
    ) -> None:
        inner = MemoryTransport(clock, policy=_SimDeliveryPolicy(injector, rng))
        self._inner = inner
        self._injector = injector
        self._trace = trace
        # What the simulation adds nothing to is the memory transport's own method.
        self.bind = inner.bind
        self.start = inner.start
        self.close = inner.close
        self.ack = inner.ack
        self.dead_letters = inner.dead_letters
        self.held_dead_letters = inner.held_dead_letters
        self.redrive = inner.redrive
        self.pending = inner.pending
        self.wait_idle = inner.wait_idle

    async def publish(self, message: Message) -> None:
        injector = self._injector
        turns = injector.yields()
        if turns:
            await pass_turns(turns)
        await self._inner.publish(message)
        if message.source not in ("external", "http", "cron"):
            injector.after_side_effect("emit")

    async def retry(self, delivery: Delivery, delay: float) -> None:
        self._trace.add("retry", f"{delivery.subscription.step} <- {delivery.message.topic} "
                        f"attempt {delivery.attempt + 1} in {delay:.3f}s",
                        step=delivery.subscription.step, topic=delivery.message.topic)  # fmt: skip
        await self._inner.retry(delivery, delay)

    async def dead_letter(self, delivery: Delivery, error: str) -> DeadLetter:
        self._trace.add("dead", f"{delivery.subscription.step} <- {delivery.message.topic}: "
                        f"{error}", step=delivery.subscription.step,
                        topic=delivery.message.topic)  # fmt: skip
        return await self._inner.dead_letter(delivery, error)


class SimStateStore:
    """``motia_rt.ports.StateStore`` for a simulation: the in-memory reference store with a fault
    point, seed-drawn turns and a trace line per operation (composed, so it keeps the memory
    store's contract)."""

    def __init__(self, injector: FaultInjector, trace: Trace) -> None:
        inner = MemoryStateStore()
        self._inner = inner
        self._injector = injector
        self._trace = trace
        self.items = inner.items
        self.groups = inner.groups
        self.snapshot = inner.snapshot

    def _check(self, op: str, group: str, key: str | None = None) -> None:
        """The operation's fault point (after its seed-drawn turns, taken in the caller, so the
        store's await chain is one level shorter when the task resumes)."""
        injector = self._injector
        if injector.state_faults and injector.state_fault(op, group, key) is not None:
            where = f"{group}/{key}" if key is not None else group
            raise InjectedStoreError(f"simulated state store failure: {op} {where}")

    def _after(self, op: str, group: str, key: str | None) -> None:
        run = CURRENT_RUN.get()
        where = f"{group}/{key}" if key is not None else group
        trace = self._trace
        trace.add("state", f"{trace.label(run)} {op} {where}", step=run.step if run else None,
                  key=where)  # fmt: skip
        # Reads count for ``state op=N`` (every operation can fail), but only writes are side
        # effects a crash can follow (``after=state#K``).
        if op != "get" and op != "get_group":
            self._injector.after_side_effect("state")

    async def get(self, group: str, key: str) -> JSON | None:
        if turns := self._injector.yields():
            await pass_turns(turns)
        self._check("get", group, key)
        value = await self._inner.get(group, key)
        self._after("get", group, key)
        return value

    async def set(self, group: str, key: str, value: JSON) -> JSON:
        if turns := self._injector.yields():
            await pass_turns(turns)
        self._check("set", group, key)
        inner = self._inner
        stored = await inner.set(group, key, value)
        run = CURRENT_RUN.get()
        where = f"{group}/{key}"
        trace = self._trace
        # The store holds the value as JSON text that nothing can change, so the trace formats
        # the line from it only if someone reads the trace.
        trace._add_state_set(f"{trace.label(run)} set {where} = ",
                             inner.stored_text(group, key), run.step if run else None,
                             where)  # fmt: skip
        self._injector.after_side_effect("state")
        return stored

    async def delete(self, group: str, key: str) -> JSON | None:
        if turns := self._injector.yields():
            await pass_turns(turns)
        self._check("delete", group, key)
        old = await self._inner.delete(group, key)
        self._after("delete", group, key)
        return old

    async def get_group(self, group: str) -> list[JSON]:
        if turns := self._injector.yields():
            await pass_turns(turns)
        self._check("get_group", group)
        values = await self._inner.get_group(group)
        self._after("get_group", group, None)
        return values

    async def clear(self, group: str) -> None:
        if turns := self._injector.yields():
            await pass_turns(turns)
        self._check("clear", group)
        await self._inner.clear(group)
        self._after("clear", group, None)


class ServiceCall:
    """One recorded call to a service method (invariants may read ``world.calls``)."""

    __slots__ = ("args", "error", "kwargs", "method", "result", "service", "step")

    def __init__(self, service: str, method: str, args: tuple[Any, ...], kwargs: dict[str, Any],
                 step: str | None) -> None:  # fmt: skip
        self.service, self.method, self.args, self.kwargs, self.step = (
            service,
            method,
            args,
            kwargs,
            step,
        )
        self.result: Any = None
        self.error: str | None = None


class _ServiceProxy:
    """Wraps a service object: each async method call is a fault point and a trace line."""

    def __init__(self, name: str, target: Any, injector: FaultInjector, trace: Trace,
                 calls: list[ServiceCall]) -> None:  # fmt: skip
        self._name, self._target, self._injector, self._trace, self._calls = (
            name, target, injector, trace, calls)  # fmt: skip

    def __getattr__(self, attr: str) -> Any:
        member = getattr(self._target, attr)
        if not inspect.iscoroutinefunction(member):
            return member
        # Kept on the proxy, so later lookups of this method do not come back here.
        wrapper = self._wrap(attr)
        object.__setattr__(self, attr, wrapper)
        return wrapper

    def _wrap(self, attr: str) -> Any:
        """The fault point for ``service.attr(...)``: made once per method and run, and calling
        the method the target has at the time of each call."""
        name, target, injector, trace, calls = (
            self._name, self._target, self._injector, self._trace, self._calls)  # fmt: skip
        head = f"{name}.{attr}"

        async def call(*args: Any, **kwargs: Any) -> Any:
            run = CURRENT_RUN.get()
            record = ServiceCall(name, attr, args, kwargs, run.step if run else None)
            turns = injector.yields()
            if turns:
                await pass_turns(turns)
            calls.append(record)  # after the yield: in the order the plan counts calls
            trace._add_call(f"{trace.label(run)} {head}", args, kwargs, record.step)
            fault = injector.service_fault(name) if injector.service_faults else None
            if fault is not None and fault.mode != "latency":
                if fault.mode == "timeout":
                    await asyncio.sleep(fault.seconds)
                    record.error = "timeout"
                    raise TimeoutError(f"simulated timeout calling {name}.{attr}")
                record.error = "error"
                raise InjectedServiceError(f"simulated failure calling {name}.{attr}")
            if fault is not None:
                await asyncio.sleep(fault.seconds)
            record.result = await getattr(target, attr)(*args, **kwargs)
            injector.after_side_effect("service")
            return record.result

        return call


def simulated_services(
    bindings: Mapping[str, Any], injector: FaultInjector, trace: Trace, calls: list[ServiceCall]
) -> dict[str, Any]:
    return {n: _ServiceProxy(n, obj, injector, trace, calls) for n, obj in bindings.items()}


class NetworkFaults:
    """The virtual network's fault point in a simulation (``motia_rt.network.Interceptor``): each
    routed request may be refused, reset, answered with a 5xx or 429, time out, come late, or be
    applied by the fake with its response lost, as the plan's ``net`` faults say; a request that
    reached its fake is a side effect a crash can follow (``after=net#K``). Time passes virtually,
    and the client's own read timeout is honoured."""

    def __init__(self, injector: FaultInjector) -> None:
        self._injector = injector

    async def exchange(
        self, request: httpx.Request, host: str, send: Callable[[], Awaitable[httpx.Response]]
    ) -> httpx.Response:
        injector = self._injector
        if turns := injector.yields():
            await pass_turns(turns)
        fault = injector.net_fault(host, request.method, str(request.url)) if (
            injector.net_faults) else None  # fmt: skip
        if fault is None or fault.mode in ("lost", "latency"):
            response = await send()
            injector.after_side_effect("net")
            if fault is None:
                return response
        timeout = _read_timeout(request)
        if fault.mode in ("timeout", "latency"):  # the caller waits, at most its own timeout
            await asyncio.sleep(fault.seconds if timeout is None else min(timeout, fault.seconds))
        return _outcome(
            fault, request, host, timeout, response if fault.mode == "latency" else None
        )

    def exchange_sync(
        self, request: httpx.Request, host: str, send: Callable[[], httpx.Response]
    ) -> httpx.Response:
        # A sync client blocks the loop: no turns, and no virtual time passes for it.
        injector = self._injector
        fault = injector.net_fault(host, request.method, str(request.url)) if (
            injector.net_faults) else None  # fmt: skip
        if fault is None or fault.mode in ("lost", "latency"):
            response = send()
            injector.after_side_effect("net")
            if fault is None:
                return response
        timeout = _read_timeout(request)
        return _outcome(
            fault, request, host, timeout, response if fault.mode == "latency" else None
        )


def _read_timeout(request: httpx.Request) -> float | None:
    timeout = request.extensions.get("timeout", {}).get("read")
    return None if timeout is None else float(timeout)


def _outcome(
    fault: NetFault,
    request: httpx.Request,
    host: str,
    timeout: float | None,
    response: httpx.Response | None,
) -> httpx.Response:
    """What the caller of a faulted request gets (after the time it waited)."""
    if fault.mode == "refused":
        raise httpx.ConnectError(f"simulated: {host} refused the connection", request=request)
    if fault.mode == "reset":
        raise httpx.ReadError(f"simulated: {host} reset the connection", request=request)
    if fault.mode == "lost":
        raise httpx.ReadError(f"simulated: the response from {host} was lost", request=request)
    if fault.mode == "status":
        return httpx.Response(fault.status, headers={"retry-after": "1"}, request=request,
                              json={"error": f"simulated {fault.status} from {host}"})  # fmt: skip
    if fault.mode == "timeout" or (timeout is not None and fault.seconds > timeout):
        raise httpx.ReadTimeout(f"simulated: {host} did not answer in time", request=request)
    assert response is not None  # latency within the client's timeout
    return response
