"""Every hour, remind members of approved loans (once each), unless sweeps are paused."""

from typing import Any

from motia import FlowContext, cron, enqueue, logger, stateManager


def not_paused(input: Any, ctx: FlowContext[Any]) -> bool:
    return not stateManager.get("settings", "sweep-paused")


config = {
    "name": "OverdueSweep",
    "flows": ["loans"],
    "triggers": [cron("0 * * * *", condition=not_paused)],
    "enqueues": ["loan.reminder"],
}


def handler(input: Any, ctx: FlowContext[Any]) -> None:
    reminded = 0
    for loan in stateManager.list("loans"):
        if loan["status"] == "approved" and not loan.get("reminded"):
            stateManager.set("loans", loan["id"], {**loan, "reminded": True})
            enqueue(
                {"topic": "loan.reminder", "data": {"id": loan["id"], "member": loan["member"]}}
            )
            reminded += 1
    logger.info("sweep done", {"reminded": reminded, "cron": ctx.trigger.expression})
