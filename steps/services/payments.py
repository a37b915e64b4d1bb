"""A fake payment gateway: idempotent charges and refunds with documented decline rules."""

from __future__ import annotations

import hashlib
from typing import Any

__all__ = ["DECLINED_METHOD", "PaymentGateway", "charge_record", "refund_id"]

DECLINED_METHOD = "pm_card_declined"
"""The payment method that always declines (``declineCode`` "card_declined"), as Stripe's test card."""


def _id(prefix: str, key: str) -> str:
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:16]}"


def refund_id(idempotency_key: str) -> str:
    return _id("re", idempotency_key)


def charge_record(
    order_id: str, amount: float, payment_method: str, idempotency_key: str, limit_cents: int
) -> dict[str, Any]:
    """The charge the decline rules give, as first recorded (``refunded`` False). Every gateway
    implementation builds its records here, so they decide alike."""
    cents = round(amount * 100)
    code = None
    if payment_method == DECLINED_METHOD:
        code = "card_declined"
    elif cents > limit_cents:
        code = "insufficient_funds"
    return {
        "chargeId": _id("ch", idempotency_key),
        "orderId": order_id,
        "amount": cents / 100,
        "paymentMethod": payment_method,
        "status": "declined" if code else "succeeded",
        "declineCode": code,
        "refunded": False,
    }


class PaymentGateway:
    """In-memory fake of the payment gateway. Deterministic, offline, atomic per call.

    Decline rules: ``payment_method == "pm_card_declined"`` declines with "card_declined"; an
    amount over ``limit`` (default 5000.00) declines with "insufficient_funds". Otherwise the
    charge succeeds.

    ``charges`` lists every charge attempt in order (one per idempotency key, declined ones
    included); ``refunds`` every refund. A repeated idempotency key returns the first result and
    records nothing, so a redelivered ``order.priced`` can never charge an order twice.
    """

    def __init__(self, limit: float = 5000.0) -> None:
        self.limit_cents = round(limit * 100)
        self.charges: list[dict[str, Any]] = []
        self.refunds: list[dict[str, Any]] = []
        self._charge_by_key: dict[str, dict[str, Any]] = {}
        self._refund_by_key: dict[str, dict[str, Any]] = {}

    async def charge(
        self, order_id: str, amount: float, payment_method: str, idempotency_key: str
    ) -> dict[str, Any]:
        """Charge ``amount`` USD. Returns ``{"chargeId", "orderId", "amount", "status":
        "succeeded" | "declined", "declineCode": str | None}`` (a copy; the first for this key)."""
        if idempotency_key not in self._charge_by_key:
            record = charge_record(
                order_id, amount, payment_method, idempotency_key, self.limit_cents
            )
            self._charge_by_key[idempotency_key] = record
            self.charges.append(record)
        return dict(self._charge_by_key[idempotency_key])

    async def refund(self, order_id: str, idempotency_key: str) -> dict[str, Any]:
        """Refund the order's succeeded charge. Returns ``{"refundId", "orderId", "chargeId",
        "amount", "status": "refunded"}``, or ``{"orderId", "status": "nothing_to_refund"}`` when
        no unrefunded charge succeeded. Idempotent by key, and a charge is refunded at most once."""
        if idempotency_key not in self._refund_by_key:
            charge = next(
                (c for c in self.charges
                 if c["orderId"] == order_id and c["status"] == "succeeded" and not c["refunded"]),
                None,
            )  # fmt: skip
            if charge is None:
                result: dict[str, Any] = {"orderId": order_id, "status": "nothing_to_refund"}
            else:
                charge["refunded"] = True
                result = {
                    "refundId": refund_id(idempotency_key),
                    "orderId": order_id,
                    "chargeId": charge["chargeId"],
                    "amount": charge["amount"],
                    "status": "refunded",
                }
                self.refunds.append(result)
            self._refund_by_key[idempotency_key] = result
        return dict(self._refund_by_key[idempotency_key])

    def succeeded_charges(self, order_id: str) -> list[dict[str, Any]]:
        """Succeeded charges of one order; the invariant is ``len(...) <= 1``."""
        return [c for c in self.charges if c["orderId"] == order_id and c["status"] == "succeeded"]
