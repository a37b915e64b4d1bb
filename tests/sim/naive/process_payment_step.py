"""A deliberately naive ProcessPayment: it charges with a fresh idempotency key on every delivery,
so a redelivered ``order.priced`` charges the order again. Kept out of ``steps/`` on purpose: the
fuzzer must find the double charge and shrink it to a single fault."""

from __future__ import annotations

import uuid
from typing import Any

from ..models import OrderPriced

config = {
    "type": "event",
    "name": "ProcessPayment",
    "subscribes": ["order.priced"],
    "emits": ["payment.succeeded", "payment.failed"],
    "input": OrderPriced,
    "infrastructure": {"handler": {"timeout": 10}, "queue": {"maxRetries": 3}},
    "flows": ["orders"],
}


async def handler(order: OrderPriced, context: Any) -> None:
    charge = await context.services.payments.charge(
        order.orderId, order.total, order.paymentMethod, idempotency_key=uuid.uuid4().hex
    )
    await context.state.set("payments", order.orderId, {**charge, "email": order.email})
    topic = "payment.succeeded" if charge["status"] == "succeeded" else "payment.failed"
    data = {"orderId": order.orderId, "email": order.email, "chargeId": charge["chargeId"]}
    if charge["status"] == "succeeded":
        data["amount"] = charge["amount"]
    else:
        data["declineCode"] = charge.get("declineCode")
    await context.emit({"topic": topic, "data": data, "messageGroupId": order.orderId})
