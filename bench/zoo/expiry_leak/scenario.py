"""Two seat holds: one paid after ten minutes, one abandoned. Two hours later no seat may still
be blocked by a reservation that is not live."""

from typing import Any

from motia_sim import World, eventually, scenario


@eventually
def no_seat_blocked_by_a_dead_reservation(world: World) -> None:
    reservations = world.group("reservations")
    for seat, rid in world.services["seats"].holders.items():
        reservation = reservations.get(rid)
        status = reservation.get("status") if isinstance(reservation, dict) else None
        assert status in ("held", "confirmed"), f"{seat} blocked by reservation {rid} ({status})"


@scenario(invariants=[no_seat_blocked_by_a_dead_reservation], steps="steps", modes=("sim", "fuzz"))
async def paid_and_abandoned_holds(h: Any) -> None:
    await h.emit("seat.requested", {"reservationId": "r-1", "seat": "12A"})
    await h.emit("seat.requested", {"reservationId": "r-2", "seat": "12B"})
    await h.advance(600)
    await h.emit("payment.received", {"reservationId": "r-1"})
    await h.advance(2 * 3600)
    await h.settle()
