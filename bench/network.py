"""Area 8, the virtual network: a step's httpx call routed by host to its fake, against calling
the fake directly, both in one event loop (what routing costs per call).

Calls per second of ``client.post`` on an ``httpx.AsyncClient`` whose request the virtual network
hands to a function fake, against the same fake called with an ``httpx.Request`` built by hand;
and the same for an ASGI fake (a Starlette route) against ``httpx.ASGITransport``, which is what
a test without the virtual network would use. Info rows: the price of "steps unchanged".
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from motia_rt.network import VirtualNetwork, routing

from ._measure import paired
from ._report import Row, compare

__all__ = ["run"]

AREA = "8"
CALLS = 5_000


def _fake(request: httpx.Request) -> httpx.Response:
    return httpx.Response(200, json={"ok": True})


def _app() -> Starlette:
    async def ok(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True})

    return Starlette(routes=[Route("/charge", ok, methods=["POST"])])


def _rate(body: Callable[[], Awaitable[None]], calls: int) -> float:
    async def main() -> float:
        start = time.perf_counter()
        for _ in range(calls):
            await body()
        return calls / (time.perf_counter() - start)

    return asyncio.run(main())


def routed(fake: object, calls: int) -> float:
    """Calls per second through a module-level-style client and the virtual network."""
    network = VirtualNetwork({"api.bench.test": fake})
    client = httpx.AsyncClient(base_url="https://api.bench.test")

    async def call() -> None:
        (await client.post("/charge", json={"amount": 1})).json()

    with routing(network):
        return _rate(call, calls)


def direct_function(calls: int) -> float:
    """The function fake called with a request built by hand: no client, no routing."""

    async def call() -> None:
        _fake(httpx.Request("POST", "https://api.bench.test/charge", json={"amount": 1})).json()

    return _rate(call, calls)


def direct_asgi(calls: int) -> float:
    """The ASGI fake through ``httpx.ASGITransport``: a test's client without the network."""
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=_app()),
                               base_url="https://api.bench.test")  # fmt: skip

    async def call() -> None:
        (await client.post("/charge", json={"amount": 1})).json()

    return _rate(call, calls)


def run(quick: bool) -> list[Row]:
    calls, n = (500, 3) if quick else (CALLS, 5)
    rows = []
    fn, fn_base = paired(lambda: routed(_fake, calls), lambda: direct_function(calls), n)
    rows.append(compare(AREA, "virtual network: httpx call to a function fake", "calls/s", fn,
                        "the fake called directly (request built by hand)", fn_base,
                        note="what a step's own httpx call costs over the bare fake"))  # fmt: skip
    asgi, asgi_base = paired(lambda: routed(_app(), calls), lambda: direct_asgi(calls), n)
    rows.append(compare(AREA, "virtual network: httpx call to an ASGI fake", "calls/s", asgi,
                        "httpx.ASGITransport to the same app", asgi_base,
                        note="routing by host against a client bound to the app"))  # fmt: skip
    return rows
