"""Fakes for a hotel (room holds, keyed by trip) and a card gateway (idempotent by key)."""

from typing import Any

DECLINED_CARD = "pm_declined"


class Hotel:
    def __init__(self) -> None:
        self.holds: dict[str, dict[str, Any]] = {}
        """Active holds by trip id."""

    async def hold(self, trip_id: str, nights: int) -> dict[str, Any]:
        # A hotel API takes the booking reference: holding again returns the same hold.
        return self.holds.setdefault(trip_id, {"holdId": f"h-{trip_id}", "nights": nights})

    async def release(self, trip_id: str) -> None:
        self.holds.pop(trip_id, None)


class Cards:
    def __init__(self) -> None:
        self.charges: dict[str, dict[str, Any]] = {}
        """Charges by idempotency key."""

    async def charge(
        self, trip_id: str, amount: int, card: str, idempotency_key: str
    ) -> dict[str, Any]:
        status = "declined" if card == DECLINED_CARD else "succeeded"
        return self.charges.setdefault(
            idempotency_key, {"tripId": trip_id, "amount": amount, "status": status}
        )

    def paid(self, trip_id: str) -> bool:
        return any(
            c["tripId"] == trip_id and c["status"] == "succeeded" for c in self.charges.values()
        )


def default_services() -> dict[str, Any]:
    return {"hotel": Hotel(), "cards": Cards()}
