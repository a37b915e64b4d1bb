import time
from typing import Any

config = {
    "type": "event",
    "name": "HoldSeat",
    "subscribes": ["seat.requested"],
    "emits": [],
}


async def handler(request: dict[str, Any], context: Any) -> None:
    rid = request["reservationId"]
    reservation = await context.state.get("reservations", rid)
    if reservation is None:  # written before the hold, so the expiry cron sees every hold
        reservation = {"id": rid, "seat": request["seat"], "status": "held", "heldAt": time.time()}
        await context.state.set("reservations", rid, reservation)
    if reservation["status"] != "held":
        return  # a late redelivery: the hold expired or was confirmed meanwhile
    await context.services.seats.hold(request["seat"], rid)
