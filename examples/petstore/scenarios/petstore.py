"""Scenarios of the pet store example: each runs in the simulator (plain and fuzzed) and on the
runtime, with the pet store API faked by host (``fakes.py`` beside ``steps/``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from motia_rt.references import load_module
from motia_sim import World, scenario

fakes_module = load_module(Path(__file__).parent.parent / "fakes.py")
HOST: str = fakes_module.HOST


def each_request_placed_at_most_once(world: World) -> None:
    """However often a request is delivered or retried, the store holds one order for it."""
    orders = world.http[HOST].state.orders if HOST in world.http else []
    requests = world.emitted("pet-order.requested")
    assert len(orders) <= len(requests), (
        f"the pet store holds {len(orders)} orders for {len(requests)} requests: {orders}"
    )


def no_order_the_app_lost_track_of(world: World) -> None:
    """Once all is quiet, every order the store holds is one the app has as placed."""
    orders = world.http[HOST].state.orders if HOST in world.http else []
    ours = world.group("pet_orders")
    for order in orders:
        status = ours.get(order["requestId"], {}).get("status")
        assert status == "placed", (
            f"the store holds order {order['id']} for {order['requestId']}, which the app has "
            f"as {status!r}"
        )


@scenario(
    http=fakes_module.fakes,
    invariants=[each_request_placed_at_most_once, no_order_the_app_lost_track_of],
)
async def order_a_pet(h: Any) -> None:
    for _ in range(5):  # a client retries a 5xx (under faults the api step can crash)
        response = await h.post("/pet-orders", json={"petId": 7, "quantity": 1, "customer": "ann"})
        if response.status_code < 500:
            break
        await h.advance(1)
    assert response.status_code == 202, response.text
    request_id = response.json()["requestId"]
    await h.settle()
    if h.fault_free:
        placed = await h.get(f"/pet-orders/{request_id}")
        assert placed.json()["status"] == "placed"
