"""The state groups of the saga, each keyed by order id.

Each group has one writing step, and each write stores a value that is the same on every
redelivery (services are idempotent, risk reuses its first answer), so repeated or concurrent
runs never lose an update. No step does read-modify-write on another step's key. An order's
status is derived (``orders/order_view.py``): ``order_status`` if a terminal step wrote it,
otherwise "pending".
"""

from __future__ import annotations

__all__ = ["HEALTH", "ORDERS", "ORDER_STATUS", "PAYMENTS", "PRICING", "RESERVATIONS", "RISK"]

ORDERS = "orders"
"""CreateOrder: the order as submitted (orderId, email, items, paymentMethod, traceId, ...)."""
RESERVATIONS = "reservations"
"""ReserveInventory: the catalogue's reservation result (status "reserved" | "insufficient")."""
PRICING = "pricing"
"""CalculatePrice: ``{"orderId", "total", "currency"}``."""
PAYMENTS = "payments"
"""ProcessPayment: the charge result plus ``email`` (status "succeeded" | "declined")."""
RISK = "risk"
"""RiskAnalysis: ``{"orderId", "email", "score", "decision", "reasons"}``."""
ORDER_STATUS = "order_status"
"""The terminal status, written only by the step that ends the saga: RejectOrder ("rejected"),
CompensateFailedPayment ("payment_failed") or Fulfillment ("shipped" | "blocked"). At most one of
them can act on an order, because each acts on an outcome the others exclude."""
HEALTH = "health"
"""ApiHealthCheck: key "api", the last probe result."""
