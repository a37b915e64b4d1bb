import uuid
from typing import Any

config = {
    "type": "event",
    "name": "Charge",
    "subscribes": ["checkout.confirmed"],
    "emits": ["payment.captured"],
}


async def handler(order: dict[str, Any], context: Any) -> None:
    charge = await context.services.cards.charge(
        order["orderId"], order["total"], idempotency_key=uuid.uuid4().hex
    )
    await context.emit("payment.captured", {"orderId": order["orderId"], **charge})
