"""CreateOrder: ``POST /orders`` accepts an order and starts the saga with ``order.created``."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import TYPE_CHECKING, Any

from ..models import CreateOrderBody, ErrorBody, OrderAccepted, OrderEvent
from ..state_groups import ORDERS
from .order_view import order_status

if TYPE_CHECKING:
    from motia_rt import ApiConfig, ApiRequest, FlowContext

config: ApiConfig = {
    "type": "api",
    "name": "CreateOrder",
    "description": "Accept an order and start the order saga",
    "path": "/orders",
    "method": "POST",
    "bodySchema": CreateOrderBody,
    "responseSchema": {202: OrderAccepted, 400: ErrorBody, 409: ErrorBody},
    "emits": ["order.created"],
    "flows": ["orders"],
}


def _order_id_for_key(email: str, key: str) -> str:
    # Derived, not looked up: two concurrent submissions with one key agree on the id without a
    # lock. Scoped by e-mail, as a payment provider scopes keys by account.
    return "ord_" + hashlib.sha256(f"{email.lower()}\n{key}".encode()).hexdigest()[:24]


def _fingerprint(body: CreateOrderBody) -> str:
    items = sorted((i.sku, i.quantity) for i in body.items)
    text = json.dumps([body.email.lower(), items, body.paymentMethod])
    return hashlib.sha256(text.encode()).hexdigest()


async def handler(req: ApiRequest, context: FlowContext) -> dict[str, Any]:
    body: CreateOrderBody = req.body
    unknown = await context.services.catalog.unknown_skus(i.sku for i in body.items)
    if unknown:
        return {"status": 400, "body": {"error": f"unknown sku(s): {', '.join(unknown)}"}}

    key = body.clientOrderId or req.headers.get("idempotency-key")
    if key:
        order_id = _order_id_for_key(body.email, key)
        existing = await context.state.get(ORDERS, order_id)
        if existing is not None:
            if existing["fingerprint"] != _fingerprint(body):
                error = f"idempotency key {key!r} was already used for a different order"
                return {"status": 409, "body": {"error": error}}
            context.logger.info("Duplicate submission", {"orderId": order_id, "key": key})
            status = await order_status(context.state, order_id)
            accepted = OrderAccepted(orderId=order_id, status=status, traceId=existing["traceId"])
            return {"status": 202, "body": accepted, "headers": {"idempotent-replayed": "true"}}
    else:
        # uuid.uuid4 looked up at call time, so the simulator's deterministic uuid4 applies.
        order_id = "ord_" + uuid.uuid4().hex

    event = OrderEvent(
        orderId=order_id, email=body.email, items=body.items, paymentMethod=body.paymentMethod
    ).model_dump(mode="json")
    # Emit before storing. If the process dies in between, the client's retry finds no order and
    # emits again, which downstream steps absorb (they are idempotent per orderId). Storing first
    # would let that retry answer 202 for a saga that never started.
    await context.emit({"topic": "order.created", "data": event})
    record = {
        **event,
        "clientOrderId": key,
        # What a later submission with the same key is compared with (no key: nothing to compare).
        "fingerprint": _fingerprint(body) if key else None,
        "traceId": context.trace_id,
    }
    await context.state.set(ORDERS, order_id, record)
    context.logger.info("Order created", {"orderId": order_id, "items": len(body.items)})
    accepted = OrderAccepted(orderId=order_id, status="pending", traceId=context.trace_id)
    return {"status": 202, "body": accepted}
