"""ReleaseInventory: return a reservation's units to stock (payment failed or order blocked).

Written in Motia's plain-dict style: ``input`` is a JSON Schema, so the handler gets a dict.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..models import InventoryRelease

if TYPE_CHECKING:
    from motia_rt import EventConfig, FlowContext

config: EventConfig = {
    "type": "event",
    "name": "ReleaseInventory",
    "description": "Return an order's reserved units to stock",
    "subscribes": ["inventory.release"],
    "emits": ["inventory.released"],
    "input": InventoryRelease.model_json_schema(),
    "flows": ["orders"],
}


async def handler(input_data: dict[str, Any], context: FlowContext) -> None:
    order_id = input_data.get("orderId")
    # Idempotent in the catalogue: a second release, or a release after shipping, changes nothing
    # and says so in the status.
    result = await context.services.catalog.release(order_id)
    await context.emit(
        {"topic": "inventory.released", "data": {"orderId": order_id, "status": result["status"]}}
    )
    context.logger.info(
        "Inventory released",
        {"orderId": order_id, "reason": input_data.get("reason"), "status": result["status"]},
    )
