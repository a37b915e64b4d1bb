from typing import Any

config = {
    "type": "event",
    "name": "HoldRoom",
    "subscribes": ["trip.requested"],
    "emits": ["room.held"],
}


async def handler(trip: dict[str, Any], context: Any) -> None:
    hold = await context.state.get("holds", trip["tripId"])
    if hold is None:
        hold = await context.services.hotel.hold(trip["tripId"], trip["nights"])
        await context.state.set("holds", trip["tripId"], hold)
    # Emit on every delivery: a run that died before emitting left the saga waiting on this one.
    await context.emit("room.held", {**trip, "holdId": hold["holdId"]})
