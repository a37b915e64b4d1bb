from typing import Any

config = {
    "type": "event",
    "name": "CreateShipment",
    "subscribes": ["order.packed"],
    "emits": ["shipment.created"],
    "infrastructure": {"handler": {"timeout": 10}},
}


async def handler(order: dict[str, Any], context: Any) -> None:
    if await context.state.get("shipments", order["orderId"]) is not None:
        return  # already shipped: a redelivery
    label = await context.services.carrier.buy_label(order["orderId"], order["address"])
    await context.services.tracking.watch(label["trackingNumber"])
    await context.state.set("shipments", order["orderId"], label)
    await context.emit("shipment.created", label)
