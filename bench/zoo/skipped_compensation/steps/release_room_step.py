from typing import Any

config = {
    "type": "event",
    "name": "ReleaseRoom",
    "subscribes": ["payment.declined"],
    "emits": [],
}


async def handler(declined: dict[str, Any], context: Any) -> None:
    await context.services.hotel.release(declined["tripId"])
    await context.state.delete("holds", declined["tripId"])
