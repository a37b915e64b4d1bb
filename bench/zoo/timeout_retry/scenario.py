"""Two packed orders: each gets exactly one shipping label."""

from collections import Counter
from typing import Any

from motia_sim import World, always, scenario


@always
def one_label_per_order(world: World) -> None:
    labels = Counter(label["orderId"] for label in world.services["carrier"].labels)
    extra = {order: n for order, n in labels.items() if n > 1}
    assert not extra, f"orders with more than one label bought: {extra}"


@scenario(invariants=[one_label_per_order], steps="steps", modes=("sim", "fuzz"))
async def two_packed_orders(h: Any) -> None:
    await h.emit("order.packed", {"orderId": "o-1", "address": "1 Main St"})
    await h.emit("order.packed", {"orderId": "o-2", "address": "9 Elm St"})
    await h.settle()
