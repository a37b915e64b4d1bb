"""CalculatePrice: price a reserved order from the catalogue."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import OrderEvent, OrderPriced
from ..state_groups import PRICING

if TYPE_CHECKING:
    from motia_rt import EventConfig, FlowContext

config: EventConfig = {
    "type": "event",
    "name": "CalculatePrice",
    "description": "Price a reserved order",
    "subscribes": ["inventory.reserved"],
    "emits": ["order.priced"],
    "input": OrderEvent,
    "flows": ["orders"],
}


async def handler(order: OrderEvent, context: FlowContext) -> None:
    total = await context.services.catalog.price([i.model_dump() for i in order.items])
    priced = OrderPriced(**order.model_dump(), total=total, currency="USD")
    await context.state.set(
        PRICING, order.orderId, {"orderId": order.orderId, "total": total, "currency": "USD"}
    )
    await context.emit({"topic": "order.priced", "data": priced})
    context.logger.info("Order priced", {"orderId": order.orderId, "total": total})
