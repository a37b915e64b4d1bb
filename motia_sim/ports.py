"""Simulated ports: the in-memory reference adapters with fault points and seed-driven scheduling.

The engine runs on these unchanged; the simulator never patches the engine, it hands it these.
"""

from __future__ import annotations

import asyncio
import inspect
import random
from collections.abc import Mapping
from typing import Any

from motia_rt.ports import JSON, Clock, DeadLetter, Delivery, Message
from motia_rt.state.memory import MemoryStateStore
from motia_rt.tracing import CURRENT_RUN
from motia_rt.transport.memory import MemoryTransport

from .faults import InjectedServiceError, InjectedStoreError
from .injector import FaultInjector
from .trace import Trace, compact

__all__ = ["ServiceCall", "SimStateStore", "SimTransport", "simulated_services"]


class SimTransport(MemoryTransport):
    """Memory transport whose deliveries due at the same virtual time run in a seed-chosen order,
    with the plan's delays and duplicates applied to first deliveries."""

    def __init__(
        self, clock: Clock, injector: FaultInjector, rng: random.Random, trace: Trace
    ) -> None:
        super().__init__(clock)
        self._injector = injector
        self._trace = trace
        self._rng = rng
        self._batch: list[Delivery] = []
        self._flush_pending = False

    async def publish(self, message: Message) -> None:
        await self._injector.yield_point()
        await super().publish(message)
        if message.source not in ("external", "http", "cron"):
            self._injector.after_side_effect("emit")

    async def retry(self, delivery: Delivery, delay: float) -> None:
        self._trace.add("retry", f"{delivery.subscription.step} <- {delivery.message.topic} "
                        f"attempt {delivery.attempt + 1} in {delay:.3f}s",
                        step=delivery.subscription.step, topic=delivery.message.topic)  # fmt: skip
        await super().retry(delivery, delay)

    async def dead_letter(self, delivery: Delivery, error: str) -> DeadLetter:
        self._trace.add("dead", f"{delivery.subscription.step} <- {delivery.message.topic}: "
                        f"{error}", step=delivery.subscription.step,
                        topic=delivery.message.topic)  # fmt: skip
        return await super().dead_letter(delivery, error)

    def _enqueue(self, delivery: Delivery, delay: float | None = None) -> None:
        extra, duplicate = (0.0, False)
        if delivery.attempt == 1:
            extra, duplicate = self._injector.delivery_faults(delivery)
        base = delivery.subscription.delay_seconds if delay is None else delay
        super()._enqueue(delivery, base + extra)
        if duplicate:
            copy = Delivery(delivery.message, delivery.subscription, 1, self._receipt())
            self._unsettled[copy.receipt] = 1
            self._schedule(copy, base)

    def _schedule(self, delivery: Delivery, delay: float) -> None:
        loop = asyncio.get_running_loop()
        if delay > 0:
            loop.call_later(delay, self._due, delivery)
        else:
            self._due(delivery)

    def _due(self, delivery: Delivery) -> None:
        self._batch.append(delivery)
        if not self._flush_pending:
            self._flush_pending = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        batch, self._batch, self._flush_pending = self._batch, [], False
        self._rng.shuffle(batch)
        for delivery in batch:
            super()._schedule(delivery, 0.0)


class SimStateStore(MemoryStateStore):
    """Memory state store with a fault point and a trace line per operation."""

    def __init__(self, injector: FaultInjector, trace: Trace) -> None:
        super().__init__()
        self._injector = injector
        self._trace = trace

    async def _before(self, op: str, group: str, key: str | None = None) -> None:
        await self._injector.yield_point()
        where = f"{group}/{key}" if key is not None else group
        if self._injector.state_fault(f"{op} {where}") is not None:
            raise InjectedStoreError(f"simulated state store failure: {op} {where}")

    def _after(self, op: str, group: str, key: str | None, value: Any = None) -> None:
        run = CURRENT_RUN.get()
        where = f"{group}/{key}" if key is not None else group
        shown = f" = {compact(value)}" if op == "set" else ""
        self._trace.add("state", f"{op} {where}{shown}", step=run.step if run else None,
                        key=where)  # fmt: skip
        # Reads count for ``state op=N`` (every operation can fail), but only writes are side
        # effects a crash can follow (``after=state#K``).
        if op in ("set", "delete", "clear"):
            self._injector.after_side_effect("state")

    async def get(self, group: str, key: str) -> JSON | None:
        await self._before("get", group, key)
        value = await super().get(group, key)
        self._after("get", group, key)
        return value

    async def set(self, group: str, key: str, value: JSON) -> JSON:
        await self._before("set", group, key)
        stored = await super().set(group, key, value)
        self._after("set", group, key, stored)
        return stored

    async def delete(self, group: str, key: str) -> JSON | None:
        await self._before("delete", group, key)
        old = await super().delete(group, key)
        self._after("delete", group, key)
        return old

    async def get_group(self, group: str) -> list[JSON]:
        await self._before("get_group", group)
        values = await super().get_group(group)
        self._after("get_group", group, None)
        return values

    async def clear(self, group: str) -> None:
        await self._before("clear", group)
        await super().clear(group)
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
        name, injector, trace, calls = self._name, self._injector, self._trace, self._calls

        async def call(*args: Any, **kwargs: Any) -> Any:
            run = CURRENT_RUN.get()
            record = ServiceCall(name, attr, args, kwargs, run.step if run else None)
            await injector.yield_point()
            calls.append(record)  # after the yield: in the order the plan counts calls
            shown = compact({"args": list(args), **kwargs}) if kwargs else compact(list(args))
            trace.add("call", f"{name}.{attr}{shown}", step=record.step)
            fault = injector.service_fault(name)
            if fault is not None and fault.mode != "latency":
                if fault.mode == "timeout":
                    await asyncio.sleep(fault.seconds)
                    record.error = "timeout"
                    raise TimeoutError(f"simulated timeout calling {name}.{attr}")
                record.error = "error"
                raise InjectedServiceError(f"simulated failure calling {name}.{attr}")
            if fault is not None:
                await asyncio.sleep(fault.seconds)
            record.result = await member(*args, **kwargs)
            injector.after_side_effect("service")
            return record.result

        return call


def simulated_services(
    bindings: Mapping[str, Any], injector: FaultInjector, trace: Trace, calls: list[ServiceCall]
) -> dict[str, Any]:
    return {n: _ServiceProxy(n, obj, injector, trace, calls) for n, obj in bindings.items()}
