"""The sandbox a simulation runs in: virtual wall time, seeded randomness, no real I/O.

While ``sandbox(seed, clock)`` is active, in the thread that entered it:

- ``time.time()``, ``time.time_ns()``, ``datetime.datetime.now()``/``utcnow()``/``today()`` and
  ``datetime.date.today()`` read ``clock.now()`` (the C ``today()`` methods call ``time.time``, so
  even ``from datetime import date`` gets virtual dates);
- the global ``random`` module is seeded from ``seed`` (its state is restored afterwards);
- ``uuid.uuid4()`` draws valid version-4 UUIDs from a ``random.Random`` seeded from ``seed``;
- real I/O raises ``SimulationEscape`` naming the call: socket creation, DNS lookups,
  ``socket.create_connection``, ``threading.Thread.start``, ``subprocess.Popen``, ``os.system``,
  ``asyncio.to_thread`` and the blocking ``time.sleep``.

Other threads keep the real behaviour, so pytest, Hypothesis or a logging thread running beside the
simulation are unaffected.

Left alone on purpose:

- ``time.monotonic`` and ``time.perf_counter``: Hypothesis (deadlines, health checks) and pytest
  (durations) time themselves with them; the event loop gets virtual time through ``loop.time()``.
- ``os.urandom``, ``secrets``, ``random.SystemRandom`` and unseeded ``random.Random()`` instances:
  they are the uncontrolled path that the determinism check (run the same seed twice and compare
  the traces) exists to catch.

Known limitation: patches replace module attributes, so a name bound before the sandbox was
entered keeps the real object (``from datetime import datetime`` then ``datetime.now()``,
``from time import time``, ``from uuid import uuid4``). Inside the sandbox ``datetime.datetime`` is
a stand-in: ``isinstance`` and ``issubclass`` answer for the real class and every value it returns
is a real ``datetime``, but ``type(x) is datetime.datetime`` is false and pickling a ``datetime``
fails. The determinism check is what catches a time read that slipped past the sandbox.
"""

from __future__ import annotations

import asyncio
import datetime as _dt
import os
import random
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from motia_sim._loop import VirtualClock

__all__ = ["SimulationEscape", "sandbox"]

_NETWORK = (
    "real I/O (sockets, DNS, pipes) leaves the simulated world, and the seed controls neither "
    "its timing nor its results"
)
_THREADS = (
    "a thread runs outside the deterministic event loop, so the interleaving stops being "
    "reproducible"
)
_PROCESSES = (
    "a subprocess runs outside the simulated world, and the seed controls neither its timing "
    "nor its output"
)
_USE_SERVICES = (
    "Reach external systems through context.services and bind a fake for the simulation "
    "(Simulation(services={...}))."
)


def _use_fake_for(host: str) -> str:
    return (
        f"Call HTTP APIs with httpx (httpx.Client, httpx.AsyncClient or an SDK built on them), "
        f"which the simulator routes by host to a fake: Simulation(..., http={{{host!r}: "
        "asgi_app_or_function}); requests and aiohttp are not routed. Or reach the system "
        "through context.services with a fake bound for the simulation."
    )


_RUN_INLINE = (
    "Call the function directly or make it async: in virtual time, work takes no time anyway."
)


class SimulationEscape(RuntimeError):
    """Code inside a simulation tried to reach the real world (network, threads, processes).

    ``call`` names the forbidden call (``"socket.getaddrinfo"``), ``reason`` says why the simulator
    forbids it and ``instead`` what to do; the message holds all three.
    """

    def __init__(self, call: str, reason: str, instead: str) -> None:
        self.call = call
        self.reason = reason
        self.instead = instead
        called = call if call.endswith(")") else f"{call}()"
        super().__init__(f"{called} was called inside a simulation: {reason}. {instead}")

    def __reduce__(self) -> tuple[type[SimulationEscape], tuple[str, str, str]]:
        return (type(self), (self.call, self.reason, self.instead))

    @classmethod
    def network(cls, call: str, args: tuple[Any, ...] = ()) -> SimulationEscape:
        """Real network I/O refused; ``args`` of the call name the host when they hold one."""
        host = _host_in(args)
        if host is None:
            return cls(call, _NETWORK, _USE_SERVICES)
        return cls(call, f"{_NETWORK} (it was for host {host!r})", _use_fake_for(host))

    @classmethod
    def threads(cls, call: str) -> SimulationEscape:
        return cls(call, _THREADS, _RUN_INLINE)

    @classmethod
    def processes(cls, call: str) -> SimulationEscape:
        return cls(call, _PROCESSES, _USE_SERVICES)


class _Active:
    __slots__ = ("clock", "thread", "uuids")

    def __init__(self, clock: VirtualClock, seed: int) -> None:
        self.clock = clock
        self.thread = threading.get_ident()
        # A string seed is hashed with SHA-512, so this stream is stable across processes and
        # independent of the global ``random`` stream seeded with the same integer.
        self.uuids = random.Random(f"motia-sim/uuid4/{seed}")


_active: _Active | None = None
_install_lock = threading.Lock()
_get_ident = threading.get_ident


def _current() -> _Active | None:
    """The active sandbox if the calling thread is the one that entered it."""
    active = _active
    if active is not None and active.thread == _get_ident():
        return active
    return None


_real_time = time.time
_real_time_ns = time.time_ns
_real_datetime = _dt.datetime


def _time() -> float:
    active = _current()
    return _real_time() if active is None else active.clock.now()


def _time_ns() -> int:
    active = _current()
    return _real_time_ns() if active is None else int(active.clock.now() * 1_000_000_000)


_real_sleep = time.sleep


def _sleep(seconds: float) -> None:
    if _current() is None:
        return _real_sleep(seconds)
    raise SimulationEscape(
        "time.sleep",
        "it blocks the event loop in real time and does not advance virtual time",
        "Use `await asyncio.sleep(seconds)`, which advances virtual time.",
    )


_real_uuid4 = uuid.uuid4


def _uuid4() -> uuid.UUID:
    active = _current()
    if active is None:
        return _real_uuid4()
    return uuid.UUID(int=active.uuids.getrandbits(128), version=4)


def _host_in(args: tuple[Any, ...]) -> str | None:
    """The host of ``getaddrinfo(host, port)`` or ``create_connection((host, port))``."""
    first = args[0] if args else None
    if isinstance(first, tuple) and first:
        first = first[0]
    if isinstance(first, bytes):
        first = first.decode("ascii", "replace")
    return first if isinstance(first, str) and first else None


def _forbidden(call: str, real: Callable[..., Any], escape: SimulationEscape) -> Callable[..., Any]:
    def forbidden(*args: Any, **kwargs: Any) -> Any:
        if _current() is None:
            return real(*args, **kwargs)
        if escape.reason == _NETWORK:
            raise SimulationEscape.network(escape.call, args)
        raise SimulationEscape(escape.call, escape.reason, escape.instead)

    forbidden.__name__ = call.rsplit(".", 1)[-1]
    forbidden.__qualname__ = call
    forbidden.__doc__ = f"{call}, forbidden inside a simulation (motia_sim sandbox)."
    return forbidden


class _StandIn(type):
    """Metaclass of a class stand-in: type checks and class attributes answer for the real
    class, so ``isinstance(x, socket.socket)`` keeps working while the stand-in is patched in.
    """

    _real: type
    _escape: SimulationEscape | None

    def __instancecheck__(cls, instance: Any) -> bool:
        return isinstance(instance, cls._real)

    def __subclasscheck__(cls, subclass: type) -> bool:
        return subclass is cls or issubclass(subclass, cls._real)

    def __getattr__(cls, name: str) -> Any:
        return getattr(cls._real, name)

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        escape = cls._escape
        if escape is not None and _current() is not None:
            raise SimulationEscape(escape.call, escape.reason, escape.instead)
        return cls._real(*args, **kwargs)


def _stand_in(real: type, escape: SimulationEscape | None, **methods: Any) -> _StandIn:
    namespace = {"_real": real, "_escape": escape, "__module__": real.__module__, **methods}
    namespace["__doc__"] = real.__doc__
    cls = _StandIn(real.__name__, (), namespace)
    cls.__qualname__ = real.__qualname__
    return cls


def _now(cls: type, tz: _dt.tzinfo | None = None) -> _dt.datetime:
    active = _current()
    if active is None:
        return _real_datetime.now(tz)
    return _real_datetime.fromtimestamp(active.clock.now(), tz)


def _utcnow(cls: type) -> _dt.datetime:
    active = _current()
    if active is None:
        return _real_datetime.utcnow()
    return _real_datetime.fromtimestamp(active.clock.now(), _dt.UTC).replace(tzinfo=None)


# ``today()`` needs no stand-in: the C implementation calls ``time.time()``, which is patched.
_Datetime = _stand_in(_real_datetime, None, now=classmethod(_now), utcnow=classmethod(_utcnow))
_Socket = _stand_in(socket.socket, SimulationEscape.network("socket.socket"))
_Popen = _stand_in(subprocess.Popen, SimulationEscape.processes("subprocess.Popen"))


def _forbid(
    owner: Any, name: str, escape: Callable[[str], SimulationEscape], call: str = ""
) -> tuple[Any, str, Any]:
    call = call or f"{owner.__name__}.{name}"
    return (owner, name, _forbidden(call, getattr(owner, name), escape(call)))


_NET = SimulationEscape.network
# (owner, attribute, replacement). Built once at import: installing is a few dozen setattr calls.
_PATCHES: tuple[tuple[Any, str, Any], ...] = (
    (time, "time", _time),
    (time, "time_ns", _time_ns),
    (time, "sleep", _sleep),
    (_dt, "datetime", _Datetime),
    (uuid, "uuid4", _uuid4),
    (socket, "socket", _Socket),
    *(
        _forbid(socket, name, _NET)
        for name in (
            "socketpair",
            "fromfd",
            "create_connection",
            "create_server",
            "getaddrinfo",
            "getnameinfo",
            "gethostbyname",
            "gethostbyname_ex",
            "gethostbyaddr",
        )
    ),
    _forbid(threading.Thread, "start", SimulationEscape.threads, "threading.Thread.start"),
    (subprocess, "Popen", _Popen),
    _forbid(os, "system", SimulationEscape.processes),
    _forbid(asyncio, "to_thread", SimulationEscape.threads),
    _forbid(asyncio.threads, "to_thread", SimulationEscape.threads, "asyncio.to_thread"),
)


@contextmanager
def sandbox(seed: int, clock: VirtualClock) -> Iterator[None]:
    """Make the calling thread's nondeterminism sources deterministic and real I/O an error.

    Parameters: ``seed`` seeds the global ``random`` module and ``uuid.uuid4``; ``clock`` supplies
    wall time. Every patch is restored on exit, also when the body raises, and the global ``random``
    state is put back as it was.

    Raises ``RuntimeError`` if a sandbox is already active in this process: the patches are
    process-wide, so simulations cannot nest or run in parallel threads (use processes).
    """
    global _active
    with _install_lock:
        if _active is not None:
            raise RuntimeError(
                "a simulation sandbox is already active in this process; simulations cannot be "
                "nested or run in parallel threads (run them one after another, or in processes)"
            )
        _active = _Active(clock, seed)
    saved_random = random.getstate()
    saved = [(owner, name, getattr(owner, name)) for owner, name, _ in _PATCHES]
    try:
        for owner, name, replacement in _PATCHES:
            setattr(owner, name, replacement)
        random.seed(seed)
        yield
    finally:
        for owner, name, original in reversed(saved):
            setattr(owner, name, original)
        random.setstate(saved_random)
        _active = None
