"""A card gateway fake: records every charge; a repeated idempotency key returns the first charge."""

from typing import Any


class CardGateway:
    def __init__(self) -> None:
        self.charges: list[dict[str, Any]] = []
        self._by_key: dict[str, dict[str, Any]] = {}

    async def charge(self, order_id: str, amount: int, idempotency_key: str) -> dict[str, Any]:
        if idempotency_key in self._by_key:
            return self._by_key[idempotency_key]
        charge = {"chargeId": f"ch_{len(self.charges) + 1}", "orderId": order_id, "amount": amount}
        self.charges.append(charge)
        self._by_key[idempotency_key] = charge
        return charge


def default_services() -> dict[str, Any]:
    return {"cards": CardGateway()}
