"""Fulfillment: the join of payment and risk, which run in parallel. Ships an approved, paid
order; refunds and releases a paid order that risk blocked.

Subscribes to both ``payment.succeeded`` and ``risk.assessed`` and decides from state, not from
the event: ProcessPayment and RiskAnalysis store their result before they emit, so whichever event
arrives second finds both results stored; the first finds one missing and waits for the other.

Exactly-once in the normal run, at-least-once under crashes: the queue is FIFO and both emitters
set ``messageGroupId`` to the order id, so one order's events run here one at a time; the run
that acts writes the terminal status last, and later runs that find it do nothing. A crash before
that write makes the redelivery act again, which is safe because every action is idempotent
(catalog.commit and payments.refund by order, notifications by key). Correctness does not rest on
the FIFO queue, only the absence of duplicate events does.

Plain-dict style: ``input`` is a JSON Schema, because two topics with different payloads arrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..models import FulfillmentShipped, InventoryRelease, NotificationRequest
from ..state_groups import ORDER_STATUS, PAYMENTS, RISK

if TYPE_CHECKING:
    from motia_rt import EventConfig, FlowContext

config: EventConfig = {
    "type": "event",
    "name": "Fulfillment",
    "description": "Ship once paid and approved; refund and release once paid and blocked",
    "subscribes": ["payment.succeeded", "risk.assessed"],
    "emits": ["fulfillment.shipped", "inventory.release", "notification.send"],
    "input": {
        "type": "object",
        "properties": {"orderId": {"type": "string", "minLength": 1}},
        "required": ["orderId"],
    },
    "infrastructure": {"queue": {"type": "fifo"}},
    "flows": ["orders"],
}


async def handler(input_data: dict[str, Any], context: FlowContext) -> None:
    order_id: str = input_data["orderId"]
    done = await context.state.get(ORDER_STATUS, order_id)
    if done is not None:
        # Written last by the run that acted, so everything it requested was already sent.
        context.logger.info("Already decided", {"orderId": order_id, "status": done["status"]})
        return
    payment = await context.state.get(PAYMENTS, order_id)
    risk = await context.state.get(RISK, order_id)
    if payment is None or risk is None:
        waiting = "payment" if payment is None else "risk"
        context.logger.info("Waiting for the other half", {"orderId": order_id, "for": waiting})
        return
    if payment["status"] != "succeeded":
        # Nothing was charged: CompensateFailedPayment releases and notifies.
        context.logger.info("Payment failed; compensation handles it", {"orderId": order_id})
        return
    if risk["decision"] == "approve":
        await _ship(context, order_id, payment)
    else:
        await _block(context, order_id, payment, risk)


async def _ship(context: FlowContext, order_id: str, payment: dict[str, Any]) -> None:
    committed = await context.services.catalog.commit(order_id)
    if committed["status"] not in ("shipped", "already_shipped"):
        # Only a saga bug gets here (released stock must never ship): fail loudly, dead-letter.
        raise RuntimeError(f"cannot ship {order_id}: the reservation is {committed['status']}")
    shipped = FulfillmentShipped(orderId=order_id, chargeId=payment["chargeId"])
    await context.emit({"topic": "fulfillment.shipped", "data": shipped})
    await _notify(context, order_id, payment["email"], "order_shipped", {})
    await context.state.set(
        ORDER_STATUS, order_id, {"status": "shipped", "chargeId": payment["chargeId"]}
    )
    context.logger.info("Order shipped", {"orderId": order_id})


async def _block(
    context: FlowContext, order_id: str, payment: dict[str, Any], risk: dict[str, Any]
) -> None:
    refund = await context.services.payments.refund(order_id, idempotency_key=f"{order_id}:refund")
    release = InventoryRelease(orderId=order_id, reason="blocked")
    await context.emit({"topic": "inventory.release", "data": release})
    await _notify(
        context, order_id, payment["email"], "order_blocked", {"reasons": risk["reasons"]}
    )
    status = {"status": "blocked", "reasons": risk["reasons"], "refundId": refund.get("refundId")}
    await context.state.set(ORDER_STATUS, order_id, status)
    context.logger.info("Order blocked and refunded", {"orderId": order_id, "refund": refund})


async def _notify(
    context: FlowContext, order_id: str, to: str, template: str, data: dict[str, Any]
) -> None:
    note = NotificationRequest(
        to=to, template=template, data={"orderId": order_id, **data},
        idempotencyKey=f"{order_id}:{template}",
    )  # fmt: skip
    await context.emit({"topic": "notification.send", "data": note})
