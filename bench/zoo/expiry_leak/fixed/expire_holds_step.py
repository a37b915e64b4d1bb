import time
from typing import Any

config = {"type": "cron", "name": "ExpireHolds", "cron": "*/5 * * * *", "emits": []}

HOLD_SECONDS = 3600


async def handler(context: Any) -> None:
    now = time.time()
    for reservation in await context.state.get_group("reservations"):
        if reservation["status"] == "held" and now - reservation["heldAt"] >= HOLD_SECONDS:
            # Side effect first, status after: if the release fails, the reservation is still
            # held and the next tick retries it.
            await context.services.seats.release(reservation["seat"], reservation["id"])
            await context.state.set(
                "reservations", reservation["id"], {**reservation, "status": "expired"}
            )
