from typing import Any

config = {"type": "cron", "name": "SendAlerts", "cron": "0 * * * *", "emits": []}


async def handler(context: Any) -> None:
    for alert in await context.state.get_group("pending_alerts"):
        # delete returns what it removed: None means another instance claimed it first.
        if await context.state.delete("pending_alerts", alert["alertId"]) is None:
            continue
        await context.services.pager.page(alert["alertId"], alert["text"])
