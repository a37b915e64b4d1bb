from typing import Any

config = {
    "type": "event",
    "name": "OrderView",
    "subscribes": ["order.placed", "order.paid"],
    "emits": [],
}


async def handler(event: dict[str, Any], context: Any) -> None:
    order_id = event["orderId"]
    if event["type"] == "placed":
        view = {"orderId": order_id, "items": event["items"], "status": "placed"}
    else:
        view = {**(await context.state.get("orders", order_id) or {}), "status": "paid"}
    await context.state.set("orders", order_id, view)
