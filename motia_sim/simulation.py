"""``Simulation``: the real engine and HTTP app on simulated ports, in virtual time, from a seed."""

from __future__ import annotations

import asyncio
import copy
import logging
import random
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import httpx

from motia_rt.cron import CronScheduler
from motia_rt.engine import Engine
from motia_rt.errors import describe_error
from motia_rt.harness import Harness, Match
from motia_rt.http import build_app
from motia_rt.loader import load_steps
from motia_rt.network import HttpFakes, VirtualNetwork, fakes_of, routing
from motia_rt.ports import Message
from motia_rt.steps import StepRegistry
from motia_rt.tracing import CURRENT_RUN, HandlerRun

from ._loop import VirtualClock, run_simulated
from ._sandbox import SimulationEscape
from .faults import Fault, FaultPlan
from .injector import FaultInjector, FaultSites, check_plan
from .invariants import Invariant, InvariantViolation, World, as_invariants
from .ports import NetworkFaults, ServiceCall, SimStateStore, SimTransport, simulated_services
from .trace import Divergence, Trace, compact, stable_text

__all__ = ["NondeterminismError", "SimHarness", "SimRun", "Simulation"]

T = TypeVar("T")
ServiceBindings = Mapping[str, Any] | Callable[[], Mapping[str, Any]] | None
"""Service objects by name, or a factory of them (``Simulation(services=...)``)."""


class NondeterminismError(AssertionError):
    """Two runs with the same steps, seed and plan gave different traces."""

    def __init__(self, divergence: Divergence) -> None:
        self.divergence = divergence
        super().__init__(
            f"the simulation is not deterministic: {divergence}\n"
            "Something read real time, randomness or I/O the simulator does not control "
            "(os.urandom, secrets, time.perf_counter, a datetime imported before the run, "
            "module-level state carried between runs...)."
        )


@dataclass
class SimRun:
    """The outcome of one simulated run."""

    value: Any
    trace: Trace
    seed: int
    plan: FaultPlan
    fired: list[Fault]
    explored: set[tuple[str, str]]
    world: World
    violation: tuple[str, str] | None = None
    """(invariant name, message) of the first invariant that broke, if any."""
    virtual_seconds: float = 0.0
    error: BaseException | None = None
    """What the scenario raised (only kept by ``execute(..., capture=True)``)."""
    extra: dict[str, Any] = field(default_factory=dict)
    sites: FaultSites | None = None
    """The fault points the run reached (``Simulation(count_sites=True)``)."""


class SimHarness(Harness):
    """The harness a simulated scenario receives: ``Runtime``'s methods plus virtual time."""

    def __init__(
        self,
        engine: Engine,
        clock: VirtualClock,
        trace: Trace,
        plan: FaultPlan,
        spans: list[float] | None = None,
    ) -> None:
        self.clock = clock
        self.trace = trace
        self.plan = plan
        self.fault_free = not plan
        self._spans = spans
        """Where ``advance`` and ``wait_for_topic`` note how long they wait, if given: fuzz draws
        delays just past those spans (``FaultSites.spans``)."""
        self._attach(engine, build_app(engine))

    async def advance(self, seconds: float) -> None:
        if self._spans is not None:
            self._spans.append(seconds)
        await super().advance(seconds)

    async def wait_for_topic(
        self, topic: str, match: Match = None, timeout: float = 5.0
    ) -> Message:
        if self._spans is not None:
            self._spans.append(timeout)
        return await super().wait_for_topic(topic, match, timeout)

    async def settle(self, timeout: float = 86400.0) -> None:
        """As ``Runtime.settle``, in virtual time (a day by default: retries cost nothing)."""
        await super().settle(timeout)

    async def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        body = kwargs.get("json", kwargs.get("content"))
        shown = f" {compact(body)}" if body is not None else ""
        self.trace.add("http", f"{method} {url}{shown}")
        response = await super().request(method, url, **kwargs)
        self.trace._add_response(response)
        return response


def _refuse_unrouted(request: httpx.Request) -> httpx.Response:
    run = CURRENT_RUN.get()
    host = request.url.host
    where = f"step {run.step}" if run is not None else "the scenario"
    raise SimulationEscape(
        f"httpx.request({request.method} {request.url})",
        f"no fake is registered for host {host!r} (the request came from {where}), and a "
        "simulation never reaches the real network",
        f"Register one: Simulation(..., http={{{host!r}: fake}}) or @scenario(http=...), where "
        "fake is an ASGI app (a Starlette app) or a function of the httpx.Request returning an "
        "httpx.Response.",
    )


def _network_observer(trace: Trace) -> Callable[[httpx.Request, Any, Any], None]:
    def observe(request: httpx.Request, response: Any, error: Any) -> None:
        run = CURRENT_RUN.get()
        outcome = f"{response.status_code}" if response is not None else describe_error(error)
        trace.add("net", f"{trace.label(run)} {request.method} {request.url} -> {outcome}",
                  step=run.step if run else None)  # fmt: skip

    return observe


class _AlwaysChecker:
    def __init__(self, invariants: tuple[Invariant, ...], world: World, trace: Trace) -> None:
        self.invariants = [i for i in invariants if i.when == "always"]
        self.world = world
        self.trace = trace
        self.violation: tuple[str, str] | None = None

    def on_run_end(self, run: HandlerRun) -> None:
        if self.violation is not None:
            return
        for invariant in self.invariants:
            try:
                invariant.check(self.world)
            except AssertionError as exc:
                self.violation = (invariant.name, stable_text(str(exc)) or "assertion failed")
                self.trace.add("broken", f"{invariant.name}: {exc}", step=run.step)
                return


class Simulation:
    """Runs a scenario on the real engine with simulated ports, deterministically from ``seed``.

    ``faults`` is a ``FaultPlan`` (or its text). ``services`` override the app's defaults by name:
    a mapping (deep-copied for every run, so fakes start fresh) or a factory returning one.
    ``invariants`` are checked during (``always``) and at the end (``eventually``) of ``execute``.
    ``check_determinism=True`` runs twice and raises ``NondeterminismError`` on any difference.
    ``quiet=False`` lets the runtime's loggers through (the trace records everything anyway).
    ``count_sites=True`` counts every fault point the run reaches (``SimRun.sites``), whatever
    the plan: what ``fuzz`` learns from a fault-free run to aim its faults.
    ``http`` routes the steps' outbound httpx requests by host to fakes (ASGI apps or functions of
    the request): the virtual network. Give a function returning them, called for every run, so
    fakes that keep records start fresh each time (a mapping is used as it is by every run: fine
    for fakes without records). A request to a host without a fake raises ``SimulationEscape``
    naming the host and the step.
    """

    def __init__(
        self,
        steps_dir: str | Path | StepRegistry = "steps",
        *,
        seed: int = 0,
        faults: FaultPlan | str | None = None,
        services: ServiceBindings = None,
        invariants: Iterable[Invariant | Callable[[World], Any]] = (),
        check_determinism: bool = False,
        cron: bool = True,
        quiet: bool = True,
        count_sites: bool = False,
        http: HttpFakes | None = None,
    ) -> None:
        self.registry = steps_dir if isinstance(steps_dir, StepRegistry) else load_steps(steps_dir)
        self.seed = seed
        self.plan = FaultPlan.parse(faults) if isinstance(faults, str) else (faults or FaultPlan())
        self._services = services
        self.invariants = as_invariants(invariants)
        self.check_determinism = check_determinism
        self.cron = cron
        self.quiet = quiet
        self.count_sites = count_sites
        self._http = http
        self.last: SimRun | None = None

    def run(self, scenario: Callable[[SimHarness], Awaitable[T]]) -> T:
        """Run ``await scenario(harness)`` and return its result (the run is kept in ``.last``).

        Raises what the scenario raises, and ``InvariantViolation`` (with the seed, the plan and
        the timeline) when one of ``invariants`` broke.
        """
        run = self.execute(scenario)
        if run.violation is not None:
            name, detail = run.violation
            raise InvariantViolation(
                f"invariant {name!r} broke: {detail}\n  seed: {self.seed}\n"
                f"  fault plan: {self.plan or '(no faults)'}\n\ntimeline:\n{run.trace.timeline()}",
                invariant=name, seed=self.seed, plan=str(self.plan),
            )  # fmt: skip
        return run.value  # type: ignore[no-any-return]

    def execute(
        self, scenario: Callable[[SimHarness], Awaitable[Any]], *, capture: bool = False
    ) -> SimRun:
        """Run the scenario, then (with invariants) settle and check the ``eventually`` ones.

        With ``capture=True`` an exception from the scenario is kept on ``SimRun.error`` (with the
        trace up to it) instead of being raised.
        """
        first = self._once(scenario)
        if self.check_determinism:
            divergence = first.trace.diverges_from(self._once(scenario).trace)
            if divergence is not None:
                raise NondeterminismError(divergence)
        self.last = first
        if first.error is not None and not capture:
            raise first.error
        return first

    def _bindings(self) -> dict[str, Any]:
        # A factory makes fresh objects itself; a mapping is copied so every run starts fresh.
        if callable(self._services):
            given = dict(self._services())
        else:
            given = copy.deepcopy(dict(self._services or {}))
        return {**self.registry.default_services(), **given}

    def _once(self, scenario: Callable[[SimHarness], Awaitable[Any]]) -> SimRun:
        clock = VirtualClock()
        trace = Trace(clock.monotonic)
        schedule = random.Random(f"schedule:{self.seed}")
        injector = FaultInjector(self.plan, schedule, trace, count_sites=self.count_sites)
        raw_services = self._bindings()
        http_fakes = fakes_of(self._http)
        check_plan(self.plan, self.registry, list(raw_services), list(http_fakes))
        calls: list[ServiceCall] = []
        store = SimStateStore(injector, trace)
        transport = SimTransport(clock, injector, schedule, trace)
        engine = Engine(
            self.registry, clock=clock, transport=transport, state=store,
            services=simulated_services(raw_services, injector, trace, calls),
            rng=random.Random(f"engine:{self.seed}"),
            # No threads in a simulation: sync (Motia 1.0) handlers run inline, deterministic.
            sync_handlers="inline",
        )  # fmt: skip

        network = VirtualNetwork(http_fakes, unrouted=_refuse_unrouted,
                                 observe=_network_observer(trace),
                                 intercept=NetworkFaults(injector))  # fmt: skip
        world = World(store, engine.events, engine.runs, transport.held_dead_letters,
                      raw_services, calls, False, http_fakes)  # fmt: skip
        checker = _AlwaysChecker(self.invariants, world, trace)
        # Observers run at every emit and handler run: only the ones this run needs.
        engine.add_observer(trace)
        if injector.observes_runs:
            engine.add_observer(injector)
        if checker.invariants:
            engine.add_observer(checker)

        async def main() -> Any:
            await engine.start()
            scheduler = CronScheduler(engine, injector.cron_lock) if self.cron else None
            if scheduler is not None:
                scheduler.start()
            harness = SimHarness(engine, clock, trace, self.plan, injector.spans)
            try:
                limit = asyncio.timeout(self.time_limit)
                try:
                    async with limit:
                        value = await scenario(harness)
                except TimeoutError:
                    if not limit.expired():
                        raise  # the scenario's own (a TopicTimeout from wait_for_topic...)
                    # Cron timers keep virtual time moving, so a stuck scenario never deadlocks.
                    raise TimeoutError(
                        f"the scenario did not finish within {self.time_limit:g} virtual seconds "
                        "(is it waiting for something that never happens?)"
                    ) from None
                if self.invariants:
                    await self._at_quiescence(harness, world, checker)
                return value
            except Exception as exc:
                trace.add("error", describe_error(exc).split("\n", 1)[0])
                failure.append(exc)
                return None
            finally:
                if scheduler is not None:
                    await scheduler.close()
                await harness.aclose()
                await engine.close()

        failure: list[BaseException] = []
        # Steps' logs would drown a fuzz run (thousands of injected failures); the trace holds
        # everything that happened, so the simulator keeps the runtime's loggers quiet.
        quiet = logging.getLogger("motia")
        level = quiet.level
        quiet.setLevel(logging.CRITICAL if self.quiet else level)
        try:
            with routing(network):  # the loop's tasks inherit the routing context
                value = run_simulated(main, seed=self.seed, clock=clock)
        finally:
            quiet.setLevel(level)
        return SimRun(value, trace, self.seed, self.plan, injector.fired, injector.explored,
                      world, checker.violation, clock.monotonic(),
                      failure[0] if failure else None,
                      sites=injector.sites() if self.count_sites else None)  # fmt: skip

    settle_timeout: float = 7 * 86400.0
    """Virtual seconds a run may take to quiesce after the scenario returns."""
    time_limit: float = 90 * 86400.0
    """Virtual seconds a scenario may run before it counts as stuck."""

    async def _at_quiescence(
        self, harness: SimHarness, world: World, checker: _AlwaysChecker
    ) -> None:
        try:
            await harness.settle(timeout=self.settle_timeout)
        except TimeoutError as exc:
            checker.violation = checker.violation or ("quiescence", str(exc))
            return
        world.quiescent = True
        for invariant in self.invariants:
            if invariant.when != "eventually" or checker.violation is not None:
                continue
            try:
                invariant.check(world)
            except AssertionError as exc:
                checker.violation = (invariant.name, stable_text(str(exc)) or "assertion failed")
                harness.trace.add("broken", f"{invariant.name}: {exc}")
