"""Pydantic models of the order saga: the request body, every event payload, the responses.

Field names are camelCase because they are the JSON the API and the topics carry.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

__all__ = [
    "TERMINAL_STATUSES",
    "ApiDegraded",
    "CreateOrderBody",
    "ErrorBody",
    "FulfillmentShipped",
    "InventoryInsufficient",
    "InventoryRelease",
    "InventoryReleased",
    "NotificationRequest",
    "NotificationSent",
    "OrderAccepted",
    "OrderEvent",
    "OrderItem",
    "OrderPriced",
    "OrderStatus",
    "OrderView",
    "PaymentFailed",
    "PaymentSucceeded",
    "RiskAssessed",
    "Shortage",
]

OrderStatus = Literal["pending", "rejected", "payment_failed", "shipped", "blocked"]
TERMINAL_STATUSES: tuple[OrderStatus, ...] = ("rejected", "payment_failed", "shipped", "blocked")


class OrderItem(BaseModel):
    sku: str = Field(min_length=1, max_length=64)
    quantity: int = Field(ge=1, le=1000)


class CreateOrderBody(BaseModel):
    """``POST /orders``. ``clientOrderId`` (or an ``Idempotency-Key`` header) makes a retried
    submission return the first order instead of starting a second saga."""

    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)
    items: list[OrderItem] = Field(min_length=1, max_length=100)
    paymentMethod: str = Field(default="pm_card_visa", min_length=1, max_length=64)
    clientOrderId: str | None = Field(default=None, min_length=1, max_length=128)


class OrderEvent(BaseModel):
    """``order.created`` and ``inventory.reserved``: the order as later steps need it."""

    orderId: str
    email: str
    items: list[OrderItem]
    paymentMethod: str


class OrderPriced(OrderEvent):
    total: float
    currency: str = "USD"


class Shortage(BaseModel):
    sku: str
    requested: int
    available: int


class InventoryInsufficient(BaseModel):
    orderId: str
    email: str
    shortages: list[Shortage]


class PaymentSucceeded(BaseModel):
    orderId: str
    email: str
    chargeId: str
    amount: float


class PaymentFailed(BaseModel):
    orderId: str
    email: str
    chargeId: str | None = None
    declineCode: str | None = None


class RiskAssessed(BaseModel):
    """``risk.assessed`` (always) and ``order.flagged`` (when blocked)."""

    orderId: str
    email: str
    score: float
    decision: Literal["approve", "block"]
    reasons: list[str]


class FulfillmentShipped(BaseModel):
    orderId: str
    chargeId: str


class InventoryRelease(BaseModel):
    orderId: str
    reason: Literal["payment_failed", "blocked"]


class InventoryReleased(BaseModel):
    orderId: str
    status: str


class NotificationRequest(BaseModel):
    to: str
    template: str
    data: dict[str, Any] = {}
    idempotencyKey: str


class NotificationSent(BaseModel):
    to: str
    template: str
    idempotencyKey: str
    messageId: str
    duplicate: bool


class ApiDegraded(BaseModel):
    latencyMs: float
    reason: str


class OrderAccepted(BaseModel):
    orderId: str
    status: OrderStatus
    traceId: str


class OrderView(BaseModel):
    """``GET /orders/:orderId``: the order with what each saga step recorded so far."""

    orderId: str
    status: OrderStatus
    statusDetail: dict[str, Any] | None = None
    email: str
    items: list[OrderItem]
    paymentMethod: str
    total: float | None = None
    currency: str | None = None
    reservation: dict[str, Any] | Literal["pending"]
    payment: dict[str, Any] | Literal["pending"]
    risk: dict[str, Any] | Literal["pending"]
    traceId: str


class ErrorBody(BaseModel):
    error: str
