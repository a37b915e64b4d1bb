"""What a step expects of each service: the contract an override passed as
``services={"payments": obj}`` must meet. Every method is async and must be idempotent by the key
named in its docstring, because steps call them again when a message is redelivered."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

__all__ = [
    "CatalogService",
    "HealthService",
    "NotifierService",
    "PaymentsService",
    "RiskService",
]

Items = Iterable[Mapping[str, Any]]


class CatalogService(Protocol):
    async def unknown_skus(self, skus: Iterable[str]) -> list[str]: ...

    async def price(self, items: Items) -> float: ...

    async def reserve(self, order_id: str, items: Items) -> dict[str, Any]:
        """Key: ``order_id``. ``status`` "reserved" or "insufficient" (with ``shortages``)."""
        ...

    async def release(self, order_id: str) -> dict[str, Any]:
        """Key: ``order_id``."""
        ...

    async def commit(self, order_id: str) -> dict[str, Any]:
        """Key: ``order_id``. ``status`` "shipped" or "already_shipped" when it shipped."""
        ...


class PaymentsService(Protocol):
    async def charge(
        self, order_id: str, amount: float, payment_method: str, idempotency_key: str
    ) -> dict[str, Any]:
        """Key: ``idempotency_key``. ``status`` "succeeded" or "declined", ``chargeId``,
        ``declineCode``."""
        ...

    async def refund(self, order_id: str, idempotency_key: str) -> dict[str, Any]:
        """Key: ``idempotency_key``. ``status`` "refunded" or "nothing_to_refund"."""
        ...


class RiskService(Protocol):
    async def score(self, order: Mapping[str, Any]) -> dict[str, Any]:
        """``{"score", "decision": "approve" | "block", "reasons"}``; need not be deterministic
        (the step stores the first assessment and reuses it on redelivery)."""
        ...


class NotifierService(Protocol):
    async def send(
        self, to: str, template: str, data: Mapping[str, Any], idempotency_key: str
    ) -> dict[str, Any]:
        """Key: ``idempotency_key``. ``{"messageId", "status": "sent" | "duplicate"}``."""
        ...


class HealthService(Protocol):
    async def probe(self) -> dict[str, Any]:
        """``{"ok": bool, "latencyMs": float}``."""
        ...
