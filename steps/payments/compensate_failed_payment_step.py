"""CompensateFailedPayment: undo a declined order (release stock, tell the customer)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..models import InventoryRelease, NotificationRequest, PaymentFailed
from ..state_groups import ORDER_STATUS

if TYPE_CHECKING:
    from motia_rt import EventConfig, FlowContext

config: EventConfig = {
    "type": "event",
    "name": "CompensateFailedPayment",
    "description": "Release the reservation of a declined order and notify the customer",
    "subscribes": ["payment.failed"],
    "emits": ["inventory.release", "notification.send"],
    "input": PaymentFailed,
    "flows": ["orders"],
}


async def handler(failed: PaymentFailed, context: FlowContext) -> None:
    release = InventoryRelease(orderId=failed.orderId, reason="payment_failed")
    await context.emit({"topic": "inventory.release", "data": release})
    note = NotificationRequest(
        to=failed.email,
        template="payment_failed",
        data={"orderId": failed.orderId, "declineCode": failed.declineCode},
        idempotencyKey=f"{failed.orderId}:payment_failed",
    )
    await context.emit({"topic": "notification.send", "data": note})
    # Status last: once it reads "payment_failed", both compensations have been requested.
    status = {"status": "payment_failed", "declineCode": failed.declineCode}
    await context.state.set(ORDER_STATUS, failed.orderId, status)
    context.logger.info(
        "Payment failed, compensating", {"orderId": failed.orderId, "code": failed.declineCode}
    )
