"""A step in ``src/``, found beside ``steps/``: records each reminder sent."""

from typing import Any

from motia import FlowContext, queue, stateManager

config = {
    "name": "SendReminder",
    "flows": ["loans"],
    "triggers": [queue("loan.reminder")],
}


async def handler(reminder: dict[str, Any], ctx: FlowContext[Any]) -> None:
    stateManager.set(
        "reminders", reminder["id"], {"member": reminder["member"], "trace": ctx.trace_id}
    )
