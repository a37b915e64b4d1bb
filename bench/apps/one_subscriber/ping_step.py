"""A no-op subscriber: what the engine costs per delivery, with nothing else in the way."""

from typing import Any

config = {
    "type": "event",
    "name": "Ping",
    "subscribes": ["bench.ping"],
    "emits": [],
    "flows": ["bench"],
}


async def handler(input_data: Any, context: Any) -> None:
    return None
