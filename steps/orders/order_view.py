"""The order as ``GET /orders/:orderId`` shows it, assembled from each step's own state group."""

from __future__ import annotations

from typing import Any, Protocol, cast

from ..models import OrderStatus, OrderView
from ..state_groups import ORDER_STATUS, ORDERS, PAYMENTS, PRICING, RESERVATIONS, RISK

__all__ = ["StateReader", "load_order_view", "order_status"]


class StateReader(Protocol):
    async def get(self, group: str, key: str) -> Any: ...


async def order_status(state: StateReader, order_id: str) -> OrderStatus:
    """The terminal status once a step ended the saga, else "pending"."""
    record = await state.get(ORDER_STATUS, order_id)
    return cast(OrderStatus, record["status"]) if record else "pending"


async def load_order_view(state: StateReader, order_id: str) -> OrderView | None:
    """None when no order has this id."""
    order = await state.get(ORDERS, order_id)
    if order is None:
        return None
    detail = await state.get(ORDER_STATUS, order_id)
    pricing = await state.get(PRICING, order_id)
    return OrderView(
        orderId=order_id,
        status=cast(OrderStatus, detail["status"]) if detail else "pending",
        statusDetail=detail,
        email=order["email"],
        items=order["items"],
        paymentMethod=order["paymentMethod"],
        total=pricing["total"] if pricing else None,
        currency=pricing["currency"] if pricing else None,
        reservation=await state.get(RESERVATIONS, order_id) or "pending",
        payment=await state.get(PAYMENTS, order_id) or "pending",
        risk=await state.get(RISK, order_id) or "pending",
        traceId=order["traceId"],
    )
