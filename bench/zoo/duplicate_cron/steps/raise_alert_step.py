from typing import Any

config = {"type": "event", "name": "RaiseAlert", "subscribes": ["alert.raised"], "emits": []}


async def handler(alert: dict[str, Any], context: Any) -> None:
    await context.state.set("pending_alerts", alert["alertId"], alert)
