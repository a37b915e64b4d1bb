from typing import Any

config = {
    "type": "event",
    "name": "Charge",
    "subscribes": ["checkout.confirmed"],
    "emits": ["payment.captured"],
}


async def handler(order: dict[str, Any], context: Any) -> None:
    # One key per order: a redelivery gets the first charge back instead of a second one.
    charge = await context.services.cards.charge(
        order["orderId"], order["total"], idempotency_key=order["orderId"]
    )
    await context.emit("payment.captured", {"orderId": order["orderId"], **charge})
