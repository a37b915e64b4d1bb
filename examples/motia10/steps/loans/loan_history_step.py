"""Every change of a loan's status, kept as its history (a state trigger)."""

from typing import Any

from motia import FlowContext, StateTriggerInput, state, stateManager


def status_changed(change: StateTriggerInput, ctx: FlowContext[Any]) -> bool:
    old = (change.old_value or {}).get("status")
    new = (change.new_value or {}).get("status")
    return change.group_id == "loans" and old != new


config = {
    "name": "LoanHistory",
    "flows": ["loans"],
    "triggers": [state(condition=status_changed)],
}


def handler(change: StateTriggerInput, ctx: FlowContext[Any]) -> None:
    old = (change.old_value or {}).get("status", "none")
    new = (change.new_value or {}).get("status", "deleted")
    history = stateManager.get("history", change.item_id) or []
    stateManager.set("history", change.item_id, [*history, f"{old}->{new}"])
