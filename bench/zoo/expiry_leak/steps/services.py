"""A seat map fake: which reservation holds each seat."""

from typing import Any


class SeatTaken(Exception):
    pass


class SeatMap:
    def __init__(self) -> None:
        self.holders: dict[str, str] = {}
        """Seat -> the reservation holding it."""

    async def hold(self, seat: str, reservation_id: str) -> None:
        holder = self.holders.setdefault(seat, reservation_id)
        if holder != reservation_id:
            raise SeatTaken(f"{seat} is held by {holder}")

    async def release(self, seat: str, reservation_id: str) -> None:
        if self.holders.get(seat) == reservation_id:
            del self.holders[seat]


def default_services() -> dict[str, Any]:
    return {"seats": SeatMap()}
