from typing import Any

config = {
    "type": "event",
    "name": "OrderView",
    "subscribes": ["order.placed", "order.paid"],
    "emits": [],
    # One order's events one at a time, so the read-modify-write below never interleaves.
    "infrastructure": {"queue": {"type": "fifo"}},
}

RANK = {"placed": 0, "paid": 1}


async def handler(event: dict[str, Any], context: Any) -> None:
    order_id = event["orderId"]
    view = await context.state.get("orders", order_id) or {"orderId": order_id}
    if event["type"] == "placed":
        view["items"] = event["items"]
    # Events may arrive in any order: never move the status backwards.
    if RANK[event["type"]] >= RANK.get(view.get("status", "placed"), 0):
        view["status"] = event["type"]
    await context.state.set("orders", order_id, view)
