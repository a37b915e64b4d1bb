"""A deterministic asyncio event loop with virtual time.

``SimLoop`` is a stock ``asyncio.SelectorEventLoop`` built on a selector that never waits: when the
loop would block for ``timeout`` seconds, the selector moves the virtual clock forward by exactly
that much and reports no I/O, so time jumps straight to the next timer. ``time()`` reads the same
clock. Everything else (ready queue, timer heap, tasks) is asyncio's own code, so Starlette,
httpx's ``ASGITransport``, pydantic, ``asyncio.wait_for``/``timeout``/``Event`` and task groups run
unchanged.

Determinism: given the same seed and the same code, callbacks run in the same order at the same
virtual times. Ready callbacks run FIFO; timers due at the same instant run in timer-heap order,
which is a pure function of the sequence of schedule/cancel operations (asyncio's own tie-breaking,
not FIFO); default task names count per loop (``Task-1``, ``Task-2``...) instead of per process.
"""

from __future__ import annotations

import asyncio
import inspect
import selectors
import weakref
from collections.abc import Callable, Coroutine, Generator, Mapping
from contextvars import Context
from typing import Any, NoReturn, TypeVar, TypeVarTuple

from motia_sim._sandbox import SimulationEscape, sandbox

__all__ = ["Deadlock", "SimLoop", "SimulationEscape", "VirtualClock", "run_simulated"]

T = TypeVar("T")
Ts = TypeVarTuple("Ts")


class Deadlock(RuntimeError):
    """Nothing is runnable and no timer is pending: the simulation can never make progress."""


class VirtualClock:
    """Virtual time for one simulation; implements ``motia_rt.ports.Clock``.

    ``start_epoch`` is the wall time at virtual second 0 (default 2026-01-01T00:00:00Z). Only the
    ``SimLoop`` built on this clock moves it, and only forward, so it is the single source of truth
    for ``loop.time()``, ``now()`` and ``monotonic()``.
    """

    __slots__ = ("_elapsed", "_start_epoch")

    def __init__(self, start_epoch: float = 1_767_225_600.0) -> None:
        self._start_epoch = start_epoch
        self._elapsed = 0.0

    def now(self) -> float:
        """Virtual wall time: ``start_epoch`` plus the virtual seconds elapsed."""
        return self._start_epoch + self._elapsed

    def monotonic(self) -> float:
        """Virtual seconds since the clock was created (0.0 at start); equals ``loop.time()``."""
        return self._elapsed

    async def sleep(self, seconds: float) -> None:
        """``asyncio.sleep`` on the ``SimLoop`` of this clock; costs no wall time.

        Raises ``RuntimeError`` when the running loop is not driven by this clock (the sleep would
        take real time and leave this clock where it is).
        """
        loop = asyncio.get_running_loop()
        if not isinstance(loop, SimLoop) or loop.clock is not self:
            raise RuntimeError(
                "VirtualClock.sleep() must run on the SimLoop driven by this clock; "
                "run the code with run_simulated(..., clock=clock)"
            )
        await asyncio.sleep(seconds)

    def __repr__(self) -> str:
        return f"VirtualClock(t={self._elapsed!r}, start_epoch={self._start_epoch!r})"


class _VirtualSelector(selectors.BaseSelector):
    """Accepts registrations (only the loop's self-pipe ever registers) and never reports I/O.

    ``select(timeout)`` is the one place where virtual time passes.
    """

    def __init__(self, clock: VirtualClock, deadlock: Callable[[], Deadlock]) -> None:
        self._clock = clock
        self._deadlock = deadlock
        self._keys: dict[int, selectors.SelectorKey] = {}

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = selectors.SelectorKey(fileobj, _fd(fileobj), events, data)
        if key.fd in self._keys:
            raise KeyError(f"{fileobj!r} is already registered")
        self._keys[key.fd] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._keys.pop(_fd(fileobj))

    def get_key(self, fileobj: Any) -> selectors.SelectorKey:
        return self._keys[_fd(fileobj)]

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._keys

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        # asyncio passes None only when nothing is ready and no timer is scheduled; a real loop
        # would wait for I/O, but nothing outside a simulation can wake it.
        if timeout is None:
            raise self._deadlock()
        if timeout > 0:
            self._clock._elapsed += timeout
        return []

    def close(self) -> None:
        self._keys.clear()


def _fd(fileobj: Any) -> int:
    return fileobj if isinstance(fileobj, int) else int(fileobj.fileno())


def _forbidden(call: str, escape: Callable[[str], SimulationEscape]) -> Any:
    def method(self: SimLoop, *args: object, **kwargs: object) -> NoReturn:
        if (
            escape is _NET
        ):  # name the host: create_connection(factory, host, ...), getaddrinfo(host)
            where = args[1:] if call == "loop.create_connection" else args
            raise SimulationEscape.network(call, (kwargs["host"],) if "host" in kwargs else where)
        raise escape(call)

    method.__name__ = method.__qualname__ = call.removeprefix("loop.")
    method.__doc__ = f"Forbidden in a simulation: raises SimulationEscape naming {call}()."
    return method


def _signals(call: str) -> SimulationEscape:
    return SimulationEscape(
        call,
        "signals come from the real process, outside the simulated world",
        "Stop the simulated system from the test instead (cancel its tasks or call its close()).",
    )


_NET = SimulationEscape.network


class SimLoop(asyncio.SelectorEventLoop):
    """An asyncio loop whose ``time()`` is ``clock.monotonic()`` and whose idle waits advance it.

    Guarantees: no callback ever waits for wall time; when nothing is runnable the clock jumps to
    the next timer; when nothing is runnable and no timer exists, ``run_until_complete`` raises
    ``Deadlock`` listing the pending tasks. ``call_soon_threadsafe`` schedules without a wakeup
    (the loop never blocks). Executors, sockets, DNS, pipes, subprocesses and signal handlers raise
    ``SimulationEscape`` naming the method.
    """

    def __init__(self, clock: VirtualClock) -> None:
        self._sim_clock = clock
        self._sim_tasks_created = 0
        # Weak references in creation order, so leftover tasks are cancelled and listed in an order
        # that does not depend on memory addresses (``asyncio.all_tasks`` is a set).
        self._sim_created: list[weakref.ref[asyncio.Task[Any]]] = []
        self._sim_prune_at = 1024
        super().__init__(_VirtualSelector(clock, self._deadlock))

    @property
    def clock(self) -> VirtualClock:
        return self._sim_clock

    def time(self) -> float:
        return self._sim_clock._elapsed

    def create_task(
        self,
        coro: Generator[Any, None, T] | Coroutine[Any, Any, T],
        *,
        name: object = None,
        context: Context | None = None,
    ) -> asyncio.Task[T]:
        self._sim_tasks_created += 1
        if name is None:
            name = f"Task-{self._sim_tasks_created}"
        task = super().create_task(coro, name=name, context=context)
        created = self._sim_created
        created.append(weakref.ref(task))
        if len(created) >= self._sim_prune_at:
            self._sim_created = [ref for ref in created if _pending(ref())]
            self._sim_prune_at = max(1024, 2 * len(self._sim_created))
        return task

    def pending_tasks(self) -> list[asyncio.Task[Any]]:
        """Tasks of this loop that are not done, in creation order."""
        tasks = (ref() for ref in self._sim_created)
        return [task for task in tasks if task is not None and not task.done()]

    def call_soon_threadsafe(
        self,
        callback: Callable[[*Ts], object],
        *args: *Ts,
        context: Context | None = None,
    ) -> asyncio.Handle:
        # The virtual selector never blocks, so no self-pipe wakeup is needed (or ever read).
        return self.call_soon(callback, *args, context=context)

    def _deadlock(self) -> Deadlock:
        lines = [
            f"Deadlock at virtual t={self.time()!r}s: no task can make progress and no timer is "
            "scheduled, so nothing will ever happen again. Something awaits a future, event, "
            "lock or queue that nothing left can resolve (a missing set()/put()/emit, or a lost "
            "message)."
        ]
        tasks = self.pending_tasks()
        lines.append(f"Pending tasks ({len(tasks)}):" if tasks else "No pending tasks.")
        lines.extend(f"  {task.get_name()}: {_suspended_at(task)}" for task in tasks)
        return Deadlock("\n".join(lines))

    run_in_executor = _forbidden("loop.run_in_executor", SimulationEscape.threads)
    subprocess_exec = _forbidden("loop.subprocess_exec", SimulationEscape.processes)
    subprocess_shell = _forbidden("loop.subprocess_shell", SimulationEscape.processes)
    add_signal_handler = _forbidden("loop.add_signal_handler", _signals)
    getaddrinfo = _forbidden("loop.getaddrinfo", _NET)
    getnameinfo = _forbidden("loop.getnameinfo", _NET)
    create_connection = _forbidden("loop.create_connection", _NET)
    create_server = _forbidden("loop.create_server", _NET)
    create_datagram_endpoint = _forbidden("loop.create_datagram_endpoint", _NET)
    create_unix_connection = _forbidden("loop.create_unix_connection", _NET)
    create_unix_server = _forbidden("loop.create_unix_server", _NET)
    connect_accepted_socket = _forbidden("loop.connect_accepted_socket", _NET)
    connect_read_pipe = _forbidden("loop.connect_read_pipe", _NET)
    connect_write_pipe = _forbidden("loop.connect_write_pipe", _NET)
    start_tls = _forbidden("loop.start_tls", _NET)
    sendfile = _forbidden("loop.sendfile", _NET)
    sock_accept = _forbidden("loop.sock_accept", _NET)
    sock_connect = _forbidden("loop.sock_connect", _NET)
    sock_recv = _forbidden("loop.sock_recv", _NET)
    sock_recv_into = _forbidden("loop.sock_recv_into", _NET)
    sock_recvfrom = _forbidden("loop.sock_recvfrom", _NET)
    sock_recvfrom_into = _forbidden("loop.sock_recvfrom_into", _NET)
    sock_sendall = _forbidden("loop.sock_sendall", _NET)
    sock_sendto = _forbidden("loop.sock_sendto", _NET)
    sock_sendfile = _forbidden("loop.sock_sendfile", _NET)
    add_reader = _forbidden("loop.add_reader", _NET)
    add_writer = _forbidden("loop.add_writer", _NET)


def _pending(task: asyncio.Task[Any] | None) -> bool:
    return task is not None and not task.done()


def _suspended_at(task: asyncio.Task[Any]) -> str:
    """``coro()`` and the innermost ``file:line`` where the task's await chain is suspended."""
    coro: Any = task.get_coro()
    where = ""
    awaited: Any = coro
    for _ in range(100):  # await chains are short; the bound only guards against odd awaitables
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None)
        if frame is not None:
            where = f" at {frame.f_code.co_filename}:{frame.f_lineno}"
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
        if awaited is None:
            break
    return f"{getattr(coro, '__qualname__', type(coro).__name__)}(){where}"


def run_simulated(
    main: Callable[[], Coroutine[Any, Any, T]], *, seed: int, clock: VirtualClock | None = None
) -> T:
    """Run ``main()`` to completion on a fresh ``SimLoop`` inside ``sandbox(seed, clock)``.

    Parameters: ``main`` is the coroutine function (not a coroutine) to run, as the task named
    ``"main"``; ``seed`` seeds ``random`` and ``uuid.uuid4``; ``clock`` defaults to a new
    ``VirtualClock`` (pass one to read virtual time afterwards or to continue from it).

    Returns what ``main()`` returns and re-raises what it raises. Afterwards, tasks still pending
    are cancelled in creation order and awaited, async generators are closed, the loop is closed
    and every sandbox patch is restored; all of that also when ``main()`` fails.

    Errors: ``Deadlock`` if the simulation can never finish; ``SimulationEscape`` for real I/O;
    ``RuntimeError`` if an asyncio loop is already running in this thread. Does not read or set
    the event loop policy, so it works under any policy, in plain tests and in Hypothesis tests.
    """
    if inspect.iscoroutine(main):
        main.close()
        raise TypeError("run_simulated() takes a coroutine function: pass `main`, not `main()`")
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        pass
    else:
        raise RuntimeError(
            "run_simulated() was called while an asyncio event loop is running in this thread. "
            "It runs its own loop, so call it from synchronous code: a plain `def` test, not "
            "`async def`, and not from inside a coroutine."
        )
    loop = SimLoop(clock if clock is not None else VirtualClock())
    try:
        with sandbox(seed, loop.clock):
            task = loop.create_task(main(), name="main")
            try:
                result = loop.run_until_complete(task)
            except BaseException:
                _shut_down(loop, main_failed=True)
                raise
            _shut_down(loop, main_failed=False)
            return result
    finally:
        loop.close()


def _shut_down(loop: SimLoop, *, main_failed: bool) -> None:
    """Cancel leftover tasks in creation order and close async generators, like ``asyncio.run``.

    A cleanup that deadlocks (a task that ignores cancellation and waits forever) raises
    ``Deadlock``, unless ``main()`` already failed: its error is the one worth seeing.
    """
    try:
        leftovers = loop.pending_tasks()
        for task in leftovers:
            task.cancel()
        if leftovers:
            loop.run_until_complete(asyncio.gather(*leftovers, return_exceptions=True))
        for task in leftovers:
            if not task.cancelled() and task.exception() is not None:
                loop.call_exception_handler(
                    {
                        "message": "unhandled exception while run_simulated() cancelled a task",
                        "exception": task.exception(),
                        "task": task,
                    }
                )
        loop.run_until_complete(loop.shutdown_asyncgens())
    except Deadlock:
        if not main_failed:
            raise
