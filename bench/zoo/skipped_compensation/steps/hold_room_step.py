from typing import Any

config = {
    "type": "event",
    "name": "HoldRoom",
    "subscribes": ["trip.requested"],
    "emits": ["room.held"],
}


async def handler(trip: dict[str, Any], context: Any) -> None:
    if await context.state.get("holds", trip["tripId"]) is not None:
        return  # already held: this is a redelivery
    hold = await context.services.hotel.hold(trip["tripId"], trip["nights"])
    await context.state.set("holds", trip["tripId"], hold)
    await context.emit("room.held", {**trip, "holdId": hold["holdId"]})
