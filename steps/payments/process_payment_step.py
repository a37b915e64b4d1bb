"""ProcessPayment: charge a priced order, once, whatever the number of deliveries."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import OrderPriced, PaymentFailed, PaymentSucceeded
from ..state_groups import PAYMENTS

if TYPE_CHECKING:
    from motia_rt import EventConfig, FlowContext

config: EventConfig = {
    "type": "event",
    "name": "ProcessPayment",
    "description": "Charge the order total with the order id as idempotency key",
    "subscribes": ["order.priced"],
    "emits": ["payment.succeeded", "payment.failed"],
    "input": OrderPriced,
    "infrastructure": {"handler": {"timeout": 10}, "queue": {"maxRetries": 3}},
    "flows": ["orders"],
}


async def handler(order: OrderPriced, context: FlowContext) -> None:
    # Idempotency key = orderId: a redelivery, or a retry after the gateway charged but the reply
    # was lost, gets the first charge back instead of a second one.
    charge = await context.services.payments.charge(
        order.orderId, order.total, order.paymentMethod, idempotency_key=order.orderId
    )
    record = {
        "orderId": order.orderId,
        "email": order.email,
        "chargeId": charge["chargeId"],
        "amount": charge["amount"],
        "status": charge["status"],
        "declineCode": charge.get("declineCode"),
    }
    # Stored before the emit: Fulfillment joins payment and risk through state, and the later of
    # the two events must find both facts stored.
    await context.state.set(PAYMENTS, order.orderId, record)
    if charge["status"] == "succeeded":
        ok = PaymentSucceeded(
            orderId=order.orderId, email=order.email, chargeId=charge["chargeId"],
            amount=charge["amount"],
        )  # fmt: skip
        # The order id as FIFO group: Fulfillment sees one order's events one at a time.
        await context.emit(
            {"topic": "payment.succeeded", "data": ok, "messageGroupId": order.orderId}
        )
    else:
        failed = PaymentFailed(
            orderId=order.orderId, email=order.email, chargeId=charge["chargeId"],
            declineCode=charge.get("declineCode"),
        )  # fmt: skip
        await context.emit(
            {"topic": "payment.failed", "data": failed, "messageGroupId": order.orderId}
        )
    context.logger.info(
        "Payment processed",
        {"orderId": order.orderId, "status": charge["status"], "amount": charge["amount"]},
    )
