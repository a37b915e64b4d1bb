"""RejectOrder: an order the stock cannot cover ends "rejected", and the customer is told."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import InventoryInsufficient, NotificationRequest
from ..state_groups import ORDER_STATUS

if TYPE_CHECKING:
    from motia_rt import EventConfig, FlowContext

config: EventConfig = {
    "type": "event",
    "name": "RejectOrder",
    "description": "End an order the stock cannot cover and notify the customer",
    "subscribes": ["inventory.insufficient"],
    "emits": ["notification.send"],
    "input": InventoryInsufficient,
    "flows": ["orders"],
}


async def handler(event: InventoryInsufficient, context: FlowContext) -> None:
    shortages = [s.model_dump() for s in event.shortages]
    note = NotificationRequest(
        to=event.email,
        template="order_rejected",
        data={"orderId": event.orderId, "shortages": shortages},
        idempotencyKey=f"{event.orderId}:order_rejected",
    )
    await context.emit({"topic": "notification.send", "data": note})
    # Status last: once it reads "rejected", every follow-up has been requested.
    status = {"status": "rejected", "reason": "insufficient_stock", "shortages": shortages}
    await context.state.set(ORDER_STATUS, event.orderId, status)
    context.logger.info("Order rejected", {"orderId": event.orderId, "shortages": shortages})
