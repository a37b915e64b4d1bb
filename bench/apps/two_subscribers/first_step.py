"""One of two no-op subscribers of the same topic: the engine fans each message out to both."""

from typing import Any

config = {
    "type": "event",
    "name": "FirstPing",
    "subscribes": ["bench.ping"],
    "emits": [],
    "flows": ["bench"],
}


async def handler(input_data: Any, context: Any) -> None:
    return None
