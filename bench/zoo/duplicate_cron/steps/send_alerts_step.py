from typing import Any

config = {"type": "cron", "name": "SendAlerts", "cron": "0 * * * *", "emits": []}


async def handler(context: Any) -> None:
    for alert in await context.state.get_group("pending_alerts"):
        await context.state.delete("pending_alerts", alert["alertId"])  # claim it
        await context.services.pager.page(alert["alertId"], alert["text"])
