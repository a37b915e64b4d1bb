"""Two checkouts; the card of each order must be charged once."""

from collections import Counter
from typing import Any

from motia_sim import World, always, scenario


@always
def each_order_charged_once(world: World) -> None:
    charges = Counter(c["orderId"] for c in world.services["cards"].charges)
    twice = {order: n for order, n in charges.items() if n > 1}
    assert not twice, f"orders charged more than once: {twice}"


@scenario(invariants=[each_order_charged_once], steps="steps", modes=("sim", "fuzz"))
async def two_checkouts(h: Any) -> None:
    await h.emit("checkout.confirmed", {"orderId": "o-1", "total": 2500})
    await h.emit("checkout.confirmed", {"orderId": "o-2", "total": 900})
    await h.settle()
    if h.fault_free:
        assert len(h.runs("Receipt")) == 2
