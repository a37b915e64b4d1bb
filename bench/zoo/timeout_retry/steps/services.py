"""Fakes for a shipping carrier (labels cost money; an idempotency key returns the first label)
and a tracking service (webhook registration)."""

from typing import Any


class Carrier:
    def __init__(self) -> None:
        self.labels: list[dict[str, Any]] = []
        self._by_key: dict[str, dict[str, Any]] = {}

    async def buy_label(
        self, order_id: str, address: str, idempotency_key: str | None = None
    ) -> dict[str, Any]:
        if idempotency_key is not None and idempotency_key in self._by_key:
            return self._by_key[idempotency_key]
        label = {"orderId": order_id, "trackingNumber": f"1Z{len(self.labels) + 1:06d}"}
        self.labels.append(label)
        if idempotency_key is not None:
            self._by_key[idempotency_key] = label
        return label


class Tracking:
    def __init__(self) -> None:
        self.watched: set[str] = set()

    async def watch(self, tracking_number: str) -> None:
        self.watched.add(tracking_number)


def default_services() -> dict[str, Any]:
    return {"carrier": Carrier(), "tracking": Tracking()}
