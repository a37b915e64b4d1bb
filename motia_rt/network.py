"""Outbound HTTP routed by host to fakes: the virtual network.

Steps that call HTTP APIs directly (httpx, or an SDK built on it such as ``openai``), often through a
client created at import time, reach the outside world without ``context.services``. While a
``VirtualNetwork`` is routing (``routing(network)``), every request that an ``httpx.Client`` or
``httpx.AsyncClient`` sends through its default transport goes to the fake registered for the
request's host instead:

- an ASGI app (a Starlette app is the natural fake), called in-process; or
- a function of the ``httpx.Request`` returning an ``httpx.Response``, sync or async (the signature
  of ``httpx.MockTransport``'s handler).

A host without a fake goes to the real network, unless the network was built with ``unrouted``,
which then decides (the simulator refuses, naming the host and the step). Routing applies to the
tasks started inside ``routing(...)`` (a context variable), so two runtimes in one process do not
see each other's fakes, and other threads keep the real network.

``requests`` and ``aiohttp`` are not routed: in the simulator their sockets are refused, with a
message that names the host and says to use httpx.
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any, Protocol, TypeAlias

import httpx
import sniffio

from .recording import Recorder

__all__ = ["HttpFake", "HttpFakes", "Interceptor", "VirtualNetwork", "routing"]

HttpFake: TypeAlias = Any
"""An ASGI app, or a function ``(httpx.Request) -> httpx.Response`` (sync or async)."""
HttpFakes: TypeAlias = Mapping[str, HttpFake] | Callable[[], Mapping[str, HttpFake]]
"""Fakes by host (``"api.stripe.test"``, or ``"localhost:8080"`` for one port), or a factory
returning them (called once per run, so every run starts with fresh fakes)."""
Unrouted: TypeAlias = Callable[[httpx.Request], httpx.Response]
"""What to do with a request to a host that has no fake (raise, typically)."""
Observer: TypeAlias = Callable[
    [httpx.Request, "httpx.Response | None", "BaseException | None"], None
]


class Interceptor(Protocol):
    """Stands between a routed request and its fake (the simulator's network faults): gets the
    request, the host it is routed to, and how to send it to the fake; returns the response."""

    async def exchange(
        self, request: httpx.Request, host: str, send: Callable[[], Awaitable[httpx.Response]]
    ) -> httpx.Response: ...

    def exchange_sync(
        self, request: httpx.Request, host: str, send: Callable[[], httpx.Response]
    ) -> httpx.Response: ...


class VirtualNetwork:
    """Fakes by host. ``unrouted`` handles requests to other hosts (default: the real network);
    ``observe`` is told of every routed exchange (the simulator's trace)."""

    def __init__(
        self,
        fakes: Mapping[str, HttpFake],
        *,
        unrouted: Unrouted | None = None,
        observe: Observer | None = None,
        recorder: Recorder | None = None,
        intercept: Interceptor | None = None,
    ) -> None:
        self._routes = {host.lower(): _Route(host, fake) for host, fake in fakes.items()}
        self.unrouted = unrouted
        self.observe = observe
        self.recorder = recorder
        """Writes down every exchange with the real network (not those with fakes)."""
        self.intercept = intercept

    @property
    def hosts(self) -> list[str]:
        return sorted(self._routes)

    def route(self, request: httpx.Request) -> _Route | None:
        url = request.url
        host = (url.host or "").lower()
        if url.port is not None:
            found = self._routes.get(f"{host}:{url.port}")
            if found is not None:
                return found
        return self._routes.get(host)

    async def send_async(self, request: httpx.Request) -> httpx.Response | None:
        """The fake's response, or None when the request is for the real network."""
        route = self.route(request)
        if route is None:
            return self._unrouted(request)
        try:
            if self.intercept is None:
                response = await route.send_async(request)
            else:
                response = await self.intercept.exchange(
                    request, route.host, lambda: route.send_async(request)
                )
        except BaseException as exc:
            self._observe(request, None, exc)
            raise
        self._observe(request, response, None)
        return response

    def send_sync(self, request: httpx.Request) -> httpx.Response | None:
        route = self.route(request)
        if route is None:
            return self._unrouted(request)
        try:
            if self.intercept is None:
                response = route.send_sync(request)
            else:
                response = self.intercept.exchange_sync(
                    request, route.host, lambda: route.send_sync(request)
                )
        except BaseException as exc:
            self._observe(request, None, exc)
            raise
        self._observe(request, response, None)
        return response

    def _unrouted(self, request: httpx.Request) -> httpx.Response | None:
        return None if self.unrouted is None else self.unrouted(request)

    def _observe(
        self, request: httpx.Request, response: httpx.Response | None, error: BaseException | None
    ) -> None:
        if self.observe is not None:
            self.observe(request, response, error)


class _Route:
    """One host's fake, called the way it wants to be called."""

    def __init__(self, host: str, fake: HttpFake) -> None:
        self.host = host
        self.asgi = _is_asgi(fake)
        self._fake = fake
        self._transport = httpx.ASGITransport(app=fake) if self.asgi else None

    async def send_async(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        if self._transport is not None:
            response = await self._transport.handle_async_request(request)
            return _complete(request, response, await response.aread())
        result = self._fake(request)
        if inspect.isawaitable(result):
            result = await result
        return self._checked(request, result)

    def send_sync(self, request: httpx.Request) -> httpx.Response:
        request.read()
        if self._transport is not None:
            transport = self._transport

            async def exchange() -> httpx.Response:
                response = await transport.handle_async_request(request)
                return _complete(request, response, await response.aread())

            return _run_without_loop(exchange(), self.host)
        result = self._fake(request)
        if inspect.isawaitable(result):
            result = _run_without_loop(result, self.host)
        return self._checked(request, result)

    def _checked(self, request: httpx.Request, result: Any) -> httpx.Response:
        if not isinstance(result, httpx.Response):
            raise TypeError(
                f"the fake for {self.host!r} returned {type(result).__name__}, not an "
                "httpx.Response: return httpx.Response(200, json={...})"
            )
        return _complete(request, result, result.read())


def _complete(request: httpx.Request, response: httpx.Response, body: bytes) -> httpx.Response:
    """A fresh response with its whole body, usable by sync and async clients alike."""
    return httpx.Response(
        response.status_code, headers=response.headers, content=body, request=request
    )


def _is_asgi(fake: HttpFake) -> bool:
    try:
        params = inspect.signature(fake).parameters
    except (TypeError, ValueError):
        return False
    positional = [
        p for p in params.values() if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
    ]
    return len(positional) == 3


def _run_without_loop(awaitable: Awaitable[httpx.Response], host: str) -> httpx.Response:
    """Run a fake's coroutine to its end without an event loop: a sync client's request is
    answered while the loop is blocked in the caller, so the fake must not wait on the loop."""
    coro = awaitable.__await__()
    # httpx's ASGITransport asks sniffio which async library runs it; outside a loop, none does.
    token = sniffio.current_async_library_cvar.set("asyncio")
    try:
        coro.send(None)
    except StopIteration as done:
        return done.value  # type: ignore[no-any-return]
    finally:
        sniffio.current_async_library_cvar.reset(token)
    coro.close()
    raise RuntimeError(
        f"the fake for {host!r} waited on the event loop while answering a sync httpx.Client "
        "request, which blocks the loop: use httpx.AsyncClient in the step, or a fake that "
        "answers without awaiting (a plain function, or an ASGI app whose route does not wait)"
    )


_NETWORK: ContextVar[VirtualNetwork | None] = ContextVar("motia_virtual_network", default=None)
_patched = False


@contextmanager
def routing(network: VirtualNetwork) -> Iterator[VirtualNetwork]:
    """Route httpx requests made in this context (and the tasks it starts) through ``network``."""
    _install()
    previous = _NETWORK.get()
    token = _NETWORK.set(network)
    try:
        yield network
    finally:
        try:
            _NETWORK.reset(token)
        except ValueError:  # left from another task than the one that entered (a fixture's)
            _NETWORK.set(previous)


def _install() -> None:
    """Wrap the default httpx transports once: clients made at import time use them too."""
    global _patched
    if _patched:
        return
    _patched = True
    real_sync = httpx.HTTPTransport.handle_request
    real_async = httpx.AsyncHTTPTransport.handle_async_request

    def handle_request(self: httpx.HTTPTransport, request: httpx.Request) -> httpx.Response:
        network = _NETWORK.get()
        if network is None:
            return real_sync(self, request)
        response = network.send_sync(request)
        if response is not None:
            return response
        if network.recorder is None:
            return real_sync(self, request)
        real = real_sync(self, request)
        response = _complete(request, real, real.read())
        network.recorder.record(request, response)
        return response

    async def handle_async_request(
        self: httpx.AsyncHTTPTransport, request: httpx.Request
    ) -> httpx.Response:
        network = _NETWORK.get()
        if network is None:
            return await real_async(self, request)
        response = await network.send_async(request)
        if response is not None:
            return response
        if network.recorder is None:
            return await real_async(self, request)
        real = await real_async(self, request)
        response = _complete(request, real, await real.aread())
        network.recorder.record(request, response)
        return response

    httpx.HTTPTransport.handle_request = handle_request  # type: ignore[method-assign]
    httpx.AsyncHTTPTransport.handle_async_request = handle_async_request  # type: ignore[method-assign]


def fakes_of(given: HttpFakes | None) -> dict[str, HttpFake]:
    """The fakes of one run: a factory is called, a mapping used as it is."""
    if given is None:
        return {}
    return dict(given() if callable(given) else given)
