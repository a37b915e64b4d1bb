"""GetOrder: ``GET /orders/:orderId`` shows an order's status and what each step recorded."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..models import ErrorBody, OrderView
from .order_view import load_order_view

if TYPE_CHECKING:
    from motia_rt import ApiConfig, ApiRequest, FlowContext

config: ApiConfig = {
    "type": "api",
    "name": "GetOrder",
    "description": "Show an order, its status and each saga step's result",
    "path": "/orders/:orderId",
    "method": "GET",
    "responseSchema": {200: OrderView, 404: ErrorBody},
    "emits": [],
    "flows": ["orders"],
}


async def handler(req: ApiRequest, context: FlowContext) -> dict[str, Any]:
    order_id = req["pathParams"]["orderId"]
    view = await load_order_view(context.state, order_id)
    if view is None:
        return {"status": 404, "body": {"error": f"order {order_id!r} not found"}}
    return {"status": 200, "body": view}
