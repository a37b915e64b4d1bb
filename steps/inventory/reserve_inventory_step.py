"""ReserveInventory: hold stock for a new order, all items or none."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import InventoryInsufficient, OrderEvent
from ..state_groups import RESERVATIONS

if TYPE_CHECKING:
    from motia_rt import EventConfig, FlowContext

config: EventConfig = {
    "type": "event",
    "name": "ReserveInventory",
    "description": "Reserve stock for every item of a new order, or report the shortages",
    "subscribes": ["order.created"],
    "emits": ["inventory.reserved", "inventory.insufficient"],
    "input": OrderEvent,
    "flows": ["orders"],
}


async def handler(order: OrderEvent, context: FlowContext) -> None:
    # The catalogue keys reservations by order id and keeps the first result, so a redelivery
    # (even after the order was released or shipped) gets the same answer and reserves nothing.
    items = [i.model_dump() for i in order.items]
    result = await context.services.catalog.reserve(order.orderId, items)
    await context.state.set(RESERVATIONS, order.orderId, result)
    if result["status"] == "reserved":
        await context.emit({"topic": "inventory.reserved", "data": order})
        context.logger.info("Inventory reserved", {"orderId": order.orderId})
        return
    short = InventoryInsufficient(
        orderId=order.orderId, email=order.email, shortages=result["shortages"]
    )
    await context.emit({"topic": "inventory.insufficient", "data": short})
    context.logger.info(
        "Insufficient stock", {"orderId": order.orderId, "shortages": result["shortages"]}
    )
