import time
from typing import Any

config = {"type": "cron", "name": "ExpireHolds", "cron": "*/5 * * * *", "emits": []}

HOLD_SECONDS = 3600


async def handler(context: Any) -> None:
    now = time.time()
    for reservation in await context.state.get_group("reservations"):
        if reservation["status"] == "held" and now - reservation["heldAt"] >= HOLD_SECONDS:
            await context.state.set(
                "reservations", reservation["id"], {**reservation, "status": "expired"}
            )
            await context.services.seats.release(reservation["seat"], reservation["id"])
