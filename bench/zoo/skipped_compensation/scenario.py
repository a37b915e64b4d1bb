"""Two trips, one paid and one with a declined card: no room may stay held without payment."""

from typing import Any

from motia_sim import World, eventually, scenario

TRIPS = [
    {"tripId": "t-1", "nights": 2, "amount": 300, "card": "pm_visa"},
    {"tripId": "t-2", "nights": 1, "amount": 150, "card": "pm_declined"},
]


@eventually
def no_unpaid_room_held(world: World) -> None:
    hotel, cards = world.services["hotel"], world.services["cards"]
    unpaid = [trip for trip in hotel.holds if not cards.paid(trip)]
    assert not unpaid, f"rooms held without payment or release: {unpaid}"


@scenario(invariants=[no_unpaid_room_held], steps="steps", modes=("sim", "fuzz"))
async def two_trips(h: Any) -> None:
    for trip in TRIPS:
        await h.emit("trip.requested", trip)
    await h.settle()
