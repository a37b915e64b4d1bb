from typing import Any

config = {"type": "event", "name": "Receipt", "subscribes": ["payment.captured"], "emits": []}


async def handler(payment: dict[str, Any], context: Any) -> None:
    await context.state.set("receipts", payment["orderId"], payment)
