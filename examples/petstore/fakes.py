"""A fake of the pet store API for tests, the simulator and offline development.

It keeps its orders, honours ``Idempotency-Key`` as a real payment or ordering API does, and is an
ordinary Starlette app: ``motia-rt dev --steps examples/petstore/steps --http
examples/petstore/fakes.py::fakes`` serves the app against it.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

HOST = "petstore.example.test"


def pet_store() -> Starlette:
    orders: list[dict[str, Any]] = []
    by_key: dict[str, dict[str, Any]] = {}

    async def place(request: Request) -> JSONResponse:
        key = request.headers.get("idempotency-key")
        if key is not None and key in by_key:
            return JSONResponse(by_key[key])
        body = await request.json()
        order = {"id": len(orders) + 1, **body}
        orders.append(order)
        if key is not None:
            by_key[key] = order
        return JSONResponse(order)

    async def find(request: Request) -> JSONResponse:
        number = int(request.path_params["id"])
        if not 1 <= number <= len(orders):
            return JSONResponse({"message": "Order not found"}, status_code=404)
        return JSONResponse(orders[number - 1])

    app = Starlette(
        routes=[
            Route("/store/order", place, methods=["POST"]),
            Route("/store/order/{id:int}", find, methods=["GET"]),
        ]
    )
    app.state.orders = orders
    return app


def fakes() -> dict[str, Any]:
    """Fresh fakes, by host (what ``http=`` takes)."""
    return {HOST: pet_store()}
