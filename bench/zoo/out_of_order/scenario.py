"""Two orders placed and paid a second later: both views must end up paid."""

from typing import Any

from motia_sim import World, eventually, scenario

ORDERS = ["o-1", "o-2"]


@eventually
def paid_orders_show_paid(world: World) -> None:
    views = world.group("orders")
    for order_id in ORDERS:
        view = views.get(order_id)
        status = view.get("status") if isinstance(view, dict) else None
        assert status == "paid", f"order {order_id} was paid but its view says {view}"


@scenario(invariants=[paid_orders_show_paid], steps="steps", modes=("sim", "fuzz"))
async def placed_then_paid(h: Any) -> None:
    for order_id in ORDERS:
        placed = {
            "type": "placed",
            "orderId": order_id,
            "items": [{"sku": "sku-pen", "quantity": 2}],
        }
        await h.emit("order.placed", placed, group_id=order_id)
    await h.advance(1)
    for order_id in ORDERS:
        await h.emit("order.paid", {"type": "paid", "orderId": order_id}, group_id=order_id)
    await h.settle()
